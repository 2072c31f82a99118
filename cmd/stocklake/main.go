// Command stocklake streams stock-market data through Apache Kafka into an
// S3 data lake, catalogs it the way AWS Glue does, queries it with SQL the
// way Athena does, and analyses it live. Run `stocklake demo` to see the
// whole pipeline in one process; `stocklake help` lists the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the process exit code: 0 on
// success, 2 for usage and configuration errors, 1 otherwise.
func run(args []string) int {
	root := rootCommand()
	args = interspersed(root, args)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "stocklake: %v\n", err)
		return 2
	}
	ctx, stop := notifyContext(context.Background())
	defer stop()
	if err := root.Run(ctx); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "stocklake: %v\n", err)
		if errors.Is(err, stocklake.ErrConfig) || errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// shutdownGrace is how long the process may take to stop after its first
// SIGINT or SIGTERM before it exits anyway, with status 1: 15 seconds.
// Commands with a longer shutdown of their own (sink --shutdown-timeout)
// raise it. A second signal exits at once.
var shutdownGrace atomic.Int64

func init() { shutdownGrace.Store(int64(15 * time.Second)) }

// setShutdownGrace makes the process wait at least d after a signal.
func setShutdownGrace(d time.Duration) {
	if int64(d) > shutdownGrace.Load() {
		shutdownGrace.Store(int64(d))
	}
}

// notifyContext returns a context cancelled by the first SIGINT or
// SIGTERM. The command then has shutdownGrace to return; a second signal,
// or the end of the grace, exits the process at once (status 128+signal,
// or 1), whatever it is waiting for.
func notifyContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		grace := time.Duration(shutdownGrace.Load())
		fmt.Fprintf(os.Stderr, "stocklake: %v: shutting down (exiting in %s at most; send it again to exit now)\n", sig, grace)
		cancel()
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case sig = <-sigs:
			fmt.Fprintf(os.Stderr, "stocklake: %v again: exiting now\n", sig)
			os.Exit(signalStatus(sig))
		case <-timer.C:
			fmt.Fprintf(os.Stderr, "stocklake: shutdown took longer than %s; exiting now (what was not written is read again by the next run)\n", grace)
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// signalStatus is the shell's exit status for a process ended by sig.
func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

func rootCommand() *ffcli.Command {
	fs := flag.NewFlagSet("stocklake", flag.ContinueOnError)
	version := fs.Bool("version", false, "print the version and exit")
	cmd := &ffcli.Command{
		Name:       "stocklake",
		ShortUsage: "stocklake <subcommand> [flags]",
		ShortHelp:  "real-time stock-market data on Kafka and an S3 data lake",
		LongHelp: `stocklake streams market data into Apache Kafka, lands it in an S3 (or local)
data lake as partitioned Parquet with exactly-once results, catalogs it like
AWS Glue, queries it with SQL like Athena, and analyses it live.

Start with:  stocklake demo

Every flag can also be set with an environment variable STOCKLAKE_<FLAG>
(upper case, '-' as '_', e.g. STOCKLAKE_BROKERS) or in a YAML file given
with --config. Run 'stocklake <subcommand> --help' for a subcommand's flags.

Ctrl-C or SIGTERM stops a command cleanly within 15 seconds (the sink:
its --shutdown-timeout plus 5 seconds); a second Ctrl-C or SIGTERM, or the
end of that time, exits at once. Nothing is lost: records not written to
the lake are read again by the next run.`,
		FlagSet:   fs,
		UsageFunc: usage,
		Subcommands: []*ffcli.Command{
			demoCommand(),
			brokerCommand(),
			produceCommand(),
			sinkCommand(),
			analyzeCommand(),
			consumeCommand(),
			crawlCommand(),
			compactCommand(),
			verifyCommand(),
			maintainCommand(),
			catalogCommand(),
			queryCommand(),
			sqlCommand(),
			serveCommand(),
		},
		Exec: func(ctx context.Context, args []string) error {
			if *version {
				fmt.Println("stocklake", stocklake.Version)
				return nil
			}
			if len(args) > 0 {
				return fmt.Errorf("unknown subcommand %q; run 'stocklake --help' for the list: %w", args[0], errUsage)
			}
			return flag.ErrHelp
		},
	}
	hintFlags(cmd)
	return cmd
}

// interspersed moves a subcommand's flags before its positional arguments,
// so `stocklake catalog tables --catalog URL` works as users expect (Go's
// flag package stops at the first positional argument).
func interspersed(root *ffcli.Command, args []string) []string {
	if len(args) == 0 {
		return args
	}
	var sub *ffcli.Command
	for _, c := range root.Subcommands {
		if c.Name == args[0] {
			sub = c
		}
	}
	if sub == nil {
		return args
	}
	var flags, positional []string
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := sub.FlagSet.Lookup(name)
		if f == nil {
			continue // flag.Parse reports it
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(rest) {
			flags = append(flags, rest[i+1])
			i++
		}
	}
	out := append([]string{args[0]}, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}
