//go:build !unix

package pth

import (
	"errors"
	"os"
)

// mapping is never created where syscall.Mmap is unavailable; every tensor is then
// read into memory.
type mapping struct{ data []byte }

func mapFile(*os.File, int64) (*mapping, error) {
	return nil, errors.New("memory mapping is not supported on this platform")
}

func (m *mapping) Close() error { return nil }
