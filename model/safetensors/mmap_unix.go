//go:build unix

package safetensors

import (
	"fmt"
	"os"
	"syscall"
)

// mapping is a private, copy-on-write mapping of a whole file: tensors may be written
// (the engine folds ln0 into the embedding in place, for example) without the change
// ever reaching the file.
type mapping struct{ data []byte }

func mapFile(f *os.File, size int64) (*mapping, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("cannot map %d bytes", size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return &mapping{data: data}, nil
}

// Close unmaps the file; tensors pointing into it must not be used afterwards.
func (m *mapping) Close() error {
	if m.data == nil {
		return nil
	}
	err := syscall.Munmap(m.data)
	m.data = nil
	return err
}
