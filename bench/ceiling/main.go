// Command ceiling reads a whole topic with a bare franz-go consumer and
// nothing else: no decoding, no batching, no writing. bench/sink.sh times
// it (GNU time) on the topic the sink lands, so the sink's records per
// CPU-second can be given as a fraction of what reading Kafka alone costs
// on the same machine (issue 18).
//
//	go run ./bench/ceiling -brokers 127.0.0.1:9092 -topic ticks
//
// It fetches with the sink's settings (read_committed, 4 MiB fetches and
// 2 MiB per partition: the sink's defaults for a 256 MiB buffer bound),
// from the start of every partition up to the end offsets listed when it
// starts, and prints the number of records read.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka brokers, comma-separated")
	topic := flag.String("topic", "ticks", "topic to read")
	flag.Parse()
	n, err := run(*brokers, *topic)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	fmt.Println(n)
}

func run(brokers, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	seeds := strings.Split(brokers, ",")
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(512<<10), kgo.FetchMaxPartitionBytes(256<<10)) // the sink's at its default --max-buffer-bytes
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int64
	for len(left) > 0 {
		fs := cl.PollRecords(ctx, 20_000)
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("read %s: %d records before %w", topic, n, err)
		}
		fs.EachError(func(_ string, p int32, err error) { fmt.Fprintf(os.Stderr, "ceiling: partition %d: %v\n", p, err) })
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			n += int64(len(p.Records))
			if k := len(p.Records); k > 0 && p.Records[k-1].Offset >= left[p.Partition]-1 {
				delete(left, p.Partition)
			}
		})
	}
	return n, nil
}
