package file

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stocklake/stocklake"
)

// lockPrefix starts the names of the lock files PutIf, PutFenced and
// DeleteFenced take beside a key. Like TempPrefix it is reserved: List and
// keys never see these files. They stay (removing a lock file another
// process holds would let two writers in) and are not temporary files, so
// New's clean-up of stale temporary files leaves them alone.
const lockPrefix = ".stocklake-lock-"

// GetVersion reads the file of key and returns, as its version, the
// SHA-256 of its content in hex: each Put replaces the file by rename, so
// content and version always match.
func (s *ObjectStore) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	f, _, err := s.open(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, "", fmt.Errorf("file: get %s: %w", key, pathError(err))
	}
	return b, contentVersion(b), nil
}

// PutIf holds an exclusive flock(2) on a lock file beside key (shared by
// every process on the machine, and by NFS clients that support flock)
// while it reads the current object, checks its version and writes the new
// one as Put does. A writer stopped while holding the lock (SIGSTOP) holds
// up other PutIf calls on the same key until it resumes or dies; the lock
// is held only for the read, compare and rename, so it is short.
func (s *ObjectStore) PutIf(ctx context.Context, key string, body io.Reader, ifVersion string) (string, error) {
	path, err := s.path(key)
	if err != nil {
		return "", err
	}
	data, err := io.ReadAll(ctxReader{ctx, body})
	if err != nil {
		return "", fmt.Errorf("file: put %s: reading body: %w", key, err)
	}
	dir := filepath.Dir(path)
	if err := s.mkdirAll(dir); err != nil {
		return "", fmt.Errorf("file: put %s: creating folder %s: %w", key, dir, s.keyError(err))
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, lockPrefix+filepath.Base(path)))
	if err != nil {
		return "", fmt.Errorf("file: put %s: %w", key, err)
	}
	defer unlock()
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if ifVersion != stocklake.IfAbsent {
			return "", fmt.Errorf("file: put %s: object is gone, want version %s: %w", key, ifVersion, stocklake.ErrPrecondition)
		}
	case err != nil:
		return "", fmt.Errorf("file: put %s: reading current object: %w", key, s.keyError(err))
	case ifVersion == stocklake.IfAbsent:
		return "", fmt.Errorf("file: put %s: object exists, want none: %w", key, stocklake.ErrPrecondition)
	case contentVersion(cur) != ifVersion:
		return "", fmt.Errorf("file: put %s: object changed (version %s, want %s): %w", key, contentVersion(cur), ifVersion, stocklake.ErrPrecondition)
	}
	if err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
		return "", err
	}
	return contentVersion(data), nil
}

func contentVersion(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// lockFile takes an exclusive flock on path, creating it, polling until ctx
// is done. unlock releases it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", path, pathError(err))
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, pathError(err))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 20*time.Millisecond)
	}
}

// PutFenced writes key as Put does, and renames it into place only while
// it holds fenceKey's lock and fenceKey is at version fenceVersion: the
// check and the rename are one step for every process that writes
// fenceKey with PutIf.
func (s *ObjectStore) PutFenced(ctx context.Context, key string, body io.Reader, fenceKey, fenceVersion string) error {
	return s.put(ctx, key, body, func() (func(), error) { return s.holdFence(ctx, fenceKey, fenceVersion) })
}

// DeleteFenced deletes key as Delete does, while it holds fenceKey's lock
// and fenceKey is at version fenceVersion.
func (s *ObjectStore) DeleteFenced(ctx context.Context, key, fenceKey, fenceVersion string) error {
	release, err := s.holdFence(ctx, fenceKey, fenceVersion)
	if err != nil {
		return fmt.Errorf("file: delete %s: %w", key, err)
	}
	defer release()
	return s.Delete(ctx, key)
}

// holdFence takes fenceKey's lock and checks its version; release lets
// the lock go.
func (s *ObjectStore) holdFence(ctx context.Context, fenceKey, fenceVersion string) (release func(), err error) {
	path, err := s.path(fenceKey)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(ctx, filepath.Join(filepath.Dir(path), lockPrefix+filepath.Base(path)))
	if err != nil {
		return nil, err
	}
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = fmt.Errorf("fence %s is gone, want version %s: %w", fenceKey, fenceVersion, stocklake.ErrPrecondition)
	case err != nil:
		err = fmt.Errorf("reading fence %s: %w", fenceKey, s.keyError(err))
	case contentVersion(cur) != fenceVersion:
		err = fmt.Errorf("fence %s changed (version %s, want %s): %w", fenceKey, contentVersion(cur), fenceVersion, stocklake.ErrPrecondition)
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

var _ stocklake.FencedStore = (*ObjectStore)(nil)
