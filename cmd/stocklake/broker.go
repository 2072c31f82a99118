package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/metrics"
	"github.com/stocklake/stocklake/kafka"
)

func brokerCommand() *ffcli.Command {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	listen := fs.String("listen", kafka.DefaultListen, "address to listen on, host:port (port 0 picks a free one)")
	dataDir := fs.String("data", filepath.Join(defaultDataDir, "kafka"), `directory that keeps topics and committed offsets across restarts; "" keeps them in memory`)
	partitions := fs.Int("partitions", kafka.DefaultPartitions, "partitions of auto-created topics")
	syncWrites := fs.Bool("sync", false, "fsync every produced batch (slower; survives power loss)")
	allowRemote := fs.Bool("allow-remote", false, "allow --listen on an address other than loopback: the broker has no authentication or TLS, so anyone who reaches it can read and write every topic")
	var lf logFlags
	lf.register(fs)
	return newCommand("broker", "stocklake broker [--listen ADDR] [--data DIR]",
		"run an embedded Kafka-protocol broker",
		`Runs an embedded, single-node Kafka-protocol broker (franz-go's kfake) with
topics, consumer groups, idempotent and transactional producers. Data and
committed offsets persist in --data. For development and tests; use Apache
Kafka or Amazon MSK in production. Stops cleanly on Ctrl-C or SIGTERM.

It has no authentication or TLS: --listen must be a loopback address unless
--allow-remote is given.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("broker", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			if err := checkBrokerListen(*listen, *allowRemote); err != nil {
				return err
			}
			b, err := kafka.StartBroker(kafka.BrokerConfig{Listen: *listen, DataDir: *dataDir, Partitions: *partitions, SyncWrites: *syncWrites})
			if err != nil {
				return err
			}
			fmt.Println(b.Addr())
			log.Info("broker listening", "addr", b.Addr(), "data", *dataDir)
			<-ctx.Done()
			log.Info("broker shutting down")
			b.Close()
			return nil
		})
}

// checkBrokerListen refuses a non-loopback listen address (":9092",
// "0.0.0.0:9092", a LAN address) unless allowRemote: the embedded broker
// has no authentication.
func checkBrokerListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %v; write HOST:PORT such as 127.0.0.1:9092: %w", addr, err, stocklake.ErrConfig)
	}
	if allowRemote || metrics.IsLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("refusing to run the broker on %s: it has no authentication, so anyone who reaches it could read and write every topic; bind 127.0.0.1, or pass --allow-remote on a trusted network: %w", addr, stocklake.ErrConfig)
}
