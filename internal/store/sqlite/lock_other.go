//go:build !unix

package sqlite

import "os"

// lockFile opens the lock file; on this platform the single-process rule is not enforced.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
