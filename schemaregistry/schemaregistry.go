// Package schemaregistry decodes records framed for a Confluent-compatible
// Schema Registry (Confluent Schema Registry, Apicurio Registry's ccompat
// API, Redpanda, Karapace) with their writer's schema: Avro (with
// github.com/hamba/avro/v2), Protobuf (dynamic messages built from the
// registered .proto with google.golang.org/protobuf) and JSON Schema
// (records kept as JSON, typed by the schema's properties). It talks to
// the registry with franz-go's pkg/sr client and caches each schema by ID.
package schemaregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/stocklake/stocklake"
)

// Type is the name of this backend in settings and logs.
const Type = "registry"

// Schema formats (stocklake.RecordSchema.Format).
const (
	FormatAvro     = "avro"
	FormatProtobuf = "protobuf"
	FormatJSON     = "json"
)

// DefaultTimeout bounds one registry request: 10s.
const DefaultTimeout = 10 * time.Second

// maxIndexes bounds the message indexes of a Protobuf frame (the nesting
// depth of the message in its file): a hostile count must not allocate.
const maxIndexes = 64

// Config configures a Client.
type Config struct {
	// URL of the registry, e.g. http://127.0.0.1:8081 or, for Apicurio,
	// http://host:8080/apis/ccompat/v7. Several may be given,
	// comma-separated. Required.
	URL string
	// User and Password, if User is set, are sent as HTTP basic auth
	// (Confluent Cloud: API key and secret). Default: none.
	User, Password string
	// CAFile is a PEM file of CAs to trust for an https registry besides
	// the system's. Default "": the system's only.
	CAFile string
	// Timeout bounds each request; default DefaultTimeout.
	Timeout time.Duration
}

// Client is a registry client that decodes framed records. Schemas are
// fetched once per ID and kept for the life of the Client (a schema ID's
// schema never changes in a registry).
type Client struct {
	cl *sr.Client

	mu      sync.Mutex
	schemas map[int]*decoder
	// missing holds IDs the registry answered "not found" for (or whose
	// schema cannot be decoded), asked again after missingTTL: a registry
	// follower may lag behind the leader a producer registered with.
	missing map[int]missing
}

type missing struct {
	err error
	at  time.Time
}

// missingTTL is how long a schema ID the registry does not know is not
// asked for again: 30s.
var missingTTL = 30 * time.Second

var _ stocklake.RecordDecoder = (*Client)(nil)

// New makes a Client.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("schema registry needs a URL: %w", stocklake.ErrConfig), "schemaregistry.Config.URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: cfg.Timeout}).DialContext
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, stocklake.SettingErr(fmt.Errorf("read registry CA file: %w: %w", err, stocklake.ErrConfig), "schemaregistry.Config.CAFile")
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, stocklake.SettingErr(fmt.Errorf("registry CA file %s holds no PEM certificate: %w", cfg.CAFile, stocklake.ErrConfig), "schemaregistry.Config.CAFile")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var urls []string
	for _, u := range strings.Split(cfg.URL, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			urls = append(urls, u)
		}
	}
	opts := []sr.ClientOpt{sr.URLs(urls...), sr.HTTPClient(&http.Client{Transport: tr, Timeout: cfg.Timeout}), sr.UserAgent("stocklake/" + stocklake.Version)}
	if cfg.User != "" {
		opts = append(opts, sr.BasicAuth(cfg.User, cfg.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, stocklake.SettingErr(fmt.Errorf("schema registry %s: %w: %w", cfg.URL, err, stocklake.ErrConfig), "schemaregistry.Config.URL")
	}
	return &Client{cl: cl, schemas: map[int]*decoder{}, missing: map[int]missing{}}, nil
}

// Decode decodes one framed record with its writer's schema.
func (c *Client) Decode(ctx context.Context, value []byte) (*stocklake.RecordSchema, map[string]any, error) {
	id, rest, err := splitFrame(value)
	if err != nil {
		return nil, nil, err
	}
	d, err := c.decoder(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	rs, v, err := d.decode(rest)
	if err != nil {
		return nil, nil, fmt.Errorf("record does not match its writer schema %d (%s): %w: %w", id, d.schema.Format, err, stocklake.ErrInvalid)
	}
	return rs, v, nil
}

// Schema returns the writer schema of ID id.
func (c *Client) Schema(ctx context.Context, id int) (*stocklake.RecordSchema, error) {
	d, err := c.decoder(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.schema, nil
}

// splitFrame reads the Confluent wire-format header: magic byte 0 and a
// 4-byte big-endian schema ID.
func splitFrame(b []byte) (int, []byte, error) {
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(b)
	if err != nil {
		switch {
		case len(b) == 0:
			return 0, nil, fmt.Errorf("record is empty, want the schema registry wire format (magic byte 0, 4-byte schema ID): %w", stocklake.ErrInvalid)
		case b[0] != stocklake.WireMagic:
			return 0, nil, fmt.Errorf("record starts with byte 0x%02x, not the schema registry magic byte 0: %w", b[0], stocklake.ErrInvalid)
		}
		return 0, nil, fmt.Errorf("record of %d bytes is shorter than the schema registry header (5 bytes): %w", len(b), stocklake.ErrInvalid)
	}
	return id, rest, nil
}

// decoder returns the cached decoder of schema id, fetching the schema
// (and its references) from the registry the first time.
func (c *Client) decoder(ctx context.Context, id int) (*decoder, error) {
	c.mu.Lock()
	d, ok := c.schemas[id]
	miss := c.missing[id]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	if miss.err != nil && time.Since(miss.at) < missingTTL {
		return nil, miss.err
	}
	s, err := c.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("schema ID %d is not in the registry (%s): %w", id, re.Message, stocklake.ErrInvalid)
			c.mu.Lock()
			c.missing[id] = missing{err, time.Now()}
			c.mu.Unlock()
			return nil, err
		}
		if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
			return nil, stocklake.SettingErr(fmt.Errorf("schema registry refuses to give schema %d (%s): check the registry user and password: %w", id, re.Message, stocklake.ErrConfig),
				"schemaregistry.Config.User")
		}
		return nil, fmt.Errorf("fetch schema %d from the registry: %v: %w", id, err, stocklake.ErrUnavailable)
	}
	refs, err := c.references(ctx, s, 0)
	if err != nil {
		return nil, err
	}
	d, err = newDecoder(id, s, refs)
	if errors.Is(err, errProtoText) {
		if d, err = c.serializedProto(ctx, id, err); errors.Is(err, stocklake.ErrUnavailable) {
			return nil, err
		}
	}
	if err != nil {
		err = fmt.Errorf("schema %d: %w: %w", id, err, stocklake.ErrInvalid)
		c.mu.Lock()
		c.missing[id] = missing{err, time.Now()}
		c.mu.Unlock()
		return nil, err
	}
	c.mu.Lock()
	c.schemas[id] = d
	c.mu.Unlock()
	return d, nil
}

// references fetches the schemas s refers to, by reference name, depth
// first (a reference's own references come first).
func (c *Client) references(ctx context.Context, s sr.Schema, depth int) ([]namedSchema, error) {
	if depth > 16 {
		return nil, fmt.Errorf("schema references nest more than 16 deep: %w", stocklake.ErrInvalid)
	}
	var out []namedSchema
	for _, ref := range s.References {
		rs, err := c.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			var re *sr.ResponseError
			if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
				return nil, fmt.Errorf("schema reference %s (subject %s version %d) is not in the registry: %w", ref.Name, ref.Subject, ref.Version, stocklake.ErrInvalid)
			}
			return nil, fmt.Errorf("fetch schema reference %s: %v: %w", ref.Name, err, stocklake.ErrUnavailable)
		}
		sub, err := c.references(ctx, rs.Schema, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
		out = append(out, namedSchema{name: ref.Name, schema: rs.Schema})
	}
	return out, nil
}

type namedSchema struct {
	name   string
	schema sr.Schema
}

// decoder decodes the records of one writer schema. schema is the
// schema of its records (for Protobuf, of the file's first message; a
// record's own is what decode returns).
type decoder struct {
	schema *stocklake.RecordSchema
	decode func(b []byte) (*stocklake.RecordSchema, map[string]any, error)
}

func newDecoder(id int, s sr.Schema, refs []namedSchema) (*decoder, error) {
	switch s.Type {
	case sr.TypeAvro:
		return newAvroDecoder(id, s, refs)
	case sr.TypeJSON:
		return newJSONDecoder(id, s)
	case sr.TypeProtobuf:
		return newProtoDecoder(id, s, refs)
	}
	return nil, fmt.Errorf("schema type %v is not supported", s.Type)
}

// Register registers schema (Avro text) under subject and returns its ID;
// an identical schema already there keeps its ID.
func (c *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	ss, err := c.cl.CreateSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
			return 0, fmt.Errorf("register schema under %s: the registry finds it incompatible with the subject's schemas (%s): %w", subject, re.Message, stocklake.ErrConfig)
		}
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
			return 0, fmt.Errorf("register schema under %s: %s: %w", subject, re.Message, stocklake.ErrConfig)
		}
		return 0, fmt.Errorf("register schema under %s: %v: %w", subject, err, stocklake.ErrUnavailable)
	}
	return ss.ID, nil
}

// field is a named field of a record node (avroNode, jsonNode).
type field[N any] struct {
	name string
	node N
}

// nestedValue converts v, a decoded value of the record, list or map kind
// k, child by child: a record's fields (by name) and a list's or map's
// elements with elem, each to the Go type of its kind (see
// stocklake.FieldKind). ok is false for other kinds, which the node
// converts itself.
func nestedValue[N interface{ value(any) (any, error) }](k stocklake.FieldKind, v any, fields []field[N], elem N) (out any, ok bool, err error) {
	switch k {
	case stocklake.KindRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, true, fmt.Errorf("record value is %T", v)
		}
		out := make(map[string]any, len(fields))
		for _, f := range fields {
			x, err := f.node.value(m[f.name])
			if err != nil {
				return nil, true, fmt.Errorf("%s: %w", f.name, err)
			}
			out[f.name] = x
		}
		return out, true, nil
	case stocklake.KindList:
		a, ok := v.([]any)
		if !ok {
			return nil, true, fmt.Errorf("array value is %T", v)
		}
		out := make([]any, len(a))
		for i, x := range a {
			var err error
			if out[i], err = elem.value(x); err != nil {
				return nil, true, err
			}
		}
		return out, true, nil
	case stocklake.KindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, true, fmt.Errorf("map value is %T", v)
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			var err error
			if out[k], err = elem.value(x); err != nil {
				return nil, true, err
			}
		}
		return out, true, nil
	}
	return nil, false, nil
}
