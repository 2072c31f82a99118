package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/analyze"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/dashboard"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/query"
	"github.com/stocklake/stocklake/sink"
)

// dashboardFlags are the dashboard's flags, shared by serve and demo.
type dashboardFlags struct {
	token            string
	allowedHosts     string
	maxConns         int
	maxStreamClients int
	pprof            bool
	tlsCert, tlsKey  string
	maxRows          int64
	queryTimeout     time.Duration
	maxBytesScanned  byteSize
	maxResultBytes   byteSize
	maxQueued        int
	engine           engineLimits
}

func (f *dashboardFlags) register(fs *flag.FlagSet) {
	f.maxBytesScanned = byteSize(dashboard.DefaultMaxBytesScanned)
	fs.StringVar(&f.token, "token", "", fmt.Sprintf("bearer token required by the API, /metrics and /debug/pprof, at least %d characters (e.g. openssl rand -hex 24); required when --http is not a loopback address", dashboard.MinTokenLength))
	fs.StringVar(&f.allowedHosts, "allowed-hosts", "", "comma-separated Host names served besides localhost and loopback addresses while --http is loopback (DNS-rebinding guard); * allows any")
	fs.IntVar(&f.maxConns, "max-conns", dashboard.DefaultMaxConns, "open HTTP connections at most")
	fs.IntVar(&f.maxStreamClients, "max-stream-clients", dashboard.DefaultMaxStreamClients, "clients of the live event stream (/api/stream) at most; more get 503")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go's profiler on /debug/pprof/ (behind --token)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key); needed to send the token off loopback safely")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.Int64Var(&f.maxRows, "max-rows", dashboard.DefaultMaxRows, "rows a console query returns at most")
	fs.DurationVar(&f.queryTimeout, "query-timeout", dashboard.DefaultQueryTimeout, "fail a console query that runs longer")
	fs.Var(&f.maxBytesScanned, "max-bytes-scanned", "fail a console query that would read more from the lake, e.g. 10GB; 0 for no limit")
	f.maxResultBytes = byteSize(dashboard.DefaultMaxResultBytes)
	fs.Var(&f.maxResultBytes, "max-result-bytes", "fail a console query whose result (as CSV) is larger")
	fs.IntVar(&f.maxQueued, "max-queued", dashboard.DefaultMaxQueued, fmt.Sprintf("console queries that may wait while %d run; more are refused with 429", query.DefaultConcurrency))
	fs.IntVar(&f.engine.threads, "duckdb-threads", 0, fmt.Sprintf("worker threads of the console's DuckDB; 0: the engine URL's threads=, else the CPUs, at most %d", duckdb.DefaultMaxThreads))
	fs.StringVar(&f.engine.memoryLimit, "duckdb-memory-limit", "", fmt.Sprintf("memory limit of the console's DuckDB, e.g. 4GB; larger work spills to disk (default the engine URL's memory_limit=, else %s)", duckdb.DefaultMemoryLimit))
	fs.StringVar(&f.engine.maxTemp, "duckdb-max-temp-size", "", fmt.Sprintf("what the console's DuckDB may spill to disk, e.g. 20GB; a query needing more fails (default the engine URL's max_temp_directory_size=, else %s)", duckdb.DefaultMaxTempDirectorySize))
}

// config is the dashboard's part of a dashboard.Config.
func (f *dashboardFlags) config(log *slog.Logger) dashboard.Config {
	var hosts []string
	for _, h := range strings.Split(f.allowedHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	maxScan := int64(f.maxBytesScanned)
	if maxScan == 0 {
		maxScan = -1 // --max-bytes-scanned 0: no limit
	}
	return dashboard.Config{Token: f.token, AllowedHosts: hosts, MaxConns: f.maxConns, MaxStreamClients: f.maxStreamClients,
		PProf: f.pprof, TLSCert: f.tlsCert, TLSKey: f.tlsKey, MaxRows: f.maxRows, QueryTimeout: f.queryTimeout,
		MaxBytesScanned: maxScan, MaxResultBytes: int64(f.maxResultBytes), MaxQueued: f.maxQueued, Logger: log}
}

// crawlFunc returns the dashboard's "crawl now": one incremental crawl of
// the lake into database, registering the Iceberg tables it finds (see
// crawlIceberg).
func crawlFunc(store stocklake.ObjectStore, cat stocklake.Catalog, database string) (func(context.Context) (stocklake.CrawlRun, error), error) {
	cfg := crawler.Config{Database: database, Incremental: true}
	if _, err := crawler.New(store, cat, cfg); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (stocklake.CrawlRun, error) {
		ice, closeIce, err := crawlIceberg(ctx, cat, store)
		if err != nil {
			return stocklake.CrawlRun{}, err
		}
		defer closeIce()
		cfg := cfg
		cfg.Iceberg = ice
		c, err := crawler.New(store, cat, cfg)
		if err != nil {
			return stocklake.CrawlRun{}, err
		}
		return c.Run(ctx)
	}, nil
}

// sinkStats adapts a sink's counters for the dashboard's health page.
func sinkStats(s *sink.Sink) func() dashboard.SinkStats {
	return func() dashboard.SinkStats {
		st := s.Stats()
		return dashboard.SinkStats{Records: st.Records.Load(), Rows: st.Rows.Load(), Files: st.Objects.Load(), Bytes: st.Bytes.Load(),
			DeadLetters: st.DeadLetters.Load(), Lag: st.Lag.Load(), Buffered: st.Buffered.Load(), LastError: s.LastError()}
	}
}

// runDashboard serves srv on addr and feeds its board until ctx ends.
func runDashboard(ctx context.Context, srv *dashboard.Server, addr string, log *slog.Logger) error {
	ln, err := srv.Listen(addr)
	if err != nil {
		return err
	}
	log.Info("serving dashboard", "url", srv.Scheme()+"://"+ln.Addr().String()+"/")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	g.Go(func() error { return srv.Run(gctx) })
	return g.Wait()
}

func serveCommand() *ffcli.Command {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var kf kafkaFlags
	var lf logFlags
	var df dashboardFlags
	kf.register(fs)
	lf.register(fs)
	df.register(fs)
	addr := fs.String("http", dashboard.DefaultAddr, "address to serve the dashboard, API and /metrics on")
	catURL := fs.String("catalog", defaultCatalog, `catalog URL: sqlite://PATH or glue://REGION ("" disables the catalog browser and console)`)
	lakeURL := fs.String("lake", defaultLake, "lake URL: query results and history go to its query-results/ folder, crawls read it")
	engineURL := fs.String("engine", defaultEngine, "SQL engine of the console: duckdb://")
	database := fs.String("database", stocklake.DefaultDatabase, "catalog database of unqualified table names and of crawls")
	feed := fs.String("feed", "bars", "where the live board's bars come from: bars (the analyzer's topics) or ticks (computed here from the tick topic)")
	windows := fs.String("windows", analyze.DefaultWindows, "bar window sizes to show, e.g. 1s,1m,5m (with --feed bars, those the analyzer makes)")
	ticks := fs.String("topic", stocklake.TopicTicks, "tick topic: lag, rates and dead letters (<topic>.dlq) on the health page, and the input of --feed ticks")
	sinkGroup := fs.String("sink-group", stocklake.DefaultSinkGroup, "consumer group of the sink, whose lag the health page shows")
	barsPrefix := fs.String("bars-prefix", stocklake.TopicBarsPrefix, "prefix of the analyzer's bar topics (<prefix>.<window>)")
	alertsTopic := fs.String("alerts-topic", stocklake.TopicAlerts, "the analyzer's alert topic")
	var rf icebergRESTFlags
	rf.register(fs)
	return newCommand("serve", "stocklake serve --http ADDR --brokers B --catalog URL [--lake URL] [--engine URL] [--token T] [--iceberg-rest]",
		"serve the web dashboard and JSON API",
		`Serves the dashboard: a live board of symbols and candlestick charts with
indicators and alerts (from the analyzer's bar and alert topics, or computed
here from ticks with --feed ticks), a read-only SQL console over the lake,
a catalog browser with "crawl now", and the pipeline's health (consumer lag,
tick rates, dead letters). The JSON API is described at /api/openapi.yaml;
Prometheus metrics are on /metrics, probes on /healthz and /readyz.

It binds 127.0.0.1 by default and then answers only requests for localhost
or a loopback address (--allowed-hosts adds names). Any other address needs
--token: requests then carry "Authorization: Bearer TOKEN" (the app asks for
it once); use --tls-cert and --tls-key (or a TLS proxy) so the token does
not cross the network in clear text. See docs/security.md.

--iceberg-rest also serves the Apache Iceberg REST catalog API over the
Iceberg tables of the --catalog sqlite:// file (those the sink writes with
--table-format iceberg) at /iceberg on the same address: point Trino, Spark,
pyiceberg or DuckDB at the catalog URI http://ADDR/iceberg (with --token,
they send it as a bearer token: token=TOKEN, or credential=ID:TOKEN through
the OAuth endpoint). It is read-only unless --iceberg-rest-writable; for an
s3:// lake, tables tell clients the endpoint, region and path-style access,
and hand out the server's S3 keys only with --iceberg-rest-vend-credentials.
See docs/iceberg.md.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("serve", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			if err := dashboard.CheckAddr(*addr, df.token); err != nil {
				return err
			}
			kc, err := kf.config()
			if err != nil {
				return err
			}
			kc.Logger = log
			ws, err := parseWindows(*windows)
			if err != nil {
				return err
			}
			cfg := df.config(log)
			cfg.Metrics = newMetrics()
			cfg.Database, cfg.Topic, cfg.SinkGroup = *database, *ticks, *sinkGroup
			switch *feed {
			case "bars":
				cfg.Source = &dashboard.KafkaSource{Kafka: kc, Windows: ws, Prefix: *barsPrefix, Alerts: *alertsTopic}
			case "ticks":
				src := &dashboard.TickSource{Kafka: kc, Topic: *ticks}
				src.Stream.Windows = ws
				cfg.Source = src
			default:
				return fmt.Errorf("--feed %q: want bars or ticks: %w", *feed, stocklake.ErrConfig)
			}
			if cfg.Kafka, err = kc.NewClient(); err != nil {
				return err
			}
			defer cfg.Kafka.Close()
			if *lakeURL != "" {
				if cfg.Store, err = openStore(ctx, *lakeURL); err != nil {
					return err
				}
			}
			if *catURL != "" {
				cat, err := openCatalog(ctx, *catURL, cfg.Store)
				if err != nil {
					return err
				}
				defer cat.Close()
				cfg.Catalog = cat
				if cfg.Store != nil {
					if cfg.Crawl, err = crawlFunc(cfg.Store, cat, *database); err != nil {
						return err
					}
					ice, closeIce, err := catalogIceberg(ctx, cat, cfg.Store)
					if err != nil {
						log.Warn("the health page leaves Iceberg tables out: their catalog does not open", "err", err)
					} else {
						defer closeIce()
						cfg.Catalog = withIcebergTables(cat, ice)
					}
					cfg.Tables = tableHealth(cfg.Store, cat, ice, *database)
					eng, name, err := openEngine(ctx, *engineURL, cat, cfg.Store, *database, df.engine)
					if err != nil {
						return err
					}
					defer eng.Close()
					cfg.Engine, cfg.EngineName = eng, name
				}
			}
			if rf.enabled {
				rest, closeRest, err := rf.handler(ctx, *catURL, *lakeURL, cfg.Store, df.token, log)
				if err != nil {
					return err
				}
				defer closeRest()
				cfg.Mounts = map[string]nethttp.Handler{icebergRESTPath + "/": rest}
				log.Info("serving the Iceberg REST catalog", "path", icebergRESTPath, "writable", rf.writable)
			}
			srv, err := dashboard.New(cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			return runDashboard(ctx, srv, *addr, log)
		})
}

// startDemoDashboard serves the dashboard for demo: the board computes bars
// from the in-process broker's ticks, the console queries the demo's lake
// with embedded DuckDB, the health page shows the demo's sink, and /metrics
// the sink's and the analyzer's metrics.
func startDemoDashboard(ctx context.Context, addr string, df *dashboardFlags, kc kafka.Config, store stocklake.ObjectStore, cat stocklake.Catalog, ice *iceberg.Catalog, snk *sink.Sink, an *analyze.Analyzer, log *slog.Logger, more ...func(prometheus.Registerer) error) (stop func(), err error) {
	cfg := df.config(log)
	cfg.Source, cfg.Catalog, cfg.Store, cfg.Sink, cfg.Metrics = &dashboard.TickSource{Kafka: kc}, withIcebergTables(cat, ice), store, sinkStats(snk), newMetrics()
	if err := snk.RegisterMetrics(cfg.Metrics); err != nil {
		return nil, err
	}
	if err := an.RegisterMetrics(cfg.Metrics); err != nil {
		return nil, err
	}
	for _, register := range more {
		if err := register(cfg.Metrics); err != nil {
			return nil, err
		}
	}
	if cfg.Crawl, err = crawlFunc(store, cat, dashboard.DefaultDatabase); err != nil {
		return nil, err
	}
	cfg.Tables = tableHealth(store, cat, ice, dashboard.DefaultDatabase)
	eng, name, err := openEngine(ctx, defaultEngine, cat, store, dashboard.DefaultDatabase, df.engine)
	if err != nil {
		return nil, err
	}
	cfg.Engine, cfg.EngineName = eng, name
	if cfg.Kafka, err = kc.NewClient(); err != nil {
		eng.Close()
		return nil, err
	}
	srv, err := dashboard.New(cfg)
	if err == nil {
		var ln net.Listener
		if ln, err = srv.Listen(addr); err == nil {
			dctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				g, gctx := errgroup.WithContext(dctx)
				g.Go(func() error { return srv.Serve(gctx, ln) })
				g.Go(func() error { return srv.Run(gctx) })
				if err := g.Wait(); err != nil {
					log.Error("dashboard", "err", err)
				}
			}()
			log.Info("serving dashboard", "url", srv.Scheme()+"://"+ln.Addr().String()+"/")
			fmt.Fprintf(os.Stderr, "dashboard: %s://%s/\n", srv.Scheme(), ln.Addr())
			return func() {
				cancel()
				<-done
				srv.Close()
				cfg.Kafka.Close()
				eng.Close()
			}, nil
		}
	}
	cfg.Kafka.Close()
	eng.Close()
	return nil, err
}
