package compact

import (
	"cmp"
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

// tierGrowth bounds the write amplification of compacting a partition that
// is still being written (see tierBins): there a file is merged only into a
// bin at least tierGrowth times its size (in bytes of input files), so a
// bin has at least tierGrowth inputs, or at least twice its size when the
// bin fills a file to 3/4 of the target. While the partition is written, a
// row is thus rewritten about log4(target / its first file's size) times
// (never more than log2 of that ratio): 3 or 4 times for 1-second files in
// practice; when it settles, at most once more. Before, the growing merged
// file was merged again with each pass's new files: a day partition's rows
// were rewritten up to once per pass. The cost is up to 3 files per size
// tier (4x apart) waiting to merge, a few dozen at most whatever the data,
// and files above half the target waiting for the partition to settle.
const tierGrowth = 4

// Table compacts one table whose files a rewrite replaces atomically (an
// Iceberg table). In each partition, the small data files (below 3/4 of
// TargetFileSize) whose commits are older than MinAge are merged into
// files near TargetFileSize, rows sorted by (symbol, ts), written under the
// table's data/<partition>/ folder as compacted-<run>-NNNNN.parquet, and
// swapped in with one Rewrite per partition. Which files are merged
// depends on whether the partition is settled:
//
//   - settled (none of its files, merged ones included, was committed in
//     the last MinAge): every small file is bin-packed, oldest first, and
//     each bin of two or more files is merged, so a partition ends with
//     few files near the target;
//   - still being written: by size tiers (tierBins): a file is merged only
//     into a bin that is tierGrowth times its size, or twice its size and
//     fills a file to 3/4 of the target, which is then left alone. A pass
//     thus never rewrites a large merged file to add a minute of new rows
//     to it (the rows of a partition written all day would be rewritten
//     once per pass), and never merges two or three small files for
//     nothing.
//
// A partition still receiving appends is compacted safely: the rewrite
// replaces only the files it read, and commits that land meanwhile are
// kept (Rewrite retries on the refreshed table). A compactor killed before
// its Rewrite leaves files no snapshot references: orphans, which
// `maintain` removes once they are --orphan-age old; readers never see
// them.
func (c *Compactor) Table(ctx context.Context, t stocklake.RewritableTable) (Result, error) {
	res := Result{Tables: 1}
	files, err := t.DataFiles(ctx)
	if err != nil {
		return res, fmt.Errorf("compact: listing the files of %s: %w", t.Name(), err)
	}
	now := c.cfg.Now()
	small := c.cfg.TargetFileSize * smallFileNum / smallFileDen
	byPart := map[string][]stocklake.TableDataFile{}
	writing := map[string]bool{} // partitions with a file younger than MinAge
	var parts []string
	for _, f := range files {
		if !f.Added.IsZero() && now.Sub(f.Added) < c.cfg.MinAge {
			writing[f.Partition] = true
			continue
		}
		if f.Size >= small {
			continue
		}
		if _, ok := byPart[f.Partition]; !ok {
			parts = append(parts, f.Partition)
		}
		byPart[f.Partition] = append(byPart[f.Partition], f)
	}
	slices.Sort(parts)
	for _, p := range parts {
		if err := c.icebergPartition(ctx, t, p, byPart[p], !writing[p], &res); err != nil {
			return res, err
		}
	}
	c.stats.Passes.Add(1)
	return res, nil
}

// packBins bin-packs the files of a settled partition, oldest first (so a
// bin holds rows that arrived together), into bins of at most target
// bytes; it returns the bins of two or more files.
func packBins(files []stocklake.TableDataFile, target int64) [][]stocklake.TableDataFile {
	slices.SortStableFunc(files, func(a, b stocklake.TableDataFile) int {
		if c := a.Added.Compare(b.Added); c != 0 {
			return c
		}
		return strings.Compare(a.URL, b.URL)
	})
	var bins [][]stocklake.TableDataFile
	var bin []stocklake.TableDataFile
	var size int64
	flush := func() {
		if len(bin) >= 2 {
			bins = append(bins, bin)
		}
		bin, size = nil, 0
	}
	for _, f := range files {
		if len(bin) > 0 && size+f.Size > target {
			flush()
		}
		bin = append(bin, f)
		size += f.Size
	}
	flush()
	return bins
}

// tierBins plans the merges of the small files of a partition still being
// written. A bin (at most target bytes) is merged when its largest file is
// at most 1/tierGrowth of the bin (the other files together are
// tierGrowth-1 times its size), or when the bin reaches done bytes (3/4 of
// the target) and its largest file is at most half of it. Smallest files
// first: each bin is the longest run of the next smallest files that
// qualifies; a file that starts no such run is left for a later pass.
//
// So each time a row is rewritten, its file grows tierGrowth times, or at
// least doubles into a file of 3/4 of the target. (The doubling matters:
// sorted merged rows compress a little better than their inputs, so a
// merged file can fall back just below 3/4 of the target, and it must not
// be rewritten for a few new rows at each pass.) With files
// landing every second and a pass every minute, a pass merges a minute's
// files into one, four of those into one four times bigger, and so on:
// bytes rewritten stay O(log) times the data rather than O(passes), and
// files per partition (tierGrowth-1) * log4(target / file size) beyond the
// ones above half the target.
func tierBins(files []stocklake.TableDataFile, target, done int64) [][]stocklake.TableDataFile {
	slices.SortStableFunc(files, func(a, b stocklake.TableDataFile) int {
		if c := cmp.Compare(a.Size, b.Size); c != 0 {
			return c
		}
		if c := a.Added.Compare(b.Added); c != 0 {
			return c
		}
		return strings.Compare(a.URL, b.URL)
	})
	var bins [][]stocklake.TableDataFile
	for len(files) > 1 {
		var size int64
		n := 0 // the longest qualifying run: files[:n]
		for i, f := range files {
			if size+f.Size > target {
				break
			}
			// files[i] is the run's largest: the files before it must
			// come to tierGrowth-1 times its size, or to its size when
			// the run fills a file.
			if i > 0 && (size >= (tierGrowth-1)*f.Size || size >= f.Size && size+f.Size >= done) {
				n = i + 1
			}
			size += f.Size
		}
		if n == 0 {
			// No run starts at the smallest file: its partners are yet
			// to come. (The runs tried grow geometrically, so this loop
			// is short.)
			files = files[1:]
			continue
		}
		bins = append(bins, files[:n])
		files = files[n:]
	}
	return bins
}

// icebergPartition merges the small files of one partition as Table
// describes (settled: all of them bin-packed; else by size tiers) and
// swaps the merged files in.
func (c *Compactor) icebergPartition(ctx context.Context, t stocklake.RewritableTable, part string, files []stocklake.TableDataFile, settled bool, res *Result) error {
	if seg, _, _ := strings.Cut(part, "/"); part != "" && !strings.Contains(seg, "=") {
		return nil // files of an older partition spec ("specN/..."): left as they are
	}
	var bins [][]stocklake.TableDataFile
	if settled {
		bins = packBins(files, c.cfg.TargetFileSize)
	} else {
		bins = tierBins(files, c.cfg.TargetFileSize, c.cfg.TargetFileSize*smallFileNum/smallFileDen)
	}
	run := newRunID(c.cfg.Now())
	var remove, add []stocklake.LakeFile
	var written []string
	var inBytes, outBytes int64
	for i, b := range bins {
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
		"files", len(remove), "bytes", inBytes, "merged_files", len(add), "merged_bytes", outBytes, "settled", settled)
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
