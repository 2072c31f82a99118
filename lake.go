package stocklake

import (
	"context"
	"io"
	"time"
)

// ObjectInfo describes one object in a lake.
type ObjectInfo struct {
	Key     string    // key relative to the store's root, with '/' separators
	Size    int64     // bytes
	ModTime time.Time // last modification
}

// IfAbsent is the ifVersion of ObjectStore.PutIf that creates an object
// only if its key holds none.
const IfAbsent = ""

// ObjectStore is a flat namespace of immutable objects: a directory on disk
// or an S3 bucket and prefix. Keys use '/' as separator and never start
// with '/'.
type ObjectStore interface {
	// Put stores body under key, replacing any existing object. When Put
	// returns nil the object is durable (fsynced, or acknowledged by S3) and
	// readers see either the old or the new object, never a partial one.
	Put(ctx context.Context, key string, body io.Reader) error
	// Get opens an object for reading; a missing key wraps ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange reads length bytes at offset; length < 0 reads to the end.
	GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// Stat describes an object; a missing key wraps ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes an object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// GetVersion reads a whole object and its version: an opaque string
	// that changes with every Put or PutIf of the key (an S3 ETag, a hash
	// of a file's content). A missing key wraps ErrNotFound.
	GetVersion(ctx context.Context, key string) (body []byte, version string, err error)
	// PutIf stores body under key only if the object is still at version
	// ifVersion (as returned by GetVersion or an earlier PutIf), or, with
	// ifVersion IfAbsent, only if there is no object under key. It returns
	// the new version. When the condition does not hold, nothing is written
	// and the error wraps ErrPrecondition. The check and the write are one
	// atomic step across processes (S3 If-Match / If-None-Match, a lock on
	// file://), so two writers that read the same version cannot both win:
	// a compare-and-swap for small state objects such as manifests. Objects
	// written with PutIf should be replaced only with PutIf.
	PutIf(ctx context.Context, key string, body io.Reader, ifVersion string) (version string, err error)
	// URL is the store's location, e.g. file:///data/lake or s3://bucket/prefix.
	URL() string
}

// FencedStore is implemented by object stores that can make a write or a
// delete conditional on another object's version in one atomic step: the
// file:// store holds fenceKey's lock (the one PutIf takes) while it checks
// the version and renames the object into place. The sink fences each data
// object with its partition's manifest, so a writer that lost ownership
// while it was paused can never replace or delete its successor's objects.
// Stores without it (S3 has no condition across keys) are fenced by a
// check of the manifest's version just before each write, which leaves a
// pause between that check and the write unguarded.
type FencedStore interface {
	// PutFenced stores body under key, as Put does, only while fenceKey is
	// at version fenceVersion; otherwise nothing is written and the error
	// wraps ErrPrecondition.
	PutFenced(ctx context.Context, key string, body io.Reader, fenceKey, fenceVersion string) error
	// DeleteFenced removes key, as Delete does, only while fenceKey is at
	// version fenceVersion; otherwise the error wraps ErrPrecondition.
	DeleteFenced(ctx context.Context, key, fenceKey, fenceVersion string) error
}
