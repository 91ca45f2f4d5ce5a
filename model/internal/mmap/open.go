package mmap

import (
	"fmt"
	"os"
)

// Read opens path, maps it where the platform allows, and calls read with the file,
// its size and the mapping (nil when there is none). read reports whether its result
// points into the mapping; the mapping is returned only then, for the caller to
// release with the result, and closed otherwise.
func Read[T any](path string, read func(f *os.File, size int64, m *Mapping) (T, bool, error)) (T, *Mapping, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return zero, nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, _ := File(f, st.Size()) // without a mapping every tensor is copied
	v, used, err := read(f, st.Size(), m)
	if m != nil && (err != nil || !used) {
		m.Close()
		m = nil
	}
	if err != nil {
		return zero, nil, err
	}
	return v, m, nil
}
