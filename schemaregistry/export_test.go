package schemaregistry

import "time"

// SetMissingTTL sets missingTTL for a test and returns the undo.
func SetMissingTTL(d time.Duration) (undo func()) {
	old := missingTTL
	missingTTL = d
	return func() { missingTTL = old }
}
