package kafka

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
)

// Defaults of the embedded broker and of topics stocklake creates.
const (
	// DefaultListen is the embedded broker's address, and the brokers
	// clients look for when given none on the command line.
	DefaultListen = "127.0.0.1:9092"
	// DefaultPartitions is the partition count of topics the embedded
	// broker auto-creates and of topics produce creates.
	DefaultPartitions = 3
)

// BrokerConfig configures the embedded Kafka-protocol broker.
type BrokerConfig struct {
	// Listen is host:port; port 0 picks a free port. Default DefaultListen
	// (127.0.0.1:9092).
	Listen string
	// DataDir keeps records and committed offsets across restarts; empty
	// keeps everything in memory.
	DataDir string
	// Partitions is the partition count for auto-created topics; default
	// DefaultPartitions (3).
	Partitions int
	// SyncWrites fsyncs every produced batch (slower, survives power loss).
	SyncWrites bool
}

// Broker is an embedded, single-process Kafka-protocol broker (franz-go's
// kfake): topics, consumer groups, idempotent and transactional producers.
// It is for the one-process default and for tests, not for production.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// StartBroker starts an embedded broker and returns once it listens.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker listen address %q: %v; write host:port: %w", cfg.Listen, err, stocklake.ErrConfig)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker listen port %q is not a port number: %w", portStr, stocklake.ErrConfig)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if port == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("broker: find a free port on %s: %w: %w", host, err, stocklake.ErrConfig)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, stocklake.SettingErr(fmt.Errorf("start embedded broker on %s (is the port in use? pick another address): %w: %w", cfg.Listen, err, stocklake.ErrConfig), "kafka.BrokerConfig.Listen")
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if host == "0.0.0.0" || host == "::" {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	return &Broker{cluster: c, addr: addr}, nil
}

// Addr is the address clients should dial.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, flushing persisted state to DataDir.
func (b *Broker) Close() { b.cluster.Close() }
