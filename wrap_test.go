package stocklake

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestWireErrorsKeepCause: a refused wire document wraps ErrInvalid and
// keeps the decoder's error, so callers can tell a syntax error from a
// type mismatch.
func TestWireErrorsKeepCause(t *testing.T) {
	for name, parse := range map[string]func([]byte) error{
		"tick":      func(b []byte) error { _, err := ParseTick(b); return err },
		"bar":       func(b []byte) error { _, _, err := ParseBar(b); return err },
		"alert":     func(b []byte) error { _, err := ParseAlert(b); return err },
		"late tick": func(b []byte) error { _, err := ParseLateTick(b); return err },
	} {
		err := parse([]byte(`{"v":1,"s":`))
		var syntax *json.SyntaxError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &syntax) {
			t.Errorf("%s of truncated JSON: %v, want ErrInvalid wrapping the *json.SyntaxError", name, err)
		}
	}
}
