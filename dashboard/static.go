package dashboard

import (
	"embed"
	"io/fs"
	nethttp "net/http"
	"path"
	"strings"
)

// The app, built by web/build.mjs (npm ci && npm run build in web/).
//
//go:embed web/dist
var distFS embed.FS

//go:embed openapi.yaml
var openapiYAML []byte

var dist, _ = fs.Sub(distFS, "web/dist")

// static serves the app's files; every other path gets index.html so the
// app's own routes (#/...) work on reload.
func (s *Server) static(w nethttp.ResponseWriter, r *nethttp.Request) {
	if r.Method != nethttp.MethodGet && r.Method != nethttp.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, nethttp.StatusMethodNotAllowed, r.Method+" is not allowed here")
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	if _, err := fs.Stat(dist, name); err != nil {
		name = "index.html"
	}
	if name == "index.html" {
		w.Header().Set("Cache-Control", "no-cache")
	}
	nethttp.ServeFileFS(w, r, dist, name)
}
