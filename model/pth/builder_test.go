package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// pickler assembles pickles opcode by opcode, the way torch.save lays them out, so
// tests can build checkpoints that exercise one feature at a time.
type pickler struct {
	bytes.Buffer
	memo int
}

func (p *pickler) op(b ...byte) *pickler { p.Write(b); return p }

func (p *pickler) u32(v uint32) *pickler {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	p.Write(b[:])
	return p
}

func (p *pickler) str(s string) *pickler {
	if len(s) < 256 && len(s)%2 == 1 { // vary the opcode; both appear in real files
		p.op(opShortBinUni, byte(len(s)))
	} else {
		p.op(opBinUnicode).u32(uint32(len(s)))
	}
	p.WriteString(s)
	return p
}

func (p *pickler) int(n int64) *pickler {
	switch {
	case n >= 0 && n < 256:
		return p.op(opBinInt1, byte(n))
	case n >= 0 && n < 65536:
		return p.op(opBinInt2, byte(n), byte(n>>8))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		return p.op(opBinInt).u32(uint32(int32(n)))
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return p.op(opLong1, 8).op(b[:]...)
}

func (p *pickler) global(module, name string) *pickler {
	p.op(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

func (p *pickler) ints(v []int64) *pickler {
	p.op(opMark)
	for _, x := range v {
		p.int(x)
	}
	return p.op(opTuple)
}

// put memoizes the top of the stack and returns its index.
func (p *pickler) put() int {
	i := p.memo
	p.memo++
	if i < 256 {
		p.op(opBinPut, byte(i))
	} else {
		p.op(opLongBinPut).u32(uint32(i))
	}
	return i
}

func (p *pickler) get(i int) *pickler {
	if i < 256 {
		return p.op(opBinGet, byte(i))
	}
	return p.op(opLongBinGet).u32(uint32(i))
}

// view is one tensor of a hand-made checkpoint.
type view struct {
	name        string
	storageType string // "FloatStorage", …
	key         string
	numel       int64
	offset      int64
	shape       []int64
	stride      []int64
}

// tensor emits _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict()).
func (p *pickler) tensor(v view) *pickler {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	p.op(opMark).str("storage").global("torch", v.storageType).str(v.key).str("cpu").int(v.numel).op(opTuple)
	p.op(opBinPersID)
	p.int(v.offset).ints(v.shape).ints(v.stride).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.op(opTuple, opReduce)
	return p
}

// stateDict emits torch.save(OrderedDict) of the views, with the _metadata BUILD.
func stateDict(views ...view) []byte {
	p := &pickler{}
	p.op(opProto, 2)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.put()
	p.op(opMark)
	for _, v := range views {
		p.str(v.name)
		p.tensor(v)
	}
	p.op(opSetItems)
	p.op(opEmptyDict).str("_metadata").global("collections", "OrderedDict").op(opEmptyTuple, opReduce).op(opSetItem)
	p.op(opBuild)
	p.op(opStop)
	return p.Bytes()
}

// entry is one file of a hand-made zip.
type entry struct {
	name     string
	data     []byte
	compress bool
}

func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Store}
		if e.compress {
			h.Method = zip.Deflate
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func f32Bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func u16Bytes(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func f64Bytes(v ...float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

func newZipReader(data []byte) (*zip.Reader, error) {
	return zip.NewReader(bytes.NewReader(data), int64(len(data)))
}
