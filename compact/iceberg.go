package compact

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
)

// smallFile is the share of the target size below which a data file of
// an Iceberg table is merged: files of 3/4 of the target or more stay.
const smallFileNum, smallFileDen = 3, 4

// Table compacts one table whose files a rewrite replaces atomically (an
// Iceberg table): in each partition, the small data files (below 3/4 of
// TargetFileSize) whose commits are older than MinAge are bin-packed into
// files near TargetFileSize, rows sorted by (symbol, ts), written under the
// table's data/<partition>/ folder as compacted-<run>-NNNNN.parquet, and
// swapped in with one Rewrite per partition. A partition still receiving
// appends is compacted too: the rewrite replaces only the files it read,
// and commits that land meanwhile are kept (Rewrite retries on the
// refreshed table). A compactor killed before its Rewrite leaves files no
// snapshot references: orphans, which `maintain` removes once they are
// --orphan-age old; readers never see them.
func (c *Compactor) Table(ctx context.Context, t stocklake.RewritableTable) (Result, error) {
	res := Result{Tables: 1}
	files, err := t.DataFiles(ctx)
	if err != nil {
		return res, fmt.Errorf("compact: listing the files of %s: %w", t.Name(), err)
	}
	now := c.cfg.Now()
	small := c.cfg.TargetFileSize * smallFileNum / smallFileDen
	byPart := map[string][]stocklake.TableDataFile{}
	var parts []string
	for _, f := range files {
		if f.Size >= small {
			continue
		}
		if !f.Added.IsZero() && now.Sub(f.Added) < c.cfg.MinAge {
			continue
		}
		if _, ok := byPart[f.Partition]; !ok {
			parts = append(parts, f.Partition)
		}
		byPart[f.Partition] = append(byPart[f.Partition], f)
	}
	slices.Sort(parts)
	for _, p := range parts {
		if err := c.icebergPartition(ctx, t, p, byPart[p], &res); err != nil {
			return res, err
		}
	}
	c.stats.Passes.Add(1)
	return res, nil
}

// icebergPartition bin-packs the small files of one partition and swaps
// the bins of two or more files in.
func (c *Compactor) icebergPartition(ctx context.Context, t stocklake.RewritableTable, part string, files []stocklake.TableDataFile, res *Result) error {
	if seg, _, _ := strings.Cut(part, "/"); part != "" && !strings.Contains(seg, "=") {
		return nil // files of an older partition spec ("specN/..."): left as they are
	}
	// Oldest first, so a bin holds rows that arrived together.
	slices.SortStableFunc(files, func(a, b stocklake.TableDataFile) int {
		if c := a.Added.Compare(b.Added); c != 0 {
			return c
		}
		return strings.Compare(a.URL, b.URL)
	})
	var bins [][]stocklake.TableDataFile
	var bin []stocklake.TableDataFile
	var size int64
	for _, f := range files {
		if len(bin) > 0 && size+f.Size > c.cfg.TargetFileSize {
			bins = append(bins, bin)
			bin, size = nil, 0
		}
		bin = append(bin, f)
		size += f.Size
	}
	bins = append(bins, bin)
	run := newRunID(c.cfg.Now())
	var remove, add []stocklake.LakeFile
	var written []string
	var inBytes, outBytes int64
	for i, b := range bins {
		if len(b) < 2 {
			continue
		}
		key, ok := t.PartitionFileKey(part, fmt.Sprintf("compacted-%s-%05d.parquet", run, i))
		if !ok {
			c.skip(res, stocklake.Table{Name: t.Name()}, part, "the table lives outside the lake "+c.base)
			return nil
		}
		n, err := c.writeFiles(ctx, b, key)
		if errors.Is(err, errSchemaDiffers) {
			c.skip(res, stocklake.Table{Name: t.Name()}, part, err.Error())
			continue
		}
		if err != nil {
			return fmt.Errorf("compact: merging partition %q of %s: %w", part, t.Name(), err)
		}
		written = append(written, key)
		add = append(add, stocklake.LakeFile{URL: c.base + "/" + key})
		outBytes += n
		for _, f := range b {
			remove = append(remove, stocklake.LakeFile{URL: f.URL})
			inBytes += f.Size
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := c.step(ctx, "written"); err != nil {
		return err
	}
	if _, err := t.Rewrite(ctx, remove, add); err != nil {
		if errors.Is(err, stocklake.ErrInvalid) {
			// Another compactor replaced some of the files first: this
			// pass's files were never committed; drop them.
			c.cfg.Log.Warn("partition changed under the compaction; its merged files are dropped and it is compacted again at the next pass",
				"table", t.Name(), "partition", part, "err", err)
			for _, k := range written {
				if derr := c.store.Delete(ctx, k); derr != nil {
					c.cfg.Log.Warn("could not delete an uncommitted merged file; orphan cleanup removes it", "key", k, "err", derr)
				}
			}
			return nil
		}
		return fmt.Errorf("compact: committing the rewrite of partition %q of %s (its merged files, if not committed, are orphans that `maintain` removes): %w", part, t.Name(), err)
	}
	if err := c.step(ctx, "swapped"); err != nil {
		return err
	}
	c.stats.PartitionsCompacted.Add(1)
	c.stats.FilesRewritten.Add(int64(len(remove)))
	c.stats.BytesRewritten.Add(inBytes)
	c.stats.FilesWritten.Add(int64(len(add)))
	c.stats.BytesWritten.Add(outBytes)
	res.PartitionsCompacted++
	res.FilesRewritten += len(remove)
	res.BytesRewritten += inBytes
	res.FilesWritten += len(add)
	c.cfg.Log.Info("partition compacted", "table", t.Name(), "partition", part,
		"files", len(remove), "bytes", inBytes, "merged_files", len(add), "merged_bytes", outBytes)
	return nil
}

var errSchemaDiffers = errors.New("files with different schemas")

// writeFiles merges the rows of files into one file at key, streaming:
// one input at a time is read (see openInput), into a sorter that holds
// at most Config.SortRunRows rows (or MaxMemory/8 of them).
func (c *Compactor) writeFiles(ctx context.Context, files []stocklake.TableDataFile, key string) (int64, error) {
	var s *sorter
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	for _, f := range files {
		k, ok := strings.CutPrefix(f.URL, c.base+"/")
		if !ok {
			return 0, fmt.Errorf("%s is not in the lake %s: %w", f.URL, c.base, stocklake.ErrInvalid)
		}
		in, err := c.openInput(ctx, k, f.Size)
		if err != nil {
			return 0, err
		}
		if s == nil {
			s = c.newSorter(in.file.Schema())
		} else if !parquet.EqualNodes(s.schema, in.file.Schema()) {
			in.release()
			return 0, fmt.Errorf("%s: %s has another schema than the files before it; left alone: %w", key, k, errSchemaDiffers)
		}
		if err := s.addInput(in); err != nil {
			return 0, fmt.Errorf("%s: %w", k, err)
		}
	}
	return c.putSorted(ctx, s, key)
}
