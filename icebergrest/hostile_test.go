package icebergrest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake/icebergrest"
)

// TestRESTWritableStaysInTheTable: a writable catalog takes appends of
// files in the table's folder (TestRESTWritable) but refuses, with 400 and
// nothing changed, commits that reach outside it or into the sink's
// bookkeeping. They used to be applied: set-location and write.metadata.path
// made the server write metadata files wherever the client said (and
// `stocklake maintain` remove orphans under the new location); a snapshot
// listing files outside the table has them deleted when it expires; a
// snapshot naming itself as its parent made the sink's Offsets loop for
// ever; a summary with stocklake.offsets made the sink skip or repeat
// records (or refuse to start on a malformed one).
func TestRESTWritableStaysInTheTable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat, Writable: true})
	outside := t.TempDir()
	snaps, err := f.tbl.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head := snaps[0]
	before, err := f.cat.TableMetadata(ctx, []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	// Snapshots that reuse the head's manifest list: only what is refused
	// differs.
	ml := manifestList(t, before.JSON, head.ID)
	snapshot := func(id, parent int64, summary string) string {
		return fmt.Sprintf(`{"action":"add-snapshot","snapshot":{"snapshot-id":%d,"parent-snapshot-id":%d,"sequence-number":%d,"timestamp-ms":%d,"manifest-list":%q,"summary":{"operation":"append"%s}}}`,
			id, parent, id, time.Now().UnixMilli(), ml, summary)
	}
	for _, c := range []struct{ name, update string }{
		{"set-location", `{"action":"set-location","location":"file://` + outside + `/moved"}`},
		{"write.metadata.path", `{"action":"set-properties","updates":{"write.metadata.path":"file://` + outside + `/meta"}}`},
		{"write.data.path", `{"action":"set-properties","updates":{"write.data.path":"file://` + outside + `/data"}}`},
		{"write.metadata.path, legacy field", `{"action":"set-properties","updated":{"write.metadata.path":"file://` + outside + `/meta"}}`},
		{"set-location, Action", `{"Action":"set-location","location":"file://` + outside + `/moved"}`},
		{"remove stocklake.schema, legacy field", `{"action":"remove-properties","removed":["stocklake.schema"]}`},
		{"stocklake.schema", `{"action":"set-properties","updates":{"stocklake.schema":"json"}}`},
		{"remove stocklake.time-field", `{"action":"remove-properties","removals":["stocklake.time-field"]}`},
		{"snapshot its own parent", snapshot(777, 777, "")},
		{"snapshot of a missing parent", snapshot(778, 12345, "")},
		{"snapshot with offsets", snapshot(779, head.ID, `,"stocklake.offsets":"{\"T:0\":5}"`)},
		{"statistics outside the folder", fmt.Sprintf(`{"action":"set-statistics","snapshot-id":%d,"statistics":{"snapshot-id":%d,"statistics-path":"file://%s/x.stats","file-size-in-bytes":1,"file-footer-size-in-bytes":1,"blob-metadata":[]}}`, head.ID, head.ID, outside)},
	} {
		code, body := do(t, http.MethodPost, uri+"/v1/namespaces/market/tables/ticks", "", `{"requirements":[],"updates":[`+c.update+`]}`)
		if e := errorModel(t, body); code != 400 || e.Type != "BadRequestException" {
			t.Errorf("%s: %d %.300s, want 400 BadRequestException", c.name, code, body)
		}
	}
	after, err := f.cat.TableMetadata(ctx, []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if after.Location != before.Location {
		t.Errorf("refused commits moved the table's metadata from %s to %s", before.Location, after.Location)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("refused commits wrote %d entries outside the table, e.g. %s", len(entries), entries[0].Name())
	}
	offs, err := f.tbl.Offsets(ctx)
	if err != nil || len(offs) != 2 {
		t.Errorf("the sink's offsets after refused commits: %v, %v", offs, err)
	}

	// An append of a file outside the table's folder, through a real client.
	cat, err := rest.NewCatalog(ctx, "stocklake", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(outside, "stray.parquet")
	writeFile(t, stray, encodeTicks(t, ticks(5, 2, "stray")))
	tx := tbl.NewTransaction()
	if err := tx.AddFiles(ctx, []string{"file://" + stray}, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err == nil || !strings.Contains(err.Error(), "not under the table's folder") {
		t.Errorf("append of a file outside the table: %v, want refused", err)
	}
	// Files in the table's folder still go in (as in TestRESTWritable).
	extra := ticks(5, 2, "in")
	path := strings.TrimPrefix(f.tbl.DataFileURL(&extra[0], "in-folder.parquet"), "file://")
	writeFile(t, path, encodeTicks(t, extra))
	tx = tbl.NewTransaction()
	if err := tx.AddFiles(ctx, []string{"file://" + path}, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Errorf("append of a file in the table's folder: %v", err)
	}
}

// manifestList is the manifest list of snapshot id in a table's metadata.
func manifestList(t *testing.T, metadata []byte, id int64) string {
	t.Helper()
	var md struct {
		Snapshots []struct {
			ID   int64  `json:"snapshot-id"`
			List string `json:"manifest-list"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(metadata, &md); err != nil {
		t.Fatal(err)
	}
	for _, s := range md.Snapshots {
		if s.ID == id {
			return s.List
		}
	}
	t.Fatalf("no snapshot %d in the metadata", id)
	return ""
}
