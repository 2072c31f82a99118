package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stocklake/stocklake/sink"
)

// The fault suite on Iceberg tables (issue 16). Each live case runs an
// Iceberg variant beside its Hive one, against the same servers and the
// same topic: the Iceberg sinks are a consumer group of their own, landing
// the topic in an Iceberg table (`sink --table-format iceberg`, the catalog
// in a SQLite file of the test's, the warehouse a file:// or s3:// lake).
// Each variant writes its own line to the fault report and ends with
// pyiceberg (scripts/verify_iceberg.py, not stocklake) counting every
// (symbol, trade_id) exactly once. Which storage each case uses for its
// Iceberg variant is chosen so that file:// and s3:// are both covered by
// the kill-heavy cases: see each case.

// icebergDatabase is the catalog database (Iceberg namespace) of the
// fault suite's Iceberg tables.
const icebergDatabase = "fault"

// iceVariant is a fault case's Iceberg variant.
type iceVariant struct {
	fc        *faultCase
	catalog   string   // the SQLite file of the Iceberg catalog
	lake      string   // the sinks' --lake (the warehouse, with S3 parameters)
	warehouse string   // the warehouse URL without parameters, for pyiceberg
	env       []string // extra environment of the sinks and the check (S3 keys)
}

// newIceVariant starts the report line "<name> [Iceberg, file://]" (or
// s3://) of a case's Iceberg variant. s3 is the S3 server's exports (the
// shared one's or a case's own); nil puts the lake in a temporary folder.
func newIceVariant(t *testing.T, name string, s3 map[string]string) *iceVariant {
	dir := t.TempDir()
	v := &iceVariant{catalog: filepath.Join(dir, "catalog.db")}
	if s3 == nil {
		v.lake = "file://" + filepath.Join(dir, "lake")
		v.warehouse = v.lake
	} else {
		endpoint := s3["STOCKLAKE_S3_ENDPOINT"]
		bucket := uniqueName("fault-ice-")
		v.lake = fmt.Sprintf("s3://%s/lake?endpoint=%s&create_bucket=true", bucket, endpoint)
		v.warehouse = "s3://" + bucket + "/lake"
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
			v.env = append(v.env, k+"="+s3[k])
		}
		v.env = append(v.env, "AWS_ENDPOINT_URL_S3="+endpoint)
	}
	scheme := "file://"
	if s3 != nil {
		scheme = "s3://"
	}
	v.fc = newFaultCase(t, fmt.Sprintf("%s [Iceberg, %s]", name, scheme))
	return v
}

// sharedS3 is the exports of the suite's shared S3 server (.ci/run starts
// it with scripts/s3), for Iceberg variants on s3:// whose case has no S3
// server of its own.
func sharedS3(t *testing.T) map[string]string {
	env := requireEnv(t, "STOCKLAKE_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	env["AWS_REGION"] = os.Getenv("AWS_REGION")
	return env
}

// args are a sink's flags in the variant: sinkBaseArgs plus the table
// format and catalog.
func (v *iceVariant) args(brokers, topic, group string) []string {
	return append(sinkBaseArgs(brokers, topic, group, v.lake), v.flags()...)
}

// flags turn a Hive sink's flags into the variant's.
func (v *iceVariant) flags() []string {
	return []string{"--table-format", "iceberg", "--catalog", "sqlite://" + v.catalog, "--database", icebergDatabase}
}

// startSink starts a sink of the variant (metrics on) in group.
func (v *iceVariant) startSink(t *testing.T, name, brokers, topic, group string, extra ...string) *proc {
	return startProc(t, name, true, envWith(v.env...), append(v.args(brokers, topic, group), extra...)...)
}

// verify counts the topic's table with pyiceberg and fails the test unless
// it holds exactly n distinct ticks, each once; then `stocklake verify`
// must find its snapshots' offsets complete (verifyArgs are more of its
// flags, e.g. --brokers and --dlq-topic for a case with dead letters).
func (v *iceVariant) verify(t *testing.T, topic string, n int64, verifyArgs ...string) {
	t.Helper()
	ident := icebergDatabase + "." + sink.TableName(topic)
	countExactlyOnce(t, v.fc, fmt.Sprintf("pyiceberg count of %s in %s", ident, v.warehouse), "the Iceberg table "+ident, n, v.env,
		"verify_iceberg.py", v.catalog, v.warehouse, ident)
	verifyOffsets(t, v.env, append([]string{"--table-format", "iceberg", "--catalog", "sqlite://" + v.catalog, "--lake", v.lake,
		"--database", icebergDatabase, "--table", sink.TableName(topic)}, verifyArgs...)...)
}
