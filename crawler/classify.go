package crawler

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stocklake/stocklake"
)

// Compression types, as Glue writes them in the compressionType parameter.
const (
	compNone = "none"
	compGzip = "gzip"
	compZstd = "zstd"
)

// fileInfo is what the crawler learns about one object.
type fileInfo struct {
	stocklake.ObjectInfo
	folder string // key of the parent folder, ending in '/' ("" at the top)

	read        bool   // its sample or footer was read this run
	format      string // stocklake.Format*, or "" when unknown
	compression string
	schema      *dtype // struct of the file's columns
	records     int64  // rows in a Parquet file, records sampled otherwise
	csv         csvSample
	multiline   bool  // JSON records spanning lines
	array       bool  // JSON records in a top-level array
	err         error // why the object could not be read or classified
	failed      bool  // err is a read error: try again next crawl
}

// signature is what files must share to be in one table.
func (f *fileInfo) signature() string {
	if f.format == stocklake.FormatCSV {
		return fmt.Sprintf("csv/%q/%t", f.csv.delim, f.csv.header)
	}
	return f.format
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// extensions maps file name endings to what they say about the content.
func extHints(key string) (base string, format string, delim rune) {
	name := strings.ToLower(path.Base(key))
	for _, ext := range []string{".gz", ".gzip", ".zst", ".zstd"} {
		name = strings.TrimSuffix(name, ext)
	}
	switch path.Ext(name) {
	case ".parquet", ".parq", ".pqt":
		return name, stocklake.FormatParquet, 0
	case ".json", ".jsonl", ".ndjson":
		return name, stocklake.FormatJSON, 0
	case ".csv":
		return name, stocklake.FormatCSV, 0
	case ".tsv", ".tab":
		return name, stocklake.FormatCSV, '\t'
	case ".psv":
		return name, stocklake.FormatCSV, '|'
	}
	return name, "", 0
}

// classify reads a Parquet footer, or a sample of any other object, and
// fills in the format and schema. Errors that concern the object alone are
// kept in f.err; only a cancelled ctx is returned.
func (c *Crawler) classify(ctx context.Context, f *fileInfo) error {
	f.read = true
	_, hint, delim := extHints(f.Key)
	if hint == stocklake.FormatParquet {
		t, rows, err := parquetFooter(ctx, c.store, f.Key, f.Size)
		if err != nil {
			return c.fileError(ctx, f, err)
		}
		f.format, f.compression, f.schema, f.records = stocklake.FormatParquet, compNone, lowerNames(t), rows
		return nil
	}

	rc, err := c.store.Get(ctx, f.Key)
	if err != nil {
		return c.fileError(ctx, f, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, int(min(max(f.Size, 512), 32<<10)))
	head, _ := br.Peek(4)
	if string(head) == parquetMagic {
		rc.Close()
		t, rows, err := parquetFooter(ctx, c.store, f.Key, f.Size)
		if err != nil {
			return c.fileError(ctx, f, err)
		}
		f.format, f.compression, f.schema, f.records = stocklake.FormatParquet, compNone, lowerNames(t), rows
		return nil
	}

	var r io.Reader = br
	f.compression = compNone
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return c.fileError(ctx, f, fmt.Errorf("corrupt gzip: %w", err))
		}
		defer zr.Close()
		r, f.compression = zr, compGzip
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return c.fileError(ctx, f, fmt.Errorf("corrupt zstd: %w", err))
		}
		defer zr.Close()
		r, f.compression = zr, compZstd
	}
	limit := c.cfg.SampleBytes
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	truncated := int64(len(data)) > limit
	if truncated {
		data = data[:limit]
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if f.compression == compNone || len(data) == 0 {
			return c.fileError(ctx, f, err)
		}
		// A damaged compressed stream: infer from what decompressed.
		truncated = true
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		f.err = errors.New("empty")
		return nil
	}
	if (trimmed[0] == '{' || trimmed[0] == '[') && hint != stocklake.FormatCSV {
		js, err := inferJSON(trimmed, truncated, c.cfg.SampleRecords)
		if err == nil {
			f.format, f.schema, f.records = stocklake.FormatJSON, js.schema, int64(js.records)
			f.multiline, f.array = js.multiline, js.array
			return nil
		}
		if hint == stocklake.FormatJSON {
			f.err = err
			return nil
		}
	}
	cs, err := inferCSV(data, truncated, delim, c.cfg.SampleRecords)
	if err != nil {
		f.err = fmt.Errorf("not Parquet, JSON or delimited text: %w", err)
		return nil
	}
	st := &dtype{kind: kStruct}
	for i, n := range cs.names {
		st.fields = append(st.fields, field{name: n, t: cs.types[i]})
	}
	f.format, f.schema, f.records, f.csv = stocklake.FormatCSV, st, int64(cs.records), cs
	return nil
}

// fileError records a read error, unless the crawl was cancelled.
func (c *Crawler) fileError(ctx context.Context, f *fileInfo, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.err, f.failed = err, true
	return nil
}
