package file

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/objectstoretest"
)

func newStore(t testing.TB) *ObjectStore {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	objectstoretest.Run(t, func(t *testing.T) stocklake.ObjectStore { return newStore(t) })
}

// tempFiles returns the temporary files left anywhere under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), TempPrefix) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestNoTempFilesLeft(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Put(ctx, "a/b", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a/c", io.MultiReader(strings.NewReader("partial"), iotestErrReader{})); err == nil {
		t.Fatal("Put with a failing body succeeded")
	}
	if left := tempFiles(t, s.Dir()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "c")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Put left a/c in place: %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("broken body") }

func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	s := newStore(t)
	// Create the real temporary file, but hand Put a file whose writes fail
	// with ENOSPC, as on a full disk.
	s.openTemp = func(dir string) (*os.File, string, error) {
		f, name, err := openTemp(dir)
		if err != nil {
			return nil, "", err
		}
		f.Close()
		full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		return full, name, err
	}
	err := s.Put(t.Context(), "ticks/dt=2026-11-26/x.parquet", bytes.NewReader(make([]byte, 3<<20)))
	if err == nil {
		t.Fatal("Put to a full disk succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"disk is full", "ticks/dt=2026-11-26/x.parquet", s.Dir()} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, stocklake.ErrUnavailable) {
		t.Errorf("error %v does not wrap ENOSPC and ErrUnavailable", err)
	}
	if left := tempFiles(t, s.Dir()); len(left) != 0 {
		t.Errorf("temporary files left after ENOSPC: %q", left)
	}
	if entries, _ := os.ReadDir(s.Dir()); len(entries) != 0 {
		t.Errorf("folders made for the failed object are left: %v", entries)
	}
	if _, err := s.Stat(t.Context(), "ticks/dt=2026-11-26/x.parquet"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("Stat after a failed Put: %v, want ErrNotFound", err)
	}
}

func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "ticks", "dt=2026-11-26")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(sub, TempPrefix+"old")
	fresh := filepath.Join(sub, TempPrefix+"new")
	object := filepath.Join(sub, "a.parquet")
	for _, p := range []string{stale, fresh, object} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * StaleTempAge)
	for _, p := range []string{stale, object} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file (maybe being written) removed: %v", err)
	}
	if _, err := os.Stat(object); err != nil {
		t.Errorf("old object removed: %v", err)
	}
	l, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].Key != "ticks/dt=2026-11-26/a.parquet" {
		t.Errorf("List = %+v, want only the object, not the temporary file", l)
	}
}

func TestDeletePrunesFolders(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, k := range []string{"a/b/c/d", "a/x"} {
		if err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty folder a/b not pruned: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "x")); err != nil {
		t.Errorf("sibling a/x gone: %v", err)
	}
	if err := s.Delete(ctx, "a/x"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatalf("lake directory itself removed: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("lake directory not empty after deleting everything: %v", entries)
	}
}

func TestKeyFolderClash(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Put(ctx, "a/b", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "a/b/c"} {
		err := s.Put(ctx, key, strings.NewReader("y"))
		if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "folder") {
			t.Errorf("Put(%q) next to a/b: err %v, want ErrInvalid explaining the folder clash", key, err)
		}
	}
	if left := tempFiles(t, s.Dir()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestPutDeleteSameFolder checks that Put into a folder never fails while
// Delete keeps pruning that folder.
func TestPutDeleteSameFolder(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 300 {
			_ = s.Put(ctx, "x/y/a", strings.NewReader("a"))
			_ = s.Delete(ctx, "x/y/a")
		}
	}()
	for i := range 300 {
		if err := s.Put(ctx, "x/y/b", strings.NewReader("b")); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
		if err := s.Delete(ctx, "x/y/b"); err != nil {
			t.Fatalf("Delete %d: %v", i, err)
		}
	}
	<-done
}

func TestReservedTempPrefix(t *testing.T) {
	s := newStore(t)
	err := s.Put(t.Context(), "a/"+TempPrefix+"x", strings.NewReader("x"))
	if !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("Put of a key in the temporary namespace: err %v, want ErrInvalid", err)
	}
}

func TestWalkRoot(t *testing.T) {
	for _, tc := range []struct{ prefix, root string }{
		{"", ""},
		{"ticks", ""},
		{"ticks/", "ticks"},
		{"ticks/dt=2026-11", "ticks"},
		{"ticks/dt=2026-11-26/", "ticks/dt=2026-11-26"},
		{"ticks/dt=2026-11-26/hour=1", "ticks/dt=2026-11-26"},
		{"a/..b", "a"},
	} {
		root, err := walkRoot(tc.prefix)
		if err != nil || root != tc.root {
			t.Errorf("walkRoot(%q) = %q, %v; want %q", tc.prefix, root, err, tc.root)
		}
	}
	for _, p := range []string{"/", "../", "a/../b", "a//", "./"} {
		if _, err := walkRoot(p); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("walkRoot(%q): err %v, want ErrInvalid", p, err)
		}
	}
	// Only folders that can hold matching keys are entered.
	for _, tc := range []struct {
		dir, prefix string
		want        bool
	}{
		{"ticks", "ticks/dt=2026-11", true},
		{"ticks/dt=2026-11-26", "ticks/dt=2026-11", true},
		{"ticks/dt=2026-10-01", "ticks/dt=2026-11", false},
		{"ticks-old", "ticks/", false},
		{"ticks/dt=2026-11-26/hour=14", "ticks/dt=2026-11-26/", true},
	} {
		if got := mayContain(tc.dir, tc.prefix); got != tc.want {
			t.Errorf("mayContain(%q, %q) = %v, want %v", tc.dir, tc.prefix, got, tc.want)
		}
	}
}

func TestURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my lake")
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "file:///") || u.Scheme != Type || u.Path != s.Dir() || !filepath.IsAbs(u.Path) {
		t.Errorf("URL() = %q parses to scheme %q path %q, want file and %q", s.URL(), u.Scheme, u.Path, s.Dir())
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("New did not create %s: %v", dir, err)
	}
}

func TestNewOnFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(p); err == nil {
		t.Error("New on a regular file succeeded")
	}
	if _, err := New(""); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("New(\"\"): err %v, want ErrConfig", err)
	}
}

// BenchmarkPut writes 64 MiB objects; the MB/s column is Put's throughput
// including fsync.
func BenchmarkPut(b *testing.B) {
	s := newStore(b)
	body := make([]byte, 64<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := s.Put(b.Context(), "bench/object.bin", bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPutFenced: a write or delete fenced on an object's version happens
// only while that object is at the version, and never after another
// writer's PutIf moved it on (the sink's zombie fence).
func TestPutFenced(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	fence := "_stocklake/sink/t/id/0.json"
	v1, err := s.PutIf(ctx, fence, strings.NewReader(`{"epoch":1}`), stocklake.IfAbsent)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutFenced(ctx, "t/dt=x/a.parquet", strings.NewReader("owner 1"), fence, v1); err != nil {
		t.Fatalf("PutFenced at the current version: %v", err)
	}
	// A successor claims the partition.
	if _, err := s.PutIf(ctx, fence, strings.NewReader(`{"epoch":2}`), v1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFenced(ctx, "t/dt=x/a.parquet", strings.NewReader("zombie"), fence, v1); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Fatalf("PutFenced after the fence moved on: %v, want ErrPrecondition", err)
	}
	if err := s.DeleteFenced(ctx, "t/dt=x/a.parquet", fence, v1); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Fatalf("DeleteFenced after the fence moved on: %v, want ErrPrecondition", err)
	}
	rc, err := s.Get(ctx, "t/dt=x/a.parquet")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "owner 1" {
		t.Errorf("object = %q after refused writes, want the owner's", b)
	}
	objs, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(o.Key, ".stocklake-") {
			t.Errorf("List shows %s: lock and temporary files are not objects", o.Key)
		}
	}
	if err := s.PutFenced(ctx, "t/dt=x/b.parquet", strings.NewReader("x"), "missing.json", v1); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Errorf("PutFenced on a missing fence: %v, want ErrPrecondition", err)
	}
}
