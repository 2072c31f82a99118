package stocklake

// Version is stocklake's release, set at build time with
// -ldflags "-X github.com/stocklake/stocklake.Version=v1.2.3".
var Version = "dev"
