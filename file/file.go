// Package file implements stocklake.ObjectStore on a local directory: the
// embedded default lake. Each key is a file under the directory, written
// atomically (temporary file, fsync, rename, fsync of the folder), so a crash
// never leaves a partial object visible.
package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stocklake/stocklake"
)

// Type is the URL scheme of this backend: file:///path/to/lake.
const Type = "file"

// TempPrefix starts the name of every temporary file that Put writes before
// renaming it into place. List never returns such files and keys whose
// segments start with it are rejected.
const TempPrefix = ".stocklake-tmp-"

// StaleTempAge is how old a temporary file must be before New removes it as
// left over by a crashed writer: 1 hour.
const StaleTempAge = time.Hour

var _ stocklake.ObjectStore = (*ObjectStore)(nil)

// ObjectStore is a lake in a local directory. Keys map to files under the
// directory ('/' becomes the OS path separator). It is safe for concurrent use
// by several goroutines, and by several processes as long as they do not Put
// the same key at the same time (the last rename wins, as with S3).
type ObjectStore struct {
	dir string // absolute, cleaned

	// openTemp creates the temporary file for Put; tests replace it.
	openTemp func(dir string) (*os.File, string, error)
}

// New opens the lake in dir, creating the directory (and its parents) if
// needed. It removes, best effort, temporary files older than StaleTempAge
// that a crashed writer left behind.
func New(dir string) (*ObjectStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("file: empty lake directory: give a path, e.g. file://./stocklake-data/lake: %w", stocklake.ErrConfig)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: lake directory %q: %w: %w", dir, err, stocklake.ErrConfig)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("file: creating lake directory %s: %w", abs, pathError(err))
	}
	// Walking starts at the lake directory, so it must not be a symlink.
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("file: lake directory %s: %w", dir, pathError(err))
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("file: lake directory %s: %w", abs, pathError(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("file: lake %s is a file, not a directory: choose another path: %w", abs, stocklake.ErrConfig)
	}
	s := &ObjectStore{dir: abs, openTemp: openTemp}
	s.removeStaleTemps(time.Now().Add(-StaleTempAge))
	return s, nil
}

// Dir returns the absolute path of the lake directory.
func (s *ObjectStore) Dir() string { return s.dir }

// URL returns file:// followed by the absolute, escaped path of the lake.
func (s *ObjectStore) URL() string {
	return (&url.URL{Scheme: Type, Path: filepath.ToSlash(s.dir)}).String()
}

// Put writes body to a temporary file in the key's folder, fsyncs it, renames
// it over the key and fsyncs the folder. Readers see the old object or the
// new one, never a partial one. A full disk is reported with the path, and
// the temporary file is removed.
func (s *ObjectStore) Put(ctx context.Context, key string, body io.Reader) (err error) {
	return s.put(ctx, key, body, nil)
}

// put writes key as Put describes. If guard is set, it runs just before the
// rename that makes the object visible and its release after it: the
// rename happens only if guard returns nil, while guard's lock is held.
func (s *ObjectStore) put(ctx context.Context, key string, body io.Reader, guard func() (release func(), err error)) (err error) {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: put %s: %w", key, err)
	}
	dir := filepath.Dir(path)

	// A concurrent Delete may prune the folder between creating it and
	// creating the temporary file in it; try again a few times.
	var (
		f   *os.File
		tmp string
	)
	for attempt := 1; ; attempt++ {
		err = s.mkdirAll(dir)
		if err == nil {
			f, tmp, err = s.openTemp(dir)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrNotExist) || attempt == 20 {
				return fmt.Errorf("file: put %s: creating temporary file in %s: %w", key, dir, pathError(err))
			}
		} else if !errors.Is(err, fs.ErrNotExist) || attempt == 20 {
			return fmt.Errorf("file: put %s: creating folder %s: %w", key, dir, s.keyError(err))
		}
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			s.prune(dir) // folders made for this object
		}
	}()

	bufp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(onlyWriter{f}, ctxReader{ctx, body}, *bufp)
	copyBufs.Put(bufp)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("file: put %s: %w", key, ctx.Err())
		}
		return fmt.Errorf("file: put %s: writing %s: %w", key, path, pathError(err))
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("file: put %s: syncing %s: %w", key, tmp, pathError(err))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("file: put %s: closing %s: %w", key, tmp, pathError(err))
	}
	if guard != nil {
		release, gerr := guard()
		if gerr != nil {
			err = fmt.Errorf("file: put %s: %w", key, gerr)
			return err
		}
		defer release()
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("file: put %s: renaming %s to %s: %w", key, tmp, path, s.keyError(err))
	}
	if err := syncDir(dir); err != nil {
		// The object is in place; only its durability is in doubt.
		return fmt.Errorf("file: put %s: syncing folder %s: %w", key, dir, pathError(err))
	}
	return nil
}

// Get opens the file of key; a missing key wraps stocklake.ErrNotFound.
func (s *ObjectStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := s.open(ctx, key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// GetRange reads length bytes at offset, fewer at the end of the object;
// length < 0 reads to the end. An offset past the end wraps
// stocklake.ErrInvalid.
func (s *ObjectStore) GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if offset < 0 {
		return nil, fmt.Errorf("file: get %s: negative offset %d: %w", key, offset, stocklake.ErrInvalid)
	}
	f, fi, err := s.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fi.Size()
	if offset > size {
		return nil, fmt.Errorf("file: get %s: offset %d is past the end of the %d-byte object: %w", key, offset, size, stocklake.ErrInvalid)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("file: get %s: %w", key, pathError(err))
	}
	return buf[:m], nil
}

// Stat describes the file of key; a missing key wraps stocklake.ErrNotFound.
func (s *ObjectStore) Stat(ctx context.Context, key string) (stocklake.ObjectInfo, error) {
	path, err := s.path(key)
	if err != nil {
		return stocklake.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return stocklake.ObjectInfo{}, fmt.Errorf("file: stat %s: %w", key, err)
	}
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return stocklake.ObjectInfo{}, s.notFound("stat", key, path, err)
	}
	return stocklake.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List returns the objects whose keys start with prefix, sorted by key. It
// reads only the deepest folder that prefix names and the folders under it
// that can hold matching keys. Temporary files are skipped.
func (s *ObjectStore) List(ctx context.Context, prefix string) ([]stocklake.ObjectInfo, error) {
	rootKey, err := walkRoot(prefix)
	if err != nil {
		return nil, err
	}
	root := s.dir
	if rootKey != "" {
		root = filepath.Join(s.dir, filepath.FromSlash(rootKey))
	}
	var out []stocklake.ObjectInfo
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				// The root is missing or a file, or a folder vanished
				// under a concurrent Delete: nothing to list there.
				if d != nil && d.IsDir() && path != root {
					return fs.SkipDir
				}
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == root {
			if !d.IsDir() {
				return fs.SkipAll
			}
			return nil
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), TempPrefix) || strings.HasPrefix(d.Name(), lockPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !mayContain(key, prefix) {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(path)
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		out = append(out, stocklake.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("file: list %q: %w", prefix, ctx.Err())
		}
		return nil, fmt.Errorf("file: list %q: %w", prefix, pathError(err))
	}
	// Folders are walked in name order, which is not key order: "a-b" sorts
	// before "a/c" as a key but after "a" as a folder name.
	slices.SortFunc(out, func(a, b stocklake.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes the file of key and then the folders above it that became
// empty, up to but not including the lake directory. Deleting a missing key
// is not an error.
func (s *ObjectStore) Delete(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: delete %s: %w", key, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("file: delete %s: %w", key, pathError(err))
	}
	if fi.IsDir() {
		return nil // a folder is not an object
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file: delete %s: %w", key, pathError(err))
	}
	// Make the removal durable; best effort, the object is already gone.
	_ = syncDir(s.prune(filepath.Dir(path)))
	return nil
}

// prune removes dir and its parents while they are empty, stopping at the
// lake directory, and returns the first folder it kept.
func (s *ObjectStore) prune(dir string) string {
	for dir != s.dir && strings.HasPrefix(dir, s.dir) {
		if os.Remove(dir) != nil {
			break // not empty (or gone): stop pruning
		}
		dir = filepath.Dir(dir)
	}
	return dir
}

// open opens key for reading and checks that it is a regular file.
func (s *ObjectStore) open(ctx context.Context, key string) (*os.File, fs.FileInfo, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("file: get %s: %w", key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, s.notFound("get", key, path, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, nil, s.notFound("get", key, path, err)
	}
	return f, fi, nil
}

// path validates key and returns its file path.
func (s *ObjectStore) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// notFound maps a missing file (or a path through a file) to ErrNotFound.
func (s *ObjectStore) notFound(op, key, path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("file: %s %s: no object at %s: %w", op, key, path, stocklake.ErrNotFound)
	}
	return fmt.Errorf("file: %s %s: %w", op, key, pathError(err))
}

// keyError explains errors that come from a key clashing with a folder or a
// file of the same name, which S3 allows but a directory cannot hold.
func (s *ObjectStore) keyError(err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
		return fmt.Errorf("%v: a key cannot be both an object and a folder of other objects in a directory lake: choose another key: %w", err, stocklake.ErrInvalid)
	}
	return pathError(err)
}

// mkdirAll creates dir and its missing parents, fsyncing the folder that
// receives each new entry, so that a durable object is also reachable after
// a crash.
func (s *ObjectStore) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return syncDir(parent)
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, serr := os.Stat(dir)
		switch {
		case serr == nil && fi.IsDir():
			return nil // created concurrently
		case errors.Is(serr, fs.ErrNotExist) && attempt < 100:
			continue // created and pruned again concurrently: try again
		}
		return err
	}
}

// removeStaleTemps removes temporary files last modified before cutoff.
func (s *ObjectStore) removeStaleTemps(cutoff time.Time) {
	_ = filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // best effort: skip what cannot be read
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), TempPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(path)
		}
		return nil
	})
}

// openTemp creates a new, empty temporary file in dir.
func openTemp(dir string) (*os.File, string, error) {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := filepath.Join(dir, TempPrefix+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
}

// syncDir fsyncs a folder so that entries added, renamed or removed in it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil // file systems that cannot sync folders
	}
	return err
}

// pathError adds advice to errors a user can fix.
func pathError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("the disk is full: free space or move the lake to a larger disk: %w (%w)", stocklake.ErrUnavailable, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: check the lake directory's permissions: %w", err, stocklake.ErrConfig)
	}
	return err
}

// checkKey accepts keys of '/'-separated segments, none empty, "." or "..",
// not starting with TempPrefix, with no NUL byte.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("file: empty key: %w", stocklake.ErrInvalid)
	}
	if strings.HasPrefix(key, "/") || strings.ContainsRune(key, 0) || (filepath.Separator != '/' && strings.ContainsRune(key, filepath.Separator)) {
		return fmt.Errorf("file: key %q must be a relative '/'-separated path: %w", key, stocklake.ErrInvalid)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

func checkSegment(key, seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("file: key %q has an empty path segment: %w", key, stocklake.ErrInvalid)
	case seg == "." || seg == "..":
		return fmt.Errorf("file: key %q has a %q segment, which would leave the lake: %w", key, seg, stocklake.ErrInvalid)
	case strings.HasPrefix(seg, TempPrefix), strings.HasPrefix(seg, lockPrefix):
		return fmt.Errorf("file: key %q uses a reserved prefix (%q or %q): %w", key, TempPrefix, lockPrefix, stocklake.ErrInvalid)
	}
	return nil
}

// walkRoot returns the deepest folder (as a key, "" for the lake root) that
// holds every key starting with prefix, after checking the prefix's complete
// segments. The last segment may be partial: "ticks/dt=2026-11" gives
// "ticks".
func walkRoot(prefix string) (string, error) {
	if strings.HasPrefix(prefix, "/") || strings.ContainsRune(prefix, 0) {
		return "", fmt.Errorf("file: list prefix %q must be a relative '/'-separated path: %w", prefix, stocklake.ErrInvalid)
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", nil
	}
	dir := prefix[:i]
	for seg := range strings.SplitSeq(dir, "/") {
		if err := checkSegment(prefix, seg); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// mayContain reports whether the folder dirKey can hold keys that start
// with prefix.
func mayContain(dirKey, prefix string) bool {
	d := dirKey + "/"
	return strings.HasPrefix(d, prefix) || strings.HasPrefix(prefix, d)
}

// copyBufs holds 1 MiB copy buffers: larger writes than io.Copy's 32 KiB
// make Put of big objects cheaper.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// onlyWriter hides *os.File's ReadFrom so io.CopyBuffer uses our buffer.
type onlyWriter struct{ io.Writer }

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
