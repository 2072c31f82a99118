package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
)

// errIncomplete is what verify returns when it found a fault: exit status 1.
var errIncomplete = errors.New("the table is not complete")

// verifyResult is verify's JSON output.
type verifyResult struct {
	Table       string   `json:"table"`
	TableFormat string   `json:"table_format"`
	Sources     string   `json:"sources"` // what the ranges were read from
	Notes       []string `json:"notes"`
	// UnknownObjects counts Hive objects without a batch record: the
	// table cannot be proven complete while there are any.
	UnknownObjects int `json:"unknown_objects"`
	stocklake.CoverageReport
}

func verifyCommand() *ffcli.Command {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var kf kafkaFlags
	var lf logFlags
	kf.register(fs)
	// No brokers by default: verify works from the lake alone.
	kf.brokers = ""
	fs.Lookup("brokers").DefValue = ""
	fs.Lookup("brokers").Usage = `Kafka bootstrap brokers, comma-separated host:port: explain gaps by retention (log start offsets) and by the dead-letter topic ("" checks neither)`
	lf.register(fs)
	lake := fs.String("lake", defaultLake, "lake URL: file://DIR or s3://BUCKET/PREFIX")
	catURL := fs.String("catalog", defaultCatalog, "catalog URL; Iceberg tables are found in its sqlite:// file")
	database := fs.String("database", stocklake.DefaultDatabase, "catalog database of an Iceberg table")
	table := fs.String("table", "", "table to verify: the sink's --table (default of the sink: the topic name); required")
	tableFormat := fs.String("table-format", "auto", "auto (iceberg when the --catalog holds an Iceberg table of that name: in its sqlite:// file, or a Glue table with table_type=ICEBERG; else hive), hive or iceberg")
	dlqTopic := fs.String("dlq-topic", "", "dead-letter topic read with --brokers (default: <topic>.dlq of each topic the table's offsets come from)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	return newCommand("verify", "stocklake verify --table T [--lake URL] [--catalog URL] [--brokers B] [--json]",
		"prove a lake table complete: Kafka offsets covered, gaps, overlaps",
		`Reports, per Kafka partition (topic ID, partition), the offset ranges a table
accounts for, and the gaps and overlaps between them. Iceberg tables: from
each snapshot's stocklake.ranges summary, checked against the newest
stocklake.offsets; offsets below the oldest retained snapshot are reported
as covered by expired snapshots (their ranges are gone), not as gaps. Hive
tables: from the batch record the sink writes in every Parquet object's
footer (the batch's offsets and its object count); a batch with an object
gone is reported missing, a batch object found twice as an overlap.

With --brokers, a gap is explained by retention (offsets below the
partition's log start offset) and by the dead-letter topic (offsets whose
records the sink sent there). Without, leading gaps are reported as not
checked and other gaps as unexplained.

Exits 0 when the table is complete, 1 on any overlap, missing object, or
gap not explained by retention or the dead-letter topic (2 on usage errors).`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("verify", args); err != nil {
				return err
			}
			if *table == "" {
				return fmt.Errorf("--table is required: the table to verify (the sink's --table, by default its topic name): %w", errUsage)
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			store, err := openStore(ctx, *lake)
			if err != nil {
				return err
			}
			res := verifyResult{Table: *table, TableFormat: *tableFormat, Notes: []string{}}
			cov, err := readCoverage(ctx, log, &res, store, *catURL, *lake, *database)
			if err != nil {
				return err
			}
			facts, err := coverageFacts(ctx, log, &res, kf, cov, *dlqTopic)
			if err != nil {
				return err
			}
			res.CoverageReport = cov.Report(facts)
			res.OK = res.OK && res.UnknownObjects == 0
			if !res.RetentionChecked {
				res.Notes = append(res.Notes, "leading gaps were not checked against retention and gaps not against the dead-letter topic: pass --brokers to check them")
			}
			if *asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				printCoverage(os.Stdout, res)
			}
			if !res.OK {
				return fmt.Errorf("%s: %w (see the report above)", *table, errIncomplete)
			}
			return nil
		})
}

// readCoverage reads the table's offset coverage in its format.
func readCoverage(ctx context.Context, log *slog.Logger, res *verifyResult, store stocklake.ObjectStore, catURL, lakeURL, database string) (*stocklake.OffsetCoverage, error) {
	format := res.TableFormat
	switch format {
	case tableFormatAuto:
		found, err := detectTableFormat(ctx, store, catURL, lakeURL, database, res.Table)
		if err != nil {
			return nil, err
		}
		format = stocklake.TableFormatHive
		if found.format == stocklake.TableFormatIceberg {
			format = stocklake.TableFormatIceberg
		}
	case stocklake.TableFormatHive, stocklake.TableFormatIceberg:
	default:
		return nil, fmt.Errorf("--table-format %q: want auto, hive or iceberg: %w", format, stocklake.ErrConfig)
	}
	res.TableFormat = format
	if format == stocklake.TableFormatIceberg {
		cat, err := openIcebergCatalog(ctx, "verify", catURL, lakeURL, store)
		if err != nil {
			return nil, err
		}
		defer cat.Close()
		tbl, err := cat.OpenTable(ctx, database, res.Table)
		if err != nil {
			return nil, err
		}
		cov, n, expired, err := tbl.Coverage(ctx)
		if err != nil {
			return nil, err
		}
		if len(cov.Report(stocklake.CoverageFacts{}).Partitions) == 0 {
			// As a Hive table without objects: an empty report would
			// read as complete whatever the topic holds.
			return nil, fmt.Errorf("Iceberg table %s.%s records no Kafka offsets in its %d snapshots (stocklake.offsets): the sink never committed to it, so nothing proves it complete: check --table and --database: %w",
				database, res.Table, n, stocklake.ErrNotFound)
		}
		res.Sources = fmt.Sprintf("%d snapshots of Iceberg table %s.%s", n, database, res.Table)
		if expired {
			res.Notes = append(res.Notes, "older snapshots were expired: offsets below the oldest retained snapshot were covered by them and cannot be checked (expired_up_to)")
		}
		return cov, nil
	}
	last := time.Now()
	cov, hc, err := sink.Coverage(ctx, store, res.Table, func(done, total int) {
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			log.Info("reading object footers", "done", done, "of", total)
		}
	})
	if err != nil {
		return nil, err
	}
	if hc.Objects == 0 {
		return nil, fmt.Errorf("table %s has no data objects under %s/ in %s: check --lake and --table (an Iceberg table needs --catalog): %w", res.Table, res.Table, store.URL(), stocklake.ErrNotFound)
	}
	res.Sources = fmt.Sprintf("footers of %d objects (%d sink batches) of Hive table %s", hc.Objects, hc.Batches, res.Table)
	if n := len(hc.Unknown); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d objects carry no batch record (JSON lines, another program's, or a sink older than verify), their offsets are unknown, e.g. %s", n, hc.Unknown[0]))
		res.UnknownObjects = n
	}
	return cov, nil
}

// coverageFacts asks Kafka about retention and dead letters when brokers
// are given.
func coverageFacts(ctx context.Context, log *slog.Logger, res *verifyResult, kf kafkaFlags, cov *stocklake.OffsetCoverage, dlqTopic string) (stocklake.CoverageFacts, error) {
	if kf.brokers == "" {
		return stocklake.CoverageFacts{}, nil
	}
	kc, err := kf.config()
	if err != nil {
		return stocklake.CoverageFacts{}, err
	}
	ids := map[string]bool{}
	for _, p := range cov.Report(stocklake.CoverageFacts{}).Partitions {
		ids[p.TopicID] = true
	}
	idList := make([]string, 0, len(ids))
	for id := range ids {
		idList = append(idList, id)
	}
	names, err := kafka.TopicNames(ctx, kc, idList)
	if err != nil {
		return stocklake.CoverageFacts{}, err
	}
	for _, id := range idList {
		if _, ok := names[id]; !ok {
			res.Notes = append(res.Notes, fmt.Sprintf("topic ID %s is no topic of the cluster any more (deleted or re-created): its gaps cannot be explained by retention", id))
		}
	}
	log.Info("reading log start offsets", "topics", len(names))
	logStart, err := kafka.LogStartOffsets(ctx, kc, names)
	if err != nil {
		return stocklake.CoverageFacts{}, err
	}
	facts := stocklake.CoverageFacts{LogStart: logStart, DeadLetters: map[stocklake.TopicPartition][]int64{}}
	dlqs := map[string]bool{}
	if dlqTopic != "" {
		dlqs[dlqTopic] = true
	} else {
		for _, name := range names {
			dlqs[name+".dlq"] = true
		}
	}
	for dlq := range dlqs {
		log.Info("reading the dead-letter topic", "topic", dlq)
		dl, err := kafka.DeadLetterOffsets(ctx, kc, dlq)
		if err != nil {
			return facts, err
		}
		for tp, offs := range dl {
			facts.DeadLetters[tp] = append(facts.DeadLetters[tp], offs...)
		}
	}
	facts.SortDeadLetters()
	return facts, nil
}

// printCoverage prints the report as a table and a list of findings.
func printCoverage(w io.Writer, res verifyResult) {
	fmt.Fprintf(w, "table %s (%s): %s\n\n", res.Table, res.TableFormat, res.Sources)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC ID\tPARTITION\tCOVERED\tGAPS\tOVERLAPS\tMISSING\tSTATUS")
	for _, p := range res.Partitions {
		var spans []string
		if p.ExpiredUpTo != nil {
			spans = append(spans, fmt.Sprintf("<%d (expired snapshots)", *p.ExpiredUpTo))
		}
		for _, s := range p.Covered {
			spans = append(spans, fmt.Sprintf("[%d, %d)", s.Start, s.End))
		}
		status := "ok"
		if !p.OK {
			status = "FAULT"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s\n", p.TopicID, p.Partition, strings.Join(spans, " "), len(p.Gaps), len(p.Overlaps), len(p.Missing), status)
	}
	tw.Flush()
	for _, p := range res.Partitions {
		tp := fmt.Sprintf("%s:%d", p.TopicID, p.Partition)
		for _, g := range p.Gaps {
			why := "NOT explained"
			switch {
			case g.Explained:
				why = "explained"
			case g.Unchecked:
				why = "leading, not checked against retention"
			}
			fmt.Fprintf(w, "gap      %s [%d, %d): %d offsets, %s (retention %d, dead letters %d)\n", tp, g.Start, g.End, g.Len(), why, g.Retention, g.DeadLetters)
		}
		for _, o := range p.Overlaps {
			fmt.Fprintf(w, "overlap  %s [%d, %d): %d offsets, in %s\n", tp, o.Start, o.End, o.Len(), strings.Join(o.Sources, " and "))
		}
		for _, m := range p.Missing {
			fmt.Fprintf(w, "missing  %s [%d, %d): %s\n", tp, m.Start, m.End, m.Reason)
		}
		if p.BeyondCommitted != nil {
			fmt.Fprintf(w, "beyond   %s [%d, %d): covered past the table's committed offset %d\n", tp, p.BeyondCommitted.Start, p.BeyondCommitted.End, *p.Committed)
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if res.OK {
		fmt.Fprintf(w, "verdict: complete (%d partitions)\n", len(res.Partitions))
	} else {
		fmt.Fprintln(w, "verdict: NOT complete")
	}
}
