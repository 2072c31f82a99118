// Package objectstoretest holds the contract tests that every
// stocklake.ObjectStore backend must pass. A backend's tests call Run with a
// function that returns a new, empty store.
package objectstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// LargeSize is the size of the object that Run's LargeObject test writes:
// 12 MiB, more than two parts for an S3 store with a 5 MiB part size.
const LargeSize = 12 << 20

// Run runs the ObjectStore contract tests as subtests of t. newStore must
// return a new, empty store each time it is called; it may register cleanup
// with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) stocklake.ObjectStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s stocklake.ObjectStore)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"Empty", testEmpty},
		{"GetRange", testGetRange},
		{"Missing", testMissing},
		{"List", testList},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"FailedPutKeepsOld", testFailedPutKeepsOld},
		{"Canceled", testCanceled},
		{"LargeObject", testLargeObject},
		{"ConcurrentPuts", testConcurrentPuts},
		{"URL", testURL},
		{"PutIf", testPutIf},
		{"PutIfConcurrent", testPutIfConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func testPutGet(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	key := "ticks/dt=2026-11-26/hour=14/part-0.parquet"
	body := []byte("hello, lake")
	before := time.Now().Add(-time.Hour)
	put(t, s, key, body)
	if got := get(t, s, key); !bytes.Equal(got, body) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, body)
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(body)) {
		t.Errorf("Stat(%q) = %+v, want key %q size %d", key, info, key, len(body))
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Errorf("Stat(%q).ModTime = %v, want about now", key, info.ModTime)
	}
	// A key with unusual but valid characters.
	odd := "sym=BRK.B/a b+c%d=é.json"
	put(t, s, odd, []byte("{}"))
	if got := get(t, s, odd); string(got) != "{}" {
		t.Errorf("Get(%q) = %q, want {}", odd, got)
	}
	assertKeys(t, s, "sym=", []string{odd})
}

func testOverwrite(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	put(t, s, "k", []byte("first version, longer"))
	put(t, s, "k", []byte("second"))
	if got := get(t, s, "k"); string(got) != "second" {
		t.Fatalf("Get after overwrite = %q, want %q", got, "second")
	}
	info, err := s.Stat(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 6 {
		t.Errorf("Stat after overwrite: size %d, want 6", info.Size)
	}
	assertKeys(t, s, "", []string{"k"})
}

func testEmpty(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	put(t, s, "empty", nil)
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Errorf("Get(empty) = %q, want nothing", got)
	}
	info, err := s.Stat(ctx, "empty")
	if err != nil || info.Size != 0 {
		t.Errorf("Stat(empty) = %+v, %v; want size 0", info, err)
	}
	for _, length := range []int64{-1, 0, 10} {
		b, err := s.GetRange(ctx, "empty", 0, length)
		if err != nil || len(b) != 0 {
			t.Errorf("GetRange(empty, 0, %d) = %q, %v; want nothing", length, b, err)
		}
	}
}

func testGetRange(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	body := []byte("0123456789abcdef")
	n := int64(len(body))
	put(t, s, "r", body)
	for _, tc := range []struct {
		off, length int64
		want        string
	}{
		{0, 5, "01234"},
		{3, 4, "3456"},
		{3, -1, "3456789abcdef"},
		{0, -1, string(body)},
		{n - 2, 100, "ef"},
		{n - 1, 1, "f"},
		{5, 0, ""},
		{n, 0, ""},
		{n, -1, ""},
		{n, 10, ""},
	} {
		got, err := s.GetRange(ctx, "r", tc.off, tc.length)
		if err != nil {
			t.Errorf("GetRange(%d, %d): %v", tc.off, tc.length, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("GetRange(%d, %d) = %q, want %q", tc.off, tc.length, got, tc.want)
		}
	}
	for _, off := range []int64{-1, n + 1, n + 1000} {
		if _, err := s.GetRange(ctx, "r", off, 1); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("GetRange(offset %d) of a %d-byte object: err %v, want ErrInvalid", off, n, err)
		}
	}
	if _, err := s.GetRange(ctx, "missing", 0, 1); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("GetRange(missing): err %v, want ErrNotFound", err)
	}
}

func testMissing(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	put(t, s, "a/b/c", []byte("x"))
	for _, key := range []string{"nope", "a/b/c/d", "a/b", "a", "a/b/cc"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("Stat(%q): err %v, want ErrNotFound", key, err)
		}
		if r, err := s.Get(ctx, key); !errors.Is(err, stocklake.ErrNotFound) {
			if r != nil {
				r.Close()
			}
			t.Errorf("Get(%q): err %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v", key, err)
		}
	}
	if got := get(t, s, "a/b/c"); string(got) != "x" {
		t.Errorf("Get(a/b/c) = %q after deleting missing keys around it, want x", got)
	}
	if l, err := s.List(ctx, "zzz"); err != nil || len(l) != 0 {
		t.Errorf("List(zzz) = %v, %v; want nothing", l, err)
	}
}

func testList(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	keys := []string{
		"ticks/dt=2026-11-26/hour=14/b.parquet",
		"ticks/dt=2026-11-25/hour=09/x.parquet",
		"ticks/dt=2026-11-26/hour=14/a.parquet",
		"ticks/dt=2026-11-26/hour=15/a.parquet",
		"ticks/dt=2026-11-260/z",
		"ticks/dt=2026-12-01/hour=00/a.parquet",
		"ticks-old/x",
		"ticks_x/y",
		"bars/dt=2026-11-26/a.parquet",
		"top",
	}
	for i, k := range keys {
		put(t, s, k, bytes.Repeat([]byte{'x'}, i+1))
	}
	all, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Sorted(slices.Values(keys))
	if got := infoKeys(all); !slices.Equal(got, sorted) {
		t.Fatalf("List(\"\") = %q, want %q", got, sorted)
	}
	for _, info := range all {
		want := int64(slices.Index(keys, info.Key) + 1)
		if info.Size != want {
			t.Errorf("List: %s has size %d, want %d", info.Key, info.Size, want)
		}
		if info.ModTime.IsZero() {
			t.Errorf("List: %s has no ModTime", info.Key)
		}
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"ticks", []string{"ticks-old/x", "ticks/dt=2026-11-25/hour=09/x.parquet", "ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet", "ticks/dt=2026-11-260/z", "ticks/dt=2026-12-01/hour=00/a.parquet", "ticks_x/y"}},
		{"ticks/", []string{"ticks/dt=2026-11-25/hour=09/x.parquet", "ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet", "ticks/dt=2026-11-260/z", "ticks/dt=2026-12-01/hour=00/a.parquet"}},
		{"ticks/dt=2026-11", []string{"ticks/dt=2026-11-25/hour=09/x.parquet", "ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet", "ticks/dt=2026-11-260/z"}},
		{"ticks/dt=2026-11-26", []string{"ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet", "ticks/dt=2026-11-260/z"}},
		{"ticks/dt=2026-11-26/", []string{"ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet"}},
		{"ticks/dt=2026-11-26/hour=1", []string{"ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet"}},
		{"ticks/dt=2026-11-26/hour=14/a", []string{"ticks/dt=2026-11-26/hour=14/a.parquet"}},
		{"ticks/dt=2026-11-26/hour=14/a.parquet", []string{"ticks/dt=2026-11-26/hour=14/a.parquet"}},
		{"ticks/dt=2026-11-26/hour=14/a.parquet/", nil},
		{"t", []string{"ticks-old/x", "ticks/dt=2026-11-25/hour=09/x.parquet", "ticks/dt=2026-11-26/hour=14/a.parquet", "ticks/dt=2026-11-26/hour=14/b.parquet", "ticks/dt=2026-11-26/hour=15/a.parquet", "ticks/dt=2026-11-260/z", "ticks/dt=2026-12-01/hour=00/a.parquet", "ticks_x/y", "top"}},
		{"top", []string{"top"}},
		{"top/", nil},
		{"bars/dt=2026-11-26/", []string{"bars/dt=2026-11-26/a.parquet"}},
		{"quotes/", nil},
		{"quotes/dt=2026", nil},
	} {
		assertKeys(t, s, tc.prefix, tc.want)
	}
}

func testDelete(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	put(t, s, "d/1/a", []byte("a"))
	put(t, s, "d/1/b", []byte("b"))
	put(t, s, "d/2/c", []byte("c"))
	if err := s.Delete(ctx, "d/1/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "d/1/a"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("Get after Delete: err %v, want ErrNotFound", err)
	}
	assertKeys(t, s, "", []string{"d/1/b", "d/2/c"})
	if err := s.Delete(ctx, "d/1/a"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	for _, k := range []string{"d/1/b", "d/2/c"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	assertKeys(t, s, "", nil)
	assertKeys(t, s, "d/", nil)
	// The emptied folders can be written again.
	put(t, s, "d/1/a", []byte("again"))
	if got := get(t, s, "d/1/a"); string(got) != "again" {
		t.Errorf("Get after re-Put = %q", got)
	}
	assertKeys(t, s, "", []string{"d/1/a"})
}

func testInvalidKeys(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "/", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b", "a/", "a\x00b"} {
		if err := s.Put(ctx, key, bytes.NewReader([]byte("x"))); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("Put(%q): err %v, want ErrInvalid", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("Get(%q): err %v, want ErrInvalid", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("GetRange(%q): err %v, want ErrInvalid", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("Stat(%q): err %v, want ErrInvalid", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("Delete(%q): err %v, want ErrInvalid", key, err)
		}
	}
	for _, prefix := range []string{"/", "/abs", "../", "a/../", "a//"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("List(%q): err %v, want ErrInvalid", prefix, err)
		}
	}
	assertKeys(t, s, "", nil)
}

// failingReader returns n bytes and then an error.
type failingReader struct{ n int }

var errBody = errors.New("body failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errBody
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'y'
	}
	r.n -= k
	return k, nil
}

func testFailedPutKeepsOld(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	put(t, s, "k", []byte("old"))
	for _, n := range []int{0, 1000, 6 << 20} {
		if err := s.Put(ctx, "k", &failingReader{n: n}); err == nil {
			t.Fatalf("Put with a body failing after %d bytes succeeded", n)
		}
		if got := get(t, s, "k"); string(got) != "old" {
			t.Fatalf("after a failed Put of %d bytes, Get = %d bytes, want the old object", n, len(got))
		}
		if err := s.Put(ctx, "new", &failingReader{n: n}); err == nil {
			t.Fatalf("Put with a body failing after %d bytes succeeded", n)
		}
		assertKeys(t, s, "", []string{"k"})
	}
}

func testCanceled(t *testing.T, s stocklake.ObjectStore) {
	put(t, s, "k", []byte("old"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, "k", bytes.NewReader([]byte("new"))); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: err %v, want context.Canceled", err)
	}
	if err := s.Put(ctx, "other", bytes.NewReader([]byte("new"))); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: err %v, want context.Canceled", err)
	}
	if got := get(t, s, "k"); string(got) != "old" {
		t.Errorf("after a canceled Put, Get = %q, want old", got)
	}
	assertKeys(t, s, "", []string{"k"})
}

func testLargeObject(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	body := make([]byte, LargeSize+12345)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(body)
	// Hide Seek and Len so the store has to stream the body.
	if err := s.Put(ctx, "big/object.bin", struct{ io.Reader }{bytes.NewReader(body)}); err != nil {
		t.Fatalf("Put of %d bytes: %v", len(body), err)
	}
	info, err := s.Stat(ctx, "big/object.bin")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(body)) {
		t.Fatalf("Stat size %d, want %d", info.Size, len(body))
	}
	r, err := s.Get(ctx, "big/object.bin")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(body)) || !bytes.Equal(h.Sum(nil), sha(body)) {
		t.Fatalf("Get returned %d bytes with a different checksum", n)
	}
	for _, off := range []int64{0, 5<<20 - 10, 8<<20 - 3, int64(len(body)) - 100} {
		got, err := s.GetRange(ctx, "big/object.bin", off, 200)
		if err != nil {
			t.Fatal(err)
		}
		want := body[off:min(off+200, int64(len(body)))]
		if !bytes.Equal(got, want) {
			t.Errorf("GetRange(%d, 200) differs from the body", off)
		}
	}
	tail, err := s.GetRange(ctx, "big/object.bin", LargeSize, -1)
	if err != nil || !bytes.Equal(tail, body[LargeSize:]) {
		t.Errorf("GetRange(%d, -1) = %d bytes, %v; want the last %d bytes", LargeSize, len(tail), err, len(body)-LargeSize)
	}
}

func testConcurrentPuts(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	var want []string
	for i := range n {
		key := fmt.Sprintf("c/dt=2026-11-26/part-%02d", i)
		want = append(want, key)
		wg.Go(func() {
			errs[i] = s.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, 64<<10+i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	assertKeys(t, s, "c/", want)
	for i, key := range want {
		got := get(t, s, key)
		if len(got) != 64<<10+i || got[0] != byte('a'+i) || got[len(got)-1] != byte('a'+i) {
			t.Errorf("Get(%q): %d bytes starting %q, want %d bytes of %q", key, len(got), got[:min(1, len(got))], 64<<10+i, rune('a'+i))
		}
	}
}

func testURL(t *testing.T, s stocklake.ObjectStore) {
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatalf("URL() = %q: %v", s.URL(), err)
	}
	if u.Scheme == "" || (u.Host == "" && u.Path == "") {
		t.Errorf("URL() = %q, want scheme and location", s.URL())
	}
}

func put(t *testing.T, s stocklake.ObjectStore, key string, body []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(body)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s stocklake.ObjectStore, key string) []byte {
	t.Helper()
	r, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b
}

func assertKeys(t *testing.T, s stocklake.ObjectStore, prefix string, want []string) {
	t.Helper()
	l, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	if got := infoKeys(l); !slices.Equal(got, want) {
		t.Errorf("List(%q) = %q, want %q", prefix, got, want)
	}
}

func infoKeys(l []stocklake.ObjectInfo) []string {
	var keys []string
	for _, info := range l {
		keys = append(keys, info.Key)
	}
	return keys
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// testPutIf checks the compare-and-swap contract: create only when absent,
// replace only at the version read, refuse everything else without writing.
func testPutIf(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	key := "_stocklake/sink/ticks/id/0.json"
	if _, _, err := s.GetVersion(ctx, key); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("GetVersion of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := s.PutIf(ctx, key, bytes.NewReader([]byte("v1")), "no-such-version"); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Fatalf("PutIf(missing key, some version) = %v, want ErrPrecondition", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("a refused PutIf created the object: Stat = %v", err)
	}
	v1, err := s.PutIf(ctx, key, bytes.NewReader([]byte("v1")), stocklake.IfAbsent)
	if err != nil || v1 == "" {
		t.Fatalf("PutIf(absent) = %q, %v; want a version", v1, err)
	}
	if _, err := s.PutIf(ctx, key, bytes.NewReader([]byte("v1-again")), stocklake.IfAbsent); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Fatalf("second PutIf(absent) = %v, want ErrPrecondition", err)
	}
	body, v, err := s.GetVersion(ctx, key)
	if err != nil || string(body) != "v1" || v != v1 {
		t.Fatalf("GetVersion = %q, %q, %v; want v1, %q", body, v, err, v1)
	}
	v2, err := s.PutIf(ctx, key, bytes.NewReader([]byte("v2")), v1)
	if err != nil || v2 == "" || v2 == v1 {
		t.Fatalf("PutIf(at v1) = %q, %v; want a new version", v2, err)
	}
	// A zombie still holding v1 is refused, and writes nothing.
	if _, err := s.PutIf(ctx, key, bytes.NewReader([]byte("zombie")), v1); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Fatalf("PutIf(at stale v1) = %v, want ErrPrecondition", err)
	}
	if got := get(t, s, key); string(got) != "v2" {
		t.Fatalf("after a refused PutIf the object is %q, want v2", got)
	}
	// A plain Put also moves the version on.
	put(t, s, key, []byte("v3"))
	if _, err := s.PutIf(ctx, key, bytes.NewReader([]byte("v4")), v2); !errors.Is(err, stocklake.ErrPrecondition) {
		t.Fatalf("PutIf(at v2) after a Put = %v, want ErrPrecondition", err)
	}
	body, v3, err := s.GetVersion(ctx, key)
	if err != nil || string(body) != "v3" || v3 == v2 {
		t.Fatalf("GetVersion after Put = %q, %q, %v; want v3 and a new version", body, v3, err)
	}
	if _, err := s.PutIf(ctx, key, bytes.NewReader([]byte("v4")), v3); err != nil {
		t.Fatalf("PutIf(at v3): %v", err)
	}
	if got := get(t, s, key); string(got) != "v4" {
		t.Fatalf("object is %q, want v4", got)
	}
}

// testPutIfConcurrent has writers race to increment a counter with
// read-modify-PutIf: every successful PutIf must count, none may be lost.
func testPutIfConcurrent(t *testing.T, s stocklake.ObjectStore) {
	ctx := t.Context()
	key := "_stocklake/counter"
	if _, err := s.PutIf(ctx, key, bytes.NewReader([]byte("0")), stocklake.IfAbsent); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 4, 8
	var wins, refusals atomicCount
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				body, v, err := s.GetVersion(ctx, key)
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				fmt.Sscan(string(body), &n)
				_, err = s.PutIf(ctx, key, bytes.NewReader([]byte(fmt.Sprint(n+1))), v)
				switch {
				case err == nil:
					wins.add()
				case errors.Is(err, stocklake.ErrPrecondition):
					refusals.add()
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var n int
	fmt.Sscan(string(get(t, s, key)), &n)
	t.Logf("%d PutIf calls won, %d were refused", wins.get(), refusals.get())
	if n != wins.get() || wins.get() == 0 || wins.get()+refusals.get() != writers*rounds {
		t.Fatalf("counter = %d after %d successful and %d refused PutIf calls; want counter = successes", n, wins.get(), refusals.get())
	}
}

type atomicCount struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCount) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *atomicCount) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
