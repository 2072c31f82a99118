package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake/kafka"
)

func brokerCommand() *ffcli.Command {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9092", "address to listen on, host:port (port 0 picks a free one)")
	dataDir := fs.String("data", filepath.Join(defaultDataDir, "kafka"), `directory that keeps topics and committed offsets across restarts; "" keeps them in memory`)
	partitions := fs.Int("partitions", 3, "partitions of auto-created topics")
	syncWrites := fs.Bool("sync", false, "fsync every produced batch (slower; survives power loss)")
	var lf logFlags
	lf.register(fs)
	return newCommand("broker", "stocklake broker [--listen ADDR] [--data DIR]",
		"run an embedded Kafka-protocol broker",
		`Runs an embedded, single-node Kafka-protocol broker (franz-go's kfake) with
topics, consumer groups, idempotent and transactional producers. Data and
committed offsets persist in --data. For development and tests; use Apache
Kafka or Amazon MSK in production. Stops cleanly on Ctrl-C or SIGTERM.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("broker", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
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
