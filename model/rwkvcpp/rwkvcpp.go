// Package rwkvcpp reads rwkv.cpp model files (.bin, magic "ggmf", versions 100 and 101)
// and hands them back in the official RWKV state-dict layout.
//
// rwkv.cpp's converter does not store the .pth tensors as they are: it squeezes
// vectors, exponentiates v4/v5 decays, transposes the v6/v7 LoRA matrices and packs
// the six v7 lerp vectors into one. The package's opinion is that no caller should
// know that. Read undoes every transform, so a .bin set has the same key names and
// shapes as the .pth it came from, and quantized or fp16 blocks are dequantized to
// float32 on load (DType records what the file stored). What cannot be undone exactly
// is said so: v4/v5 decays come back through log(-log(·)) in float64, exact up to
// float32 rounding.
//
// The format states no architecture version; the key set identifies it (rwkv.cpp's
// own detection) and Read reports it in VersionHint using rwkv.cpp's names: "4",
// "5.1" (RWKV-5.0, which ChatRWKV calls "5"), "5.2", "6", "7". v5 files get
// GroupNormEps 1e-5, the non-official epsilon rwkv.cpp computes them with.
//
// Nothing is memory-mapped: tensors in the file are unaligned, and most need a
// transform or a conversion anyway.
package rwkvcpp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/x448/float16"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Magic is the first little-endian uint32 of every rwkv.cpp model file ("fmgg" on disk).
const Magic = 0x67676d66

// ggml tensor types used in rwkv.cpp files.
const (
	typeF32  = 0
	typeF16  = 1
	typeQ4_0 = 2
	typeQ4_1 = 3
	typeQ5_0 = 7
	typeQ5_1 = 8
	typeQ8_0 = 9
)

// typeInfo returns a ggml type's block size in values and bytes.
func typeInfo(t int32) (dtype tensor.DType, blockValues, blockBytes int64, err error) {
	switch t {
	case typeF32:
		return tensor.F32, 1, 4, nil
	case typeF16:
		return tensor.F16, 1, 2, nil
	case typeQ4_0:
		return tensor.Q4_0, 32, 18, nil
	case typeQ4_1:
		return tensor.Q4_1, 32, 20, nil
	case typeQ5_0:
		return tensor.Q5_0, 32, 22, nil
	case typeQ5_1:
		return tensor.Q5_1, 32, 24, nil
	case typeQ8_0:
		return tensor.Q8_0, 32, 34, nil
	case 4, 5, 6:
		return "", 0, 0, fmt.Errorf("data type %d is a legacy quantization format rwkv.cpp removed (types 4–6); re-quantize from the FP32/FP16 file", t)
	}
	return "", 0, 0, fmt.Errorf("unknown data type %d", t)
}

// header is the fixed start of an rwkv.cpp file.
type header struct {
	Version  uint32 // 100 or 101
	Vocab    int    // n_vocab
	Embd     int    // n_embed
	Layers   int    // n_layer
	DataType int    // ggml type of most matrices
}

// maxKeyLen bounds tensor names; real ones are under 40 bytes.
const maxKeyLen = 1 << 10

// Read loads every tensor of a rwkv.cpp .bin file into the official layout.
func Read(path string) (*tensor.Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ReadFrom(bufio.NewReaderSize(f, 1<<20), st.Size(), path)
}

// ReadFrom loads a rwkv.cpp model of size bytes from r. name is used in error messages
// and as the set's Path. size bounds every allocation, so a corrupt header cannot make
// the reader allocate more than the file holds.
func ReadFrom(r io.Reader, size int64, name string) (*tensor.Set, error) {
	set, h, err := readRaw(r, size, name)
	if err != nil {
		return nil, err
	}
	version := detectVersion(set)
	if err := undoTransforms(set, version, h); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	set.VersionHint = version
	if strings.HasPrefix(version, "5") {
		set.GroupNormEps = 1e-5
	}
	return set, nil
}

// readRaw reads the tensors as the file stores them (dequantized, dims reversed into
// PyTorch order, converter transforms still applied).
func readRaw(r io.Reader, size int64, name string) (*tensor.Set, header, error) {
	rd := &reader{r: r, left: size}
	h, err := rd.readHeader()
	if err != nil {
		return nil, h, fmt.Errorf("read %s: %w", name, err)
	}
	set := tensor.NewSet(name, "rwkv.cpp")
	for i := 0; rd.left > 0; i++ {
		t, err := rd.tensor(h)
		if err != nil {
			return nil, h, fmt.Errorf("read %s: tensor %d: %w", name, i, err)
		}
		if err := set.Add(t); err != nil {
			return nil, h, err
		}
	}
	if err := checkHeader(set, h); err != nil {
		return nil, h, fmt.Errorf("read %s: %w", name, err)
	}
	return set, h, nil
}

type reader struct {
	r    io.Reader
	left int64 // bytes not yet consumed
	buf  [12]byte
}

func (rd *reader) full(b []byte) error {
	if int64(len(b)) > rd.left {
		return fmt.Errorf("needs %d more bytes, the file has %d left (truncated?)", len(b), rd.left)
	}
	if _, err := io.ReadFull(rd.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	rd.left -= int64(len(b))
	return nil
}

func (rd *reader) readHeader() (header, error) {
	var b [24]byte
	if err := rd.full(b[:]); err != nil {
		return header{}, fmt.Errorf("header: %w", err)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != Magic {
		return header{}, fmt.Errorf("magic 0x%08x is not rwkv.cpp's 0x%08x", m, Magic)
	}
	h := header{Version: le.Uint32(b[4:])}
	if h.Version != 100 && h.Version != 101 {
		return header{}, fmt.Errorf("file version %d, want 100 or 101", h.Version)
	}
	fields := []struct {
		name string
		dst  *int
		v    uint32
	}{
		{"n_vocab", &h.Vocab, le.Uint32(b[8:])},
		{"n_embed", &h.Embd, le.Uint32(b[12:])},
		{"n_layer", &h.Layers, le.Uint32(b[16:])},
		{"data_type", &h.DataType, le.Uint32(b[20:])},
	}
	for _, f := range fields {
		if f.v > math.MaxInt32 {
			return header{}, fmt.Errorf("header %s = %d is out of range", f.name, f.v)
		}
		*f.dst = int(f.v)
	}
	if _, _, _, err := typeInfo(int32(h.DataType)); err != nil {
		return header{}, fmt.Errorf("header data_type: %w", err)
	}
	return h, nil
}

// tensor reads one tensor record and dequantizes it, in the file's (converted) layout.
func (rd *reader) tensor(h header) (*tensor.Tensor, error) {
	if err := rd.full(rd.buf[:12]); err != nil {
		return nil, fmt.Errorf("record header: %w", err)
	}
	le := binary.LittleEndian
	nDims := int32(le.Uint32(rd.buf[0:]))
	keyLen := int32(le.Uint32(rd.buf[4:]))
	typ := int32(le.Uint32(rd.buf[8:]))
	if nDims < 1 || nDims > 3 {
		return nil, fmt.Errorf("n_dims %d, want 1..3", nDims)
	}
	if keyLen < 1 || keyLen > maxKeyLen {
		return nil, fmt.Errorf("key length %d, want 1..%d", keyLen, maxKeyLen)
	}
	dtype, blockValues, blockBytes, err := typeInfo(typ)
	if err != nil {
		return nil, err
	}
	if blockValues > 1 && h.Version < 101 {
		return nil, fmt.Errorf("quantized data type %d in a version %d file (the old ggml block layout; re-quantize with current rwkv.cpp)", typ, h.Version)
	}
	dimBytes := make([]byte, 4*nDims)
	if err := rd.full(dimBytes); err != nil {
		return nil, fmt.Errorf("dims: %w", err)
	}
	dims := make([]int64, nDims)
	n := int64(1)
	for i := range dims {
		d := int64(int32(le.Uint32(dimBytes[4*i:])))
		if d < 1 {
			return nil, fmt.Errorf("dimension %d is %d", i, d)
		}
		dims[i] = d
		if n > rd.left/d+1 {
			return nil, fmt.Errorf("dims %v describe more data than the file holds", dims[:i+1])
		}
		n *= d
	}
	key := make([]byte, keyLen)
	if err := rd.full(key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	name := string(key)
	if dims[0]%blockValues != 0 {
		return nil, fmt.Errorf("%s: row length %d is not a multiple of the %d-value %s block", name, dims[0], blockValues, dtype)
	}
	if n > math.MaxInt {
		return nil, fmt.Errorf("%s: %d values do not fit in memory on this platform", name, n)
	}
	nBytes := n / blockValues * blockBytes
	if nBytes > rd.left {
		return nil, fmt.Errorf("%s: %d bytes of %s data, the file has %d left (truncated?)", name, nBytes, dtype, rd.left)
	}
	raw := make([]byte, nBytes)
	if err := rd.full(raw); err != nil {
		return nil, fmt.Errorf("%s: data: %w", name, err)
	}
	shape := make([]int, nDims)
	for i, d := range dims {
		shape[int(nDims)-1-i] = int(d) // ggml lists the contiguous axis first
	}
	data := make([]float32, n)
	dequantize(typ, raw, data)
	return &tensor.Tensor{Name: name, Shape: shape, DType: dtype, Data: data}, nil
}

// dequantize expands ggml blocks into float32 values; raw holds exactly the blocks
// for len(dst) values.
func dequantize(typ int32, raw []byte, dst []float32) {
	le := binary.LittleEndian
	half := func(b []byte) float32 { return float16.Frombits(le.Uint16(b)).Float32() }
	switch typ {
	case typeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case typeF16:
		for i := range dst {
			dst[i] = half(raw[2*i:])
		}
	case typeQ4_0, typeQ4_1:
		// Q4_0: fp16 d, 16 bytes of nibbles, y = (q-8)·d.
		// Q4_1: fp16 d, fp16 m, 16 bytes of nibbles, y = q·d + m.
		// Low nibbles are values 0..15 of the block, high nibbles 16..31.
		bb, qsAt := 18, 2
		if typ == typeQ4_1 {
			bb, qsAt = 20, 4
		}
		for blk := range len(dst) / 32 {
			b := raw[blk*bb : (blk+1)*bb]
			y := dst[blk*32 : (blk+1)*32]
			d, m := half(b), float32(0)
			if typ == typeQ4_1 {
				m = half(b[2:])
			}
			for j, q := range b[qsAt : qsAt+16] {
				lo, hi := float32(q&15), float32(q>>4)
				if typ == typeQ4_0 {
					y[j], y[j+16] = (lo-8)*d, (hi-8)*d
				} else {
					y[j], y[j+16] = lo*d+m, hi*d+m
				}
			}
		}
	case typeQ5_0, typeQ5_1:
		bb := 22
		if typ == typeQ5_1 {
			bb = 24
		}
		for blk := range len(dst) / 32 {
			b := raw[blk*bb : (blk+1)*bb]
			y := dst[blk*32 : (blk+1)*32]
			d := half(b)
			var m float32
			rest := b[2:]
			if typ == typeQ5_1 {
				m = half(b[2:])
				rest = b[4:]
			}
			qh := le.Uint32(rest)
			qs := rest[4:]
			for j := range 16 {
				q0 := int32(qs[j]&15) | int32((qh>>j)&1)<<4
				q1 := int32(qs[j]>>4) | int32((qh>>(j+16))&1)<<4
				if typ == typeQ5_0 {
					y[j], y[j+16] = float32(q0-16)*d, float32(q1-16)*d
				} else {
					y[j], y[j+16] = float32(q0)*d+m, float32(q1)*d+m
				}
			}
		}
	case typeQ8_0:
		for blk := range len(dst) / 32 {
			b := raw[blk*34 : (blk+1)*34]
			d := half(b)
			for j := range 32 {
				dst[blk*32+j] = float32(int8(b[2+j])) * d
			}
		}
	}
}

// checkHeader compares the header's sizes with the embedding, so a file whose header
// and tensors disagree is reported rather than half-loaded.
func checkHeader(s *tensor.Set, h header) error {
	emb, ok := s.Tensors["emb.weight"]
	if !ok {
		return fmt.Errorf("no emb.weight tensor")
	}
	if len(emb.Shape) != 2 || emb.Shape[0] != h.Vocab || emb.Shape[1] != h.Embd {
		return fmt.Errorf("emb.weight has shape %v but the header says n_vocab %d, n_embed %d", emb.Shape, h.Vocab, h.Embd)
	}
	layers := 0
	for name := range s.Tensors {
		rest, ok := strings.CutPrefix(name, "blocks.")
		if !ok {
			continue
		}
		idx, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(idx); err == nil && i >= layers {
			layers = i + 1
		}
	}
	if layers != h.Layers {
		return fmt.Errorf("the tensors have %d blocks but the header says n_layer %d", layers, h.Layers)
	}
	return nil
}

// detectVersion applies rwkv.cpp's rule: the first of these keys found decides.
func detectVersion(s *tensor.Set) string {
	has := func(suffix string) bool {
		for name := range s.Tensors {
			if strings.HasPrefix(name, "blocks.") && strings.HasSuffix(name, suffix) {
				return true
			}
		}
		return false
	}
	switch {
	case has(".att.k_k"):
		return "7"
	case has(".att.time_maa_x"):
		return "6"
	case has(".att.gate.weight"):
		return "5.2"
	case has(".att.ln_x.weight"):
		return "5.1"
	}
	return "4"
}
