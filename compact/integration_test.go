package compact

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/s3"
)

// TestCompactS3GlueIntegration compacts a table in a real S3 server
// (STOCKLAKE_S3_ENDPOINT, scripts/s3) cataloged in a Glue API
// (STOCKLAKE_GLUE_ENDPOINT, moto via scripts/glue): every row is read once
// at every step, the partition's Glue location is swapped, and a crawl
// afterwards counts the same.
func TestCompactS3GlueIntegration(t *testing.T) {
	s3ep, glueep := os.Getenv("STOCKLAKE_S3_ENDPOINT"), os.Getenv("STOCKLAKE_GLUE_ENDPOINT")
	if s3ep == "" || glueep == "" {
		t.Skip(`STOCKLAKE_S3_ENDPOINT and STOCKLAKE_GLUE_ENDPOINT are not both set; run eval "$(scripts/s3 start)" and eval "$(scripts/glue start)"`)
	}
	ctx := context.Background()
	var b [4]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	store, err := s3.New(ctx, s3.Config{Bucket: "stocklake-compact-" + suffix, Prefix: "lake", Endpoint: s3ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		objs, _ := store.List(ctx, "")
		for _, o := range objs {
			store.Delete(ctx, o.Key)
		}
	})
	cat, err := glue.New(ctx, glue.Config{Endpoint: glueep, LakeStore: store, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	db := "sl_compact_" + suffix
	t.Cleanup(func() { cat.DeleteDatabase(ctx, db) })
	l := newLakeOn(t, store, cat, db)
	for range 6 {
		l.put(closed, 40)
		l.put(closed2, 15)
	}
	l.crawl(cat)
	l.check("before compaction", l.eng)
	steps := 0
	c := l.compactor(Config{AfterStep: func(_ context.Context, step string) {
		steps++
		l.check("after step "+step, l.eng)
	}})
	res, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.PartitionsCompacted != 2 || steps != 8 {
		t.Fatalf("pass: %+v, %d steps checked", res, steps)
	}
	p := l.partition("2026-11-20", "14")
	if !strings.HasPrefix(p.Location, store.URL()+"/ticks/"+stocklake.CompactedFolder+"/") {
		t.Fatalf("Glue partition location %s: want the merged folder", p.Location)
	}
	l.crawl(cat)
	l.check("after a crawl", l.eng)
	l.now = l.now.Add(2 * DefaultGrace)
	if res, err := c.Run(ctx); err != nil || res.ObjectsDeleted != 12 {
		t.Fatalf("pass after the grace: %+v, %v", res, err)
	}
	l.check("after deletion", l.eng)
	l.crawl(cat)
	l.check("after deletion and a crawl", l.eng)
}
