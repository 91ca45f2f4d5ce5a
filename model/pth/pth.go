// Package pth reads PyTorch checkpoints written by torch.save, without Python.
//
// A .pth file is a zip archive holding a pickle (<prefix>/data.pkl) that describes the
// state dict, and one raw little-endian entry per storage (<prefix>/data/<key>). The
// package's opinions:
//
//   - The pickle machine is closed-world. It implements the opcodes torch.save writes
//     for a dict of tensors and accepts only the globals that such a pickle names
//     (the tensor rebuild functions, the storage classes, OrderedDict). Anything else
//     is an error naming the opcode or global: a checkpoint that needs more is not a
//     plain state dict, and refusing it means loading never runs code from a file.
//   - Memory follows the file, not the pickle. Every allocation is bounded by the bytes
//     actually present (entry sizes, and deflate's maximum ratio for compressed
//     entries), so a hostile pickle that claims huge tensors gets an error, not an OOM.
//   - float32 storages that are STORED (uncompressed), contiguous and 4-byte aligned are
//     memory-mapped, copy-on-write, rather than copied: a multi-gigabyte fp32 file
//     loads without doubling its footprint and pages in on first use, and writes to
//     the tensors never reach the file. The file must not be truncated while the set
//     is open. bf16 and fp16 storages (what released RWKV checkpoints use) have to be
//     widened to float32; they are decoded straight from the mapping, or read in
//     chunks, never buffered whole. bf16→f32 is exact.
//   - The pickle's CRC is checked; the storages' are not, which would mean reading
//     every byte of a multi-gigabyte file an extra time.
//   - Views are honoured: storage offsets, general (non-negative) strides and storages
//     shared by several tensors. Broadcast views that have more elements than their
//     storage are refused.
//
// The Set comes back with the file's key names and PyTorch shapes unchanged; .pth is
// the official layout.
package pth

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unsafe"

	"github.com/x448/float16"

	"github.com/rwkvbench/rwkvbench/model/internal/mmap"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// elemKind is a storage element type.
type elemKind int

const (
	elemF32 elemKind = iota + 1
	elemF16
	elemBF16
	elemF64
	elemByte // untyped storage; tensors on it carry their own dtype
)

func (k elemKind) size() int64 {
	switch k {
	case elemF32:
		return 4
	case elemF16, elemBF16:
		return 2
	case elemF64:
		return 8
	}
	return 1
}

func (k elemKind) dtype() tensor.DType {
	switch k {
	case elemF16:
		return tensor.F16
	case elemBF16:
		return tensor.BF16
	case elemF64:
		return tensor.F64
	}
	return tensor.F32
}

// maxPickle bounds data.pkl. A state dict's pickle is about 100 bytes per tensor
// (a 7B checkpoint's is under 100 kB); anything near this is not a checkpoint.
const maxPickle = 256 << 20

// copyBudget is the most float32 data a file of size bytes may decode to when copied:
// every storage widened from 16 bits, twice over (tied weights share a storage),
// plus slack for tiny files.
func copyBudget(size int64) int64 { return 4*size + 64<<20 }

// maxDeflateRatio bounds how much a deflate stream can expand (the format's limit is
// about 1032:1); a compressed entry claiming more is corrupt or a bomb.
const maxDeflateRatio = 1040

// Read loads every tensor of a .pth file. The returned set may memory-map parts of the
// file; call its Close when done with the tensors.
func Read(path string) (*tensor.Set, error) {
	s, m, err := mmap.Read(path, func(f *os.File, size int64, m *mmap.Mapping) (*tensor.Set, bool, error) {
		return read(f, size, path, m, copyBudget(size))
	})
	if err != nil {
		return nil, err
	}
	if m != nil {
		s.SetCloser(m)
	}
	return s, nil
}

// ReadFrom loads every tensor of a .pth archive held in r, copying all data. name is
// used in error messages and as the set's Path.
func ReadFrom(r io.ReaderAt, size int64, name string) (*tensor.Set, error) {
	s, _, err := read(r, size, name, nil, copyBudget(size))
	return s, err
}

// archive is one open .pth file.
type archive struct {
	path    string
	ra      io.ReaderAt
	size    int64
	prefix  string
	entries map[string]*zip.File
	mapped  []byte // the whole file, or nil
	// budget is how many more float32 bytes copied tensors may take. Views can
	// share storages, so a small pickle could otherwise ask for the same gigabyte
	// many times over.
	budget int64
}

// read loads a .pth from ra, using the mapping m of the same bytes when not nil;
// budget bounds the float32 bytes of copied tensors. It reports whether any tensor
// points into the mapping.
func read(ra io.ReaderAt, size int64, path string, m *mmap.Mapping, budget int64) (*tensor.Set, bool, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, false, fmt.Errorf("read %s: not a readable zip archive, the torch.save format since PyTorch 1.6 (older checkpoints are not supported): %w", path, err)
	}
	a := &archive{path: path, ra: ra, size: size, entries: map[string]*zip.File{}, budget: budget}
	if m != nil {
		a.mapped = m.Data
	}
	var pkl *zip.File
	for _, f := range zr.File {
		a.entries[f.Name] = f
		if f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl") {
			if pkl != nil {
				return nil, false, fmt.Errorf("read %s: two pickles, %s and %s", path, pkl.Name, f.Name)
			}
			pkl = f
		}
	}
	if pkl == nil {
		return nil, false, fmt.Errorf("read %s: no data.pkl entry (not a torch.save zip checkpoint)", path)
	}
	a.prefix = strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := a.entries[a.prefix+"byteorder"]; ok {
		// Written by torch ≥ 2.1; absent means little-endian.
		if bo.UncompressedSize64 > 16 {
			return nil, false, fmt.Errorf("read %s: %s has %d bytes, want \"little\"", path, bo.Name, bo.UncompressedSize64)
		}
		b, err := a.readAll(bo)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %s: %w", path, bo.Name, err)
		}
		if order := strings.TrimSpace(string(b)); order != "little" {
			return nil, false, fmt.Errorf("read %s: %s says %q; only little-endian checkpoints are supported", path, bo.Name, order)
		}
	}
	if pkl.UncompressedSize64 > maxPickle {
		return nil, false, fmt.Errorf("read %s: %s is %d bytes, more than a state dict needs (limit %d)", path, pkl.Name, pkl.UncompressedSize64, maxPickle)
	}
	raw, err := a.readAll(pkl)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %s: %w", path, pkl.Name, err)
	}
	top, err := unpickle(raw)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %s: %w", path, pkl.Name, err)
	}
	d, ok := top.(*pyDict)
	if !ok {
		return nil, false, fmt.Errorf("read %s: the pickle holds %s, not a state dict", path, typeName(top))
	}
	set := tensor.NewSet(path, "pth")
	used := false
	for i, k := range d.keys {
		key, ok := k.(string)
		if !ok {
			return nil, false, fmt.Errorf("read %s: state dict key %s is not a string", path, describe(k))
		}
		ref, ok := d.vals[i].(*tensorRef)
		if !ok {
			hint := ""
			switch key {
			case "_strategy", "_version", "_rescale_layer":
				hint = " (it marks a ChatRWKV pre-converted file, with weights transposed and rescaled; load the original checkpoint)"
			}
			return nil, false, fmt.Errorf("read %s: %s is %s, not a tensor%s", path, key, typeName(d.vals[i]), hint)
		}
		t, mapped, err := a.load(key, ref)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: tensor %s: %w", path, key, err)
		}
		used = used || mapped
		if err := set.Add(t); err != nil {
			return nil, false, err
		}
	}
	return set, used, nil
}

// readAll reads a small entry (the pickle) with its size bounded by the file.
func (a *archive) readAll(f *zip.File) ([]byte, error) {
	if err := a.checkEntry(f); err != nil {
		return nil, err
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Reading to EOF (one byte past the declared size at most) makes archive/zip
	// verify the CRC.
	b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, err
	}
	if uint64(len(b)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("entry has %d bytes, its header says %d", len(b), f.UncompressedSize64)
	}
	return b, nil
}

// checkEntry refuses entries whose declared sizes the file cannot back.
func (a *archive) checkEntry(f *zip.File) error {
	c, n := f.CompressedSize64, f.UncompressedSize64
	if c > uint64(a.size) {
		return fmt.Errorf("entry %s claims %d compressed bytes in a %d-byte file (truncated?)", f.Name, c, a.size)
	}
	if f.Method == zip.Store {
		if n != c {
			return fmt.Errorf("stored entry %s has compressed size %d but size %d", f.Name, c, n)
		}
		off, err := f.DataOffset()
		if err != nil {
			return fmt.Errorf("entry %s: %w", f.Name, err)
		}
		if off < 0 || uint64(off)+n > uint64(a.size) {
			return fmt.Errorf("entry %s runs past the end of the file (truncated?)", f.Name)
		}
		return nil
	}
	if n > c*maxDeflateRatio+1024 {
		return fmt.Errorf("entry %s claims %d bytes from %d compressed (more than deflate can expand)", f.Name, n, c)
	}
	return nil
}

// load resolves a tensor view into float32 data; mapped reports that the data points
// into the file mapping.
func (a *archive) load(key string, ref *tensorRef) (*tensor.Tensor, bool, error) {
	st := ref.storage
	name := a.prefix + "data/" + st.key
	f, ok := a.entries[name]
	if !ok {
		return nil, false, fmt.Errorf("storage entry %s is missing", name)
	}
	if err := a.checkEntry(f); err != nil {
		return nil, false, err
	}
	es := ref.kind.size()
	storageBytes, ok := mulOK(st.numel, st.kind.size())
	if !ok || uint64(storageBytes) > f.UncompressedSize64 {
		return nil, false, fmt.Errorf("storage %s: %d elements need more bytes than the entry's %d", st.key, st.numel, f.UncompressedSize64)
	}
	storageElems := storageBytes / es // in elements of the tensor's kind

	shape := make([]int, len(ref.shape))
	numel := int64(1)
	span := int64(0) // highest element index addressed, relative to offset
	for d, n := range ref.shape {
		if n > math.MaxInt {
			return nil, false, fmt.Errorf("dimension %d of size %v is too large", d, ref.shape)
		}
		shape[d] = int(n)
		if numel, ok = mulOK(numel, n); !ok {
			return nil, false, fmt.Errorf("size %v overflows", ref.shape)
		}
		if n > 0 {
			step, ok := mulOK(n-1, ref.stride[d])
			if !ok || span+step < span {
				return nil, false, fmt.Errorf("stride %v overflows", ref.stride)
			}
			span += step
		}
	}
	t := &tensor.Tensor{Name: key, Shape: shape, DType: ref.kind.dtype()}
	if numel == 0 {
		t.Data = []float32{}
		return t, false, nil
	}
	last := ref.offset + span
	if last < ref.offset || last >= storageElems {
		return nil, false, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of storage %s, which has %d",
			ref.offset, ref.shape, ref.stride, last, st.key, storageElems)
	}
	if numel > storageElems || numel > math.MaxInt {
		return nil, false, fmt.Errorf("view of %d elements on storage %s of %d (broadcast views are not supported)", numel, st.key, storageElems)
	}
	contiguous := isContiguous(ref.shape, ref.stride)
	startByte := ref.offset * es

	if contiguous && ref.kind == elemF32 && a.mapped != nil && f.Method == zip.Store && littleEndianHost() {
		off, _ := f.DataOffset()
		begin := off + startByte
		end := begin + numel*4
		if begin%4 == 0 && end <= int64(len(a.mapped)) {
			t.Data = unsafe.Slice((*float32)(unsafe.Pointer(&a.mapped[begin])), numel)
			return t, true, nil
		}
	}

	if numel*4 > a.budget {
		return nil, false, fmt.Errorf("decoding would take more memory than the file can justify (4× its size; too many views of shared storages?)")
	}
	a.budget -= numel * 4
	t.Data = make([]float32, numel)
	viewBytes := (span + 1) * es

	// A stored entry in a mapped file is decoded straight from the mapping.
	if a.mapped != nil && f.Method == zip.Store {
		off, _ := f.DataOffset()
		begin := off + startByte
		if end := begin + viewBytes; end <= int64(len(a.mapped)) {
			raw := a.mapped[begin:end]
			if contiguous {
				decode(ref.kind, raw, t.Data)
			} else {
				gather(raw, ref.kind, ref.shape, ref.stride, t.Data)
			}
			return t, false, nil
		}
	}

	r, closeFn, err := a.open(f, startByte)
	if err != nil {
		return nil, false, fmt.Errorf("storage %s: %w", st.key, err)
	}
	defer closeFn()
	if contiguous {
		if err := decodeStream(r, ref.kind, t.Data); err != nil {
			return nil, false, fmt.Errorf("storage %s: %w", st.key, err)
		}
		return t, false, nil
	}
	raw := make([]byte, viewBytes)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, false, fmt.Errorf("storage %s: %w", st.key, err)
	}
	gather(raw, ref.kind, ref.shape, ref.stride, t.Data)
	return t, false, nil
}

// open returns a reader positioned at byte start of an entry's data.
func (a *archive) open(f *zip.File, start int64) (io.Reader, func(), error) {
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, nil, err
		}
		n := int64(f.UncompressedSize64) - start
		return io.NewSectionReader(a.ra, off+start, n), func() {}, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, start); err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("skipping to byte %d: %w", start, err)
	}
	return rc, func() { rc.Close() }, nil
}

func mulOK(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a != 0 && b > math.MaxInt64/a {
		return 0, false
	}
	return a * b, true
}

// isContiguous reports row-major layout; the stride of a size-1 dimension is irrelevant.
func isContiguous(shape, stride []int64) bool {
	want := int64(1)
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] != 1 && stride[d] != want {
			return false
		}
		want *= shape[d]
	}
	return true
}

// decodeStream fills dst from r in chunks, so converting a large bf16 tensor needs no
// second full-size buffer.
func decodeStream(r io.Reader, k elemKind, dst []float32) error {
	es := int(k.size())
	const chunkElems = 1 << 16
	buf := make([]byte, min(len(dst), chunkElems)*es)
	for done := 0; done < len(dst); {
		n := min(len(dst)-done, chunkElems)
		b := buf[:n*es]
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("reading element %d of %d: %w", done, len(dst), err)
		}
		decode(k, b, dst[done:done+n])
		done += n
	}
	return nil
}

// decode converts little-endian elements of kind k.
func decode(k elemKind, src []byte, dst []float32) {
	switch k {
	case elemF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case elemBF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case elemF16:
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(src[2*i:])).Float32()
		}
	case elemF64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}
}

// gather copies a strided view out of raw (which starts at the view's offset) in
// row-major order.
func gather(raw []byte, k elemKind, shape, stride []int64, dst []float32) {
	es := k.size()
	idx := make([]int64, len(shape))
	for i := range dst {
		var at int64
		for d := range idx {
			at += idx[d] * stride[d]
		}
		decode(k, raw[at*es:(at+1)*es], dst[i:i+1])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// littleEndianHost reports whether float32 bytes in the file can be used in place.
func littleEndianHost() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}
