// Package safetensors reads safetensors checkpoints: an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
// then the tensor bytes.
//
// The package's opinions:
//
//   - Names are taken as they are. A safetensors file saved from an official RWKV state
//     dict (safetensors.torch.save_file) is in the official layout already; files in
//     other layouts (Hugging Face's "model.layers.N…" conversions) are not renamed here,
//     and the model package will report the keys it misses.
//   - The header is distrusted: every tensor's byte range must lie inside the data
//     section, match its dtype and shape exactly, and not overlap another, so nothing a
//     header says can make the reader allocate more than the file holds.
//   - Only floating types are accepted (F32, F16, BF16, F64); RWKV weights have no use
//     for integer tensors, and an int tensor in a checkpoint means a format this
//     project does not understand.
//   - F32 tensors that are 4-byte aligned in the file (safetensors pads its header to
//     8 bytes, so normally all of them) are memory-mapped copy-on-write instead of
//     copied; other types are widened to float32 (bf16 exactly).
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"unsafe"

	"github.com/x448/float16"

	"github.com/rwkvbench/rwkvbench/model/internal/mmap"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// maxHeader bounds the JSON header, as the safetensors format itself does (100 MB).
const maxHeader = 100 << 20

// Read loads every tensor of a safetensors file. The returned set may memory-map parts
// of the file; call its Close when done with the tensors.
func Read(path string) (*tensor.Set, error) {
	s, m, err := mmap.Read(path, func(f *os.File, size int64, m *mmap.Mapping) (*tensor.Set, bool, error) {
		var mapped []byte
		if m != nil {
			mapped = m.Data
		}
		return read(f, size, path, mapped)
	})
	if err != nil {
		return nil, err
	}
	if m != nil {
		s.SetCloser(m)
	}
	return s, nil
}

// ReadFrom loads every tensor of a safetensors file held in r, copying all data. name
// is used in error messages and as the set's Path.
func ReadFrom(r io.ReaderAt, size int64, name string) (*tensor.Set, error) {
	s, _, err := read(r, size, name, nil)
	return s, err
}

// entry is one tensor of the header.
type entry struct {
	name   string
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
	Ranges []int64 `json:"data_offsets"`

	begin, end int64 // absolute file offsets
	dtype      tensor.DType
	size       int64 // bytes per element
	numel      int64
}

func read(ra io.ReaderAt, size int64, path string, mapped []byte) (*tensor.Set, bool, error) {
	var lenBuf [8]byte
	if size < 8 {
		return nil, false, fmt.Errorf("read %s: %d bytes is too short for a safetensors header", path, size)
	}
	if n, err := ra.ReadAt(lenBuf[:], 0); n < len(lenBuf) {
		return nil, false, fmt.Errorf("read %s: header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || n > uint64(size-8) {
		return nil, false, fmt.Errorf("read %s: header length %d exceeds the file (%d bytes) or the 100 MB limit", path, n, size)
	}
	hdr := make([]byte, n)
	if n, err := ra.ReadAt(hdr, 8); n < len(hdr) {
		return nil, false, fmt.Errorf("read %s: header: %w", path, err)
	}
	dataStart := 8 + int64(n)
	entries, err := parseHeader(hdr, dataStart, size)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	set := tensor.NewSet(path, "safetensors")
	used := false
	for _, e := range entries {
		t := &tensor.Tensor{Name: e.name, Shape: make([]int, len(e.Shape)), DType: e.dtype}
		for i, d := range e.Shape {
			t.Shape[i] = int(d)
		}
		if e.dtype == tensor.F32 && mapped != nil && e.begin%4 == 0 && e.end <= int64(len(mapped)) && littleEndianHost() {
			if e.numel == 0 {
				t.Data = []float32{}
			} else {
				t.Data = unsafe.Slice((*float32)(unsafe.Pointer(&mapped[e.begin])), e.numel)
				used = true
			}
		} else {
			raw := make([]byte, e.end-e.begin)
			if n, err := ra.ReadAt(raw, e.begin); n < len(raw) {
				return nil, false, fmt.Errorf("read %s: tensor %s: %w", path, e.name, err)
			}
			t.Data = make([]float32, e.numel)
			decode(e.dtype, raw, t.Data)
		}
		if err := set.Add(t); err != nil {
			return nil, false, err
		}
	}
	return set, used, nil
}

// parseHeader validates the JSON header and returns the tensors in file order.
func parseHeader(hdr []byte, dataStart, fileSize int64) ([]*entry, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	entries := make([]*entry, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, fmt.Errorf("__metadata__ is not a string map: %w", err)
			}
			continue
		}
		e := &entry{name: name}
		if err := json.Unmarshal(msg, e); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		if err := e.check(dataStart, fileSize); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].name < entries[j].name
	})
	for i := 1; i < len(entries); i++ {
		if p, e := entries[i-1], entries[i]; e.begin < p.end {
			return nil, fmt.Errorf("tensors %s and %s overlap (bytes %d–%d and %d–%d of the data)",
				p.name, e.name, p.begin-dataStart, p.end-dataStart, e.begin-dataStart, e.end-dataStart)
		}
	}
	return entries, nil
}

func (e *entry) check(dataStart, fileSize int64) error {
	switch e.DType {
	case "F32":
		e.dtype, e.size = tensor.F32, 4
	case "F16":
		e.dtype, e.size = tensor.F16, 2
	case "BF16":
		e.dtype, e.size = tensor.BF16, 2
	case "F64":
		e.dtype, e.size = tensor.F64, 8
	case "":
		return fmt.Errorf("no dtype")
	default:
		return fmt.Errorf("dtype %q is not supported (F32, F16, BF16, F64 only)", e.DType)
	}
	if len(e.Ranges) != 2 {
		return fmt.Errorf("data_offsets %v, want [begin, end]", e.Ranges)
	}
	begin, end := e.Ranges[0], e.Ranges[1]
	dataLen := fileSize - dataStart
	if begin < 0 || end < begin || end > dataLen {
		return fmt.Errorf("data_offsets [%d, %d] outside the %d-byte data section", begin, end, dataLen)
	}
	e.numel = 1
	for _, d := range e.Shape {
		if d < 0 {
			return fmt.Errorf("shape %v has a negative dimension", e.Shape)
		}
		if d != 0 && e.numel > dataLen/d {
			e.numel = -1
			break
		}
		e.numel *= d
	}
	if e.numel < 0 || e.numel*e.size != end-begin {
		return fmt.Errorf("shape %v of %s needs %s bytes, data_offsets give %d", e.Shape, e.DType, bytesNeeded(e), end-begin)
	}
	if e.numel > math.MaxInt {
		return fmt.Errorf("shape %v is too large for this platform", e.Shape)
	}
	e.begin, e.end = dataStart+begin, dataStart+end
	return nil
}

func bytesNeeded(e *entry) string {
	if e.numel < 0 {
		return "more"
	}
	return fmt.Sprint(e.numel * e.size)
}

// decode converts little-endian elements to float32.
func decode(dt tensor.DType, src []byte, dst []float32) {
	le := binary.LittleEndian
	switch dt {
	case tensor.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case tensor.BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
		}
	case tensor.F16:
		for i := range dst {
			dst[i] = float16.Frombits(le.Uint16(src[2*i:])).Float32()
		}
	case tensor.F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	}
}

// littleEndianHost reports whether float32 bytes in the file can be used in place.
func littleEndianHost() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}
