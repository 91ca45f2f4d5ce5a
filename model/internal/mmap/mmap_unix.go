//go:build unix

// Package mmap maps checkpoint files into memory for the readers, so that fp32
// tensors can alias the file instead of being copied.
package mmap

import (
	"fmt"
	"os"
	"syscall"
)

// Mapping is a private, copy-on-write mapping of a whole file: tensors may be written
// (the engine folds ln0 into the embedding in place, for example) without the change
// ever reaching the file.
type Mapping struct{ Data []byte }

// File maps all size bytes of f.
func File(f *os.File, size int64) (*Mapping, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("cannot map %d bytes", size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return &Mapping{Data: data}, nil
}

// Close unmaps the file; tensors pointing into it must not be used afterwards.
func (m *Mapping) Close() error {
	if m.Data == nil {
		return nil
	}
	err := syscall.Munmap(m.Data)
	m.Data = nil
	return err
}
