// Package stocklake holds the domain types and the small interfaces that the
// rest of stocklake is built from: ticks and bars, the data-lake object store,
// the Glue-style catalog, SQL engines and market-data sources.
//
// Subpackages implement these interfaces, one package per dependency (file,
// s3, sqlite, glue, duckdb, kafka, ...). They talk to each other only through
// the types declared here; wiring happens in cmd/stocklake.
package stocklake

import (
	"errors"
)

// Sentinel errors. Backends wrap them with %w and a message that tells the
// user what to do, so callers can test with errors.Is.
var (
	// ErrNotFound reports that a named object, table, database or partition does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports that something to be created already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports malformed input: a record, a file or a statement that cannot be parsed.
	ErrInvalid = errors.New("invalid input")
	// ErrConfig reports a bad flag, URL or configuration value.
	ErrConfig = errors.New("bad configuration")
	// ErrUnavailable reports a backend that could not be reached; retrying may help.
	ErrUnavailable = errors.New("service unavailable")
	// ErrPrecondition reports a conditional write (ObjectStore.PutIf) whose
	// condition did not hold: the object changed since it was read, or
	// exists when it was to be created. Read it again and decide anew.
	ErrPrecondition = errors.New("precondition failed")
)

// SettingError is an error a setting can fix: a missing or bad value, or a
// path or address that does not work. Settings name the settings the way the
// library's configuration does ("sink.Config.Topic", "kafka.Config.TLS"), so
// the message says what is wrong and a front end that knows which of its
// options sets each one (the CLI: a flag) can tell the user what to change.
// Its message is Err's; it unwraps to Err, which wraps ErrConfig or
// ErrNotFound.
type SettingError struct {
	Settings []string
	Err      error
}

func (e *SettingError) Error() string { return e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

// SettingErr returns err as a SettingError naming settings; nil if err is nil.
func SettingErr(err error, settings ...string) error {
	if err == nil {
		return nil
	}
	return &SettingError{Settings: settings, Err: err}
}
