//go:build !unix

// Package mmap maps checkpoint files into memory for the readers, so that fp32
// tensors can alias the file instead of being copied.
package mmap

import (
	"errors"
	"os"
)

// Mapping is never created where syscall.Mmap is unavailable; every tensor is then
// read into memory.
type Mapping struct{ Data []byte }

// File always fails on this platform.
func File(*os.File, int64) (*Mapping, error) {
	return nil, errors.New("memory mapping is not supported on this platform")
}

// Close does nothing.
func (m *Mapping) Close() error { return nil }
