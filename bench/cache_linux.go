package bench

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DropFileCache asks the kernel to evict a file's pages from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED), so that the next read comes from storage: how
// load-cold is made cold on a Linux host without root. Pages still mapped or dirty
// are kept, so the file must not be in use; the storage device's own cache is out of
// reach.
func DropFileCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("drop page cache: %w", err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop page cache of %s: %w", path, err)
	}
	return nil
}
