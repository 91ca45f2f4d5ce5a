// Package tensor holds the named float32 tensors that checkpoint readers produce.
//
// Every reader (PyTorch .pth, safetensors, rwkv.cpp .bin) hands back a Set in the
// official RWKV state-dict layout: official key names, PyTorch shapes, row-major
// float32 data. Readers undo whatever their format changed (rwkv.cpp's transposes and
// exponentials, bf16 storage, quantized blocks), so that everything above this package
// sees one layout and never asks which file a model came from.
package tensor

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// DType names the storage type a tensor had in its file. The data in a Tensor is
// always float32; DType records what was converted from, for reporting and for
// choosing a default precision.
type DType string

// Storage types seen in RWKV checkpoints.
const (
	F32  DType = "f32"
	F16  DType = "f16"
	BF16 DType = "bf16"
	F64  DType = "f64"
	Q4_0 DType = "q4_0"
	Q4_1 DType = "q4_1"
	Q5_0 DType = "q5_0"
	Q5_1 DType = "q5_1"
	Q8_0 DType = "q8_0"
)

// Tensor is one named tensor: PyTorch shape, row-major float32 data.
type Tensor struct {
	Name  string
	Shape []int
	DType DType
	Data  []float32
}

// Len returns the number of elements the shape describes.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// CheckFinite returns an error naming the tensor and the first NaN or Inf element.
func (t *Tensor) CheckFinite() error {
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("tensor %s: element %d is %v", t.Name, i, v)
		}
	}
	return nil
}

// Set is the content of one checkpoint file.
type Set struct {
	// Path is the file the set was read from, for error messages.
	Path string
	// Format names the container: "pth", "safetensors" or "rwkv.cpp".
	Format string
	// Tensors maps official key names to tensors.
	Tensors map[string]*Tensor
	// GroupNormEps, when non-zero, is the ln_x epsilon the file's producer trained or
	// tested with (rwkv.cpp's v5 files use 1e-5). Zero means the official 64e-5.
	GroupNormEps float32
	// VersionHint is a version the format itself states (rwkv.cpp files do not state
	// one, but their key transforms are version specific); empty when unknown.
	VersionHint string

	// closer releases memory-mapped storage; nil when everything was copied.
	closer io.Closer
}

// NewSet returns an empty set for a file.
func NewSet(path, format string) *Set {
	return &Set{Path: path, Format: format, Tensors: map[string]*Tensor{}}
}

// SetCloser records what Close must release (a memory mapping).
func (s *Set) SetCloser(c io.Closer) { s.closer = c }

// Close releases memory-mapped storage. Tensors must not be used afterwards.
func (s *Set) Close() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}

// Names returns the tensor names in sorted order.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.Tensors))
	for n := range s.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the named tensor, or an error naming the file and the key.
func (s *Set) Get(name string) (*Tensor, error) {
	t, ok := s.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %s", s.Path, name)
	}
	return t, nil
}

// Has reports whether the named tensor exists.
func (s *Set) Has(name string) bool {
	_, ok := s.Tensors[name]
	return ok
}

// Add stores a tensor, checking that its data matches its shape.
func (s *Set) Add(t *Tensor) error {
	if t.Len() != len(t.Data) {
		return fmt.Errorf("%s: tensor %s: shape %v needs %d elements, have %d", s.Path, t.Name, t.Shape, t.Len(), len(t.Data))
	}
	if _, dup := s.Tensors[t.Name]; dup {
		return fmt.Errorf("%s: tensor %s appears twice", s.Path, t.Name)
	}
	s.Tensors[t.Name] = t
	return nil
}
