package iceberg

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"net"
	"os"
	"syscall"
	"testing"
)

// notFoundCode is an error like gocloud's blob errors: it says it is
// fs.ErrNotExist (its code is NotFound) and wraps the cause it had.
type notFoundCode struct{ cause error }

func (e notFoundCode) Error() string        { return "blob (code=NotFound): " + e.cause.Error() }
func (e notFoundCode) Unwrap() error        { return e.cause }
func (e notFoundCode) Is(target error) bool { return target == iofs.ErrNotExist }

// TestUnreadable: an outage is retried, a missing file is not. The CI
// fault case "S3 server stopped mid-stream [Iceberg, s3://]" failed when a
// commit read a data file's footer as S3 went down: gocloud reported the
// refused GetObject as NotFound, and the sink exited on "invalid input".
func TestUnreadable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"read whole", nil, false},
		{"missing file", &iofs.PathError{Op: "open", Path: "s3://b/k", Err: iofs.ErrNotExist}, false},
		{"connection refused under NotFound", &iofs.PathError{Op: "open", Path: "s3://b/k", Err: notFoundCode{fmt.Errorf("GetObject: %w", refused)}}, true},
		{"connection refused", fmt.Errorf("GetObject: %w", refused), true},
		{"other read error", errors.New("unexpected EOF"), true},
	} {
		if got := unreadable(c.err); got != c.want {
			t.Errorf("%s: unreadable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
