package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// tableState holds the decisions that shape a table, made once, by the
// first sink that lands a record in it, and kept in
// _stocklake/sink/<table>/table.json. Every later sink loads and follows
// them, so where a process starts reading (a restart landing on an odd
// record) can never change a table's schema mode, event-time field,
// partitioning or format.
type tableState struct {
	Table string `json:"table"`
	Topic string `json:"topic"`
	// Schema is tick, json or registry.
	Schema string `json:"schema"`
	// TimeField is the event-time field of JSON records; "" for the Kafka
	// record timestamp.
	TimeField   string    `json:"time_field"`
	PartitionBy []string  `json:"partition_by"`
	Format      string    `json:"format"`
	Decided     time.Time `json:"decided"`
	// Fields are a registry table's columns: the union of the writer
	// schemas landed in it, widened (storeRegFields) before the objects
	// of a wider writer schema are written. A restarted sink checks new
	// writer schemas against them, so records of an old writer schema
	// still land and an incompatible one is still refused.
	Fields []stocklake.Field `json:"fields,omitempty"`
}

func tableStateKey(table string) string { return "_stocklake/sink/" + table + "/table.json" }

// HiveTableKey returns the key of an object the sink keeps in store for a
// Hive table (its shape in table.json, or a partition's manifest), or ""
// when the lake holds none: no Hive sink ever landed a record in table.
// `stocklake sink --table-format auto` keeps a table with such state Hive.
// The lake's own topic IDs (topics/<topic>.json), which Iceberg sinks
// keep as well, do not count.
func HiveTableKey(ctx context.Context, store stocklake.ObjectStore, table string) (string, error) {
	prefix := "_stocklake/sink/" + table + "/"
	objs, err := store.List(ctx, prefix)
	if err != nil {
		return "", fmt.Errorf("looking for the Hive table state of %s under %s in %s: %w", table, prefix, store.URL(), err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, prefix+"topics/") && strings.HasSuffix(o.Key, ".json") {
			return o.Key, nil
		}
	}
	return "", nil
}

// explicitSettings records which table-shaping settings the Config set
// (rather than left to their defaults or to detection).
type explicitSettings struct {
	format, schema, partitionBy, timeField bool
}

// loadTableState reads the table's stored decisions, if any, checks them
// against the explicit settings and adopts them. Run calls it before it
// consumes.
func (s *Sink) loadTableState(ctx context.Context) error {
	var (
		body []byte
		err  error
	)
	key := tableStateKey(s.cfg.Table)
	if err := s.retry(ctx, "read "+key, func() error {
		body, _, err = s.cfg.Store.GetVersion(ctx, key)
		if errors.Is(err, stocklake.ErrNotFound) {
			body, err = nil, nil
		}
		return err
	}); err != nil {
		return err
	}
	if body == nil {
		if s.cfg.Schema == SchemaTick {
			// Nothing is left to detect: decide now.
			return s.decideTable(ctx, SchemaTick, "")
		}
		return nil
	}
	var st tableState
	if err := json.Unmarshal(body, &st); err != nil || (st.Schema != SchemaTick && st.Schema != SchemaJSON && st.Schema != SchemaRegistry) {
		return fmt.Errorf("table state %s is damaged (%v): restore it, or remove it to let the next record decide the table's schema again: %w", key, err, stocklake.ErrConfig)
	}
	return s.adoptTableState(st)
}

// decideTable stores the table's decisions (schema mode, time field, the
// configured partitioning and format) unless another sink stored them
// first, and adopts what is stored.
func (s *Sink) decideTable(ctx context.Context, mode, timeField string) error {
	st := tableState{Table: s.cfg.Table, Topic: s.cfg.Topic, Schema: mode, TimeField: timeField,
		PartitionBy: s.cfg.Partitioning.Keys(), Format: s.cfg.Format, Decided: time.Now().UTC()}
	b, _ := json.MarshalIndent(st, "", "  ")
	key := tableStateKey(s.cfg.Table)
	err := s.retry(ctx, "write "+key, func() error {
		_, err := s.cfg.Store.PutIf(ctx, key, bytes.NewReader(b), stocklake.IfAbsent)
		return err
	})
	if errors.Is(err, stocklake.ErrPrecondition) {
		// Another sink decided first: follow it.
		return s.loadTableState(ctx)
	}
	if err != nil {
		return err
	}
	s.log.Info("table shape decided and stored", "schema", mode, "time_field", timeField, "partition_by", strings.Join(st.PartitionBy, ","), "format", st.Format, "state", key)
	return s.adoptTableState(st)
}

// adoptTableState follows stored decisions, or explains how the explicit
// settings contradict them.
func (s *Sink) adoptTableState(st tableState) error {
	var diffs, settings []string
	if s.explicit.format && s.cfg.Format != st.Format {
		diffs = append(diffs, fmt.Sprintf("format %s (stored: %s)", s.cfg.Format, st.Format))
		settings = append(settings, "sink.Config.Format")
	}
	if s.explicit.schema && s.cfg.Schema != SchemaAuto && s.cfg.Schema != st.Schema {
		diffs = append(diffs, fmt.Sprintf("schema %s (stored: %s)", s.cfg.Schema, st.Schema))
		settings = append(settings, "sink.Config.Schema")
	}
	if s.explicit.partitionBy && !slices.Equal(s.cfg.Partitioning.Keys(), st.PartitionBy) {
		diffs = append(diffs, fmt.Sprintf("partitioning %s (stored: %s)", strings.Join(s.cfg.Partitioning.Keys(), ","), strings.Join(st.PartitionBy, ",")))
		settings = append(settings, "sink.Config.Partitioning")
	}
	if s.explicit.timeField && st.Schema != SchemaTick && s.cfg.TimeField != st.TimeField {
		stored := st.TimeField
		if stored == "" {
			stored = `"" (the Kafka record timestamp)`
		}
		diffs = append(diffs, fmt.Sprintf("time field %s (stored: %s)", s.cfg.TimeField, stored))
		settings = append(settings, "sink.Config.TimeField")
	}
	if st.Schema == SchemaRegistry && s.cfg.Decoder == nil {
		return stocklake.SettingErr(fmt.Errorf("table %q holds records decoded with a schema registry (kept in %s): give the sink the registry's URL: %w",
			s.cfg.Table, tableStateKey(s.cfg.Table), stocklake.ErrConfig), "sink.Config.Decoder")
	}
	if len(diffs) > 0 {
		return stocklake.SettingErr(fmt.Errorf("table %q was first landed with other settings, kept in %s: this sink has %s; drop these settings to follow the table, or land into a new table: %w",
			s.cfg.Table, tableStateKey(s.cfg.Table), strings.Join(diffs, ", "), stocklake.ErrConfig), append(settings, "sink.Config.Table")...)
	}
	p, err := ParsePartitioning(strings.Join(st.PartitionBy, ","))
	if err != nil {
		return fmt.Errorf("table state %s: %w", tableStateKey(s.cfg.Table), err)
	}
	s.cfg.Partitioning, s.cfg.Format, s.cfg.TimeField = p, st.Format, st.TimeField
	s.mode, s.timeDecided = st.Schema, true
	if st.Schema == SchemaRegistry && len(st.Fields) > 0 {
		merged, _, err := mergeFields(st.Fields, s.regFields, false)
		if err != nil {
			return fmt.Errorf("table state %s: its fields do not fit the writer schemas this sink met (%v): %w", tableStateKey(s.cfg.Table), err, stocklake.ErrUnavailable)
		}
		s.regFields = merged
	}
	return nil
}

// storeRegFields widens the fields kept in the table state to the sink's
// (merging with what other sinks kept), before objects of them are
// written; a restarted sink reads them back (adoptTableState).
func (s *Sink) storeRegFields(ctx context.Context) error {
	key := tableStateKey(s.cfg.Table)
	for {
		var (
			body []byte
			ver  string
		)
		if err := s.retry(ctx, "read "+key, func() (err error) {
			body, ver, err = s.cfg.Store.GetVersion(ctx, key)
			return err
		}); err != nil {
			return err
		}
		var st tableState
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("table state %s is damaged (%v): restore it: %w", key, err, stocklake.ErrConfig)
		}
		merged, changed, err := mergeFields(st.Fields, s.regFields, false)
		if err != nil {
			return fmt.Errorf("table state %s keeps fields another sink widened that this sink's writer schemas do not fit (%v); restart this sink to check them against the table: %w", key, err, stocklake.ErrUnavailable)
		}
		s.regFields = merged
		if !changed && len(st.Fields) > 0 {
			s.fieldsPending = false
			return nil
		}
		st.Fields = merged
		b, _ := json.MarshalIndent(st, "", "  ")
		err = s.retry(ctx, "write "+key, func() error {
			_, err := s.cfg.Store.PutIf(ctx, key, bytes.NewReader(b), ver)
			return err
		})
		if errors.Is(err, stocklake.ErrPrecondition) {
			continue // another sink changed it: merge again
		}
		if err != nil {
			return err
		}
		s.fieldsPending = false
		return nil
	}
}

// detectTable decides the table's schema mode from its first usable
// record, and for JSON records the event-time field (detected, else the
// Kafka timestamp), and stores the decision. It returns false for a
// record that is neither a tick nor a JSON object; those go to the
// dead-letter topic and decide nothing.
func (s *Sink) detectTable(r *kgo.Record) bool {
	mode, field := "", s.cfg.TimeField
	switch {
	case s.cfg.Schema == SchemaRegistry || s.cfg.Schema == SchemaAuto && s.cfg.Decoder != nil && isFramed(r.Value):
		rs, _, err := s.decodeRegistry(r.Value)
		if err != nil {
			return false
		}
		mode = SchemaRegistry
		if rs.Name == "stocklake.Tick" && s.cfg.Schema == SchemaAuto {
			mode = SchemaTick
		} else {
			field = registryTimeField(rs.Fields, field)
		}
	case s.cfg.Schema != SchemaAuto:
		mode = s.cfg.Schema
	case hasTickHeader(r):
		mode = SchemaTick
	default:
		if _, err := stocklake.ParseTick(r.Value); err == nil {
			mode = SchemaTick
		} else if _, err := decodeObject(r.Value); err == nil {
			mode = SchemaJSON
		} else {
			return false
		}
	}
	if mode == SchemaJSON && field == "" {
		obj, err := decodeObject(r.Value)
		if err != nil {
			return false
		}
		field = detectTimeField(obj)
	}
	s.log.Info("record schema detected", "schema", mode, "time_field", field)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	decide := s.decideTable
	if s.cfg.Committer != nil {
		decide = func(ctx context.Context, mode, field string) error {
			return s.decideShape(ctx, stocklake.TableShape{Schema: mode, TimeField: field})
		}
	}
	if err := decide(ctx, mode, field); err != nil {
		s.setFatal(err)
		s.mode = mode // the sink stops before it writes this batch
	}
	return true
}

func hasTickHeader(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == "content-type" && (string(h.Value) == stocklake.TickContentType || string(h.Value) == stocklake.TickAvroContentType) {
			return true
		}
	}
	return false
}
