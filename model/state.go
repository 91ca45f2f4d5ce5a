package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// State is the recurrent state of a model after some tokens: everything the next
// token depends on besides the weights. The zero-token state is all zeros.
//
// Per layer it holds the token-shift vectors of the two mixers (the normalized input
// of the previous token) and the WKV matrices, one N×N matrix per head, laid out as
// ChatRWKV keeps them so they can be compared with its state directly:
// S[h][key][value] for v5.2 and v6, S[h][value][key] for v7.
type State struct {
	Version  Version
	Layers   int
	Embd     int // C
	Heads    int // H
	HeadSize int // N

	AttX [][]float32 // [layer][C]: time-mix token shift
	WKV  [][]float32 // [layer][H·N·N]
	FFNX [][]float32 // [layer][C]: channel-mix token shift
}

// NewState returns the zero state for a model configuration.
func NewState(c Config) *State {
	s := &State{Version: c.Version, Layers: c.Layers, Embd: c.Embd, Heads: c.Heads, HeadSize: c.HeadSize}
	s.alloc()
	return s
}

func (s *State) alloc() {
	s.AttX = make([][]float32, s.Layers)
	s.WKV = make([][]float32, s.Layers)
	s.FFNX = make([][]float32, s.Layers)
	for i := range s.Layers {
		s.AttX[i] = make([]float32, s.Embd)
		s.WKV[i] = make([]float32, s.Heads*s.HeadSize*s.HeadSize)
		s.FFNX[i] = make([]float32, s.Embd)
	}
}

// Reset sets every element to zero, the state before the first token of a document.
func (s *State) Reset() {
	for i := range s.Layers {
		clear(s.AttX[i])
		clear(s.WKV[i])
		clear(s.FFNX[i])
	}
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := &State{Version: s.Version, Layers: s.Layers, Embd: s.Embd, Heads: s.Heads, HeadSize: s.HeadSize}
	c.alloc()
	c.copyFrom(s)
	return c
}

func (s *State) copyFrom(src *State) {
	for i := range s.Layers {
		copy(s.AttX[i], src.AttX[i])
		copy(s.WKV[i], src.WKV[i])
		copy(s.FFNX[i], src.FFNX[i])
	}
}

// sameShape reports, as an error, how two states differ in version or shape.
func (s *State) sameShape(o *State) error {
	if s.Version != o.Version || s.Layers != o.Layers || s.Embd != o.Embd || s.Heads != o.Heads || s.HeadSize != o.HeadSize {
		return fmt.Errorf("state is for RWKV %s L=%d C=%d H=%d N=%d, model is RWKV %s L=%d C=%d H=%d N=%d",
			o.Version, o.Layers, o.Embd, o.Heads, o.HeadSize, s.Version, s.Layers, s.Embd, s.Heads, s.HeadSize)
	}
	return nil
}

// check reports a state whose slices do not match its declared shape, as a State
// assembled by hand might have.
func (s *State) check() error {
	if len(s.AttX) != s.Layers || len(s.WKV) != s.Layers || len(s.FFNX) != s.Layers {
		return fmt.Errorf("state declares %d layers but holds %d/%d/%d", s.Layers, len(s.AttX), len(s.WKV), len(s.FFNX))
	}
	for i := range s.Layers {
		if len(s.AttX[i]) != s.Embd || len(s.FFNX[i]) != s.Embd || len(s.WKV[i]) != s.Heads*s.HeadSize*s.HeadSize {
			return fmt.Errorf("state layer %d holds %d/%d/%d values, shape C=%d H=%d N=%d needs %d/%d/%d", i,
				len(s.AttX[i]), len(s.WKV[i]), len(s.FFNX[i]), s.Embd, s.Heads, s.HeadSize, s.Embd, s.Heads*s.HeadSize*s.HeadSize, s.Embd)
		}
	}
	return nil
}

// stateMagic starts every serialized state; the digit is the encoding's version.
const stateMagic = "RWKVST01"

// MarshalBinary encodes the state: a header (magic, version string, L, C, H, N) and
// then, per layer, att_x, wkv and ffn_x as little-endian float32.
func (s *State) MarshalBinary() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(stateMagic)
	v := []byte(s.Version)
	b.WriteByte(byte(len(v)))
	b.Write(v)
	for _, d := range []int{s.Layers, s.Embd, s.Heads, s.HeadSize} {
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(d)))
	}
	buf := make([]byte, 0, 4*s.floats())
	for i := range s.Layers {
		for _, part := range [][]float32{s.AttX[i], s.WKV[i], s.FFNX[i]} {
			for _, f := range part {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(f))
			}
		}
	}
	b.Write(buf)
	return b.Bytes(), nil
}

func (s *State) floats() int { return s.Layers * (2*s.Embd + s.Heads*s.HeadSize*s.HeadSize) }

// maxStateFloats bounds what UnmarshalBinary will allocate for, far above any
// released model (the 14B v7 state is about 40M floats), so a corrupt header cannot
// ask for terabytes.
const maxStateFloats = 1 << 31

// UnmarshalBinary decodes what MarshalBinary wrote, replacing s entirely.
func (s *State) UnmarshalBinary(data []byte) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("decode state: "+format, a...)
	}
	if len(data) < len(stateMagic)+1 || string(data[:len(stateMagic)]) != stateMagic {
		return fail("not a serialized rwkvbench state (bad magic)")
	}
	p := len(stateMagic)
	vlen := int(data[p])
	p++
	if len(data) < p+vlen+16 {
		return fail("header truncated at byte %d of %d", len(data), p+vlen+16)
	}
	version := Version(data[p : p+vlen])
	p += vlen
	switch version {
	case V5_2, V6, V7:
	default:
		return fail("unknown model version %q", version)
	}
	var dims [4]int
	for i := range dims {
		dims[i] = int(binary.LittleEndian.Uint32(data[p:]))
		p += 4
	}
	n := State{Version: version, Layers: dims[0], Embd: dims[1], Heads: dims[2], HeadSize: dims[3]}
	for i, name := range []string{"layers", "embd", "heads", "head size"} {
		if dims[i] <= 0 || dims[i] > 1<<20 {
			return fail("%s = %d out of range", name, dims[i])
		}
	}
	if n.Heads*n.HeadSize != n.Embd {
		return fail("heads %d × head size %d != embd %d", n.Heads, n.HeadSize, n.Embd)
	}
	if n.floats() > maxStateFloats {
		return fail("%d values is implausibly large", n.floats())
	}
	if want := p + 4*n.floats(); len(data) != want {
		return fail("payload is %d bytes, shape L=%d C=%d H=%d N=%d needs %d", len(data)-p, n.Layers, n.Embd, n.Heads, n.HeadSize, want-p)
	}
	n.alloc()
	for i := range n.Layers {
		for _, part := range [][]float32{n.AttX[i], n.WKV[i], n.FFNX[i]} {
			for j := range part {
				part[j] = math.Float32frombits(binary.LittleEndian.Uint32(data[p:]))
				p += 4
			}
		}
	}
	*s = n
	return nil
}
