//go:build !linux

package bench

import (
	"fmt"
	"runtime"
)

// DropFileCache evicts a file from the page cache where the OS allows it; on this
// OS it cannot, so load-cold falls back to the process's first load.
func DropFileCache(path string) error {
	return fmt.Errorf("drop page cache of %s: not supported on %s", path, runtime.GOOS)
}
