// Package standin builds the QNN STAND-IN backend library for the qnn package's
// tests and predicts what it computes.
//
// The stand-in (csrc/qnn_standin.c) is not Qualcomm's QNN: it is a small C library written
// for these tests that exports QnnInterface_getProviders and
// QnnSystemInterface_getProviders with the documented layouts, serves a context
// binary format of its own (Model.Binary) and computes a simple recurrence over
// RWKV-shaped tensors. Reference recomputes that recurrence in Go, so a test can
// check every logit the Go binding reads back. Build compiles the library with the
// system C compiler into the test's temporary directory and skips the test when
// there is no compiler.
package qnnstandin

import (
	"embed"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/x448/float16"
)

//go:embed csrc/qnn_standin.c csrc/qnn_standin.h
var sources embed.FS

// Build compiles the stand-in into t.TempDir() with the given -D defines (for
// example "STANDIN_NO_HMX", "STANDIN_NO_GETMETADATA" or "STANDIN_CORE_MINOR=10") and returns the library path.
// Every call yields a separate library, so the stand-in's C globals are per test.
func Build(t testing.TB, defines ...string) string {
	t.Helper()
	return BuildIn(t, t.TempDir(), defines...)
}

// BuildIn is Build into dir, for tests that share one build across a test binary.
func BuildIn(t testing.TB, dir string, defines ...string) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the QNN stand-in backend: %v", cc, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"qnn_standin.c", "qnn_standin.h"} {
		b, err := sources.ReadFile("csrc/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lib := filepath.Join(dir, "libQnnStandIn.so")
	// -ffp-contract=off: no fused multiply-add, so Reference's float32 arithmetic
	// matches bit for bit.
	args := []string{"-shared", "-fPIC", "-O1", "-ffp-contract=off", "-o", lib, filepath.Join(dir, "qnn_standin.c"), "-lm"}
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	out, err := exec.Command(cc, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("compile QNN stand-in: %v\n%s", err, out)
	}
	return lib
}

// Header returns the stand-in's C header, which declares the QNN types the binding
// mirrors under their QNN names.
func Header() []byte {
	b, _ := sources.ReadFile("csrc/qnn_standin.h")
	return b
}

// Model describes one stand-in context binary: one chunk of a model.
type Model struct {
	Name          string // graph name prefix, "rwkv" if empty
	Chunk, Chunks int    // this is chunk Chunk of Chunks (1-based); 0 means 1 of 1
	LayerBegin    int    // global layer range [LayerBegin, LayerEnd)
	LayerEnd      int
	Embd, Heads   int
	Vocab         int
	LogitScale    float32 // uint16 logits: real = (q + LogitOffset) * LogitScale
	LogitOffset   int32
	ShiftScale    float32 // uint16 token-shift states
	ShiftOffset   int32
	Embedding     bool // chunk 1 takes in_embedding instead of token ids
	VFirst        bool // chunks carry v_first
	PrefillSeq    int  // 0: no prefill graph
	PrefillAll    bool // the prefill graph outputs logits for every position
	BadShape      bool // the prefill graph's first state input has a wrong shape
	OmitDecode    bool // no decode graph
	FailAfter     int  // graphExecute fails with 1011 after this many calls (0: never)
	// BinaryInfoVersion and GraphInfoVersion select the QnnSystem metadata struct
	// versions the stand-in reports (1, 2 or 3; 0 means 3).
	BinaryInfoVersion, GraphInfoVersion int
	// RequireGroup makes context creation demand the spill-fill group config
	// (REGISTER_MULTI_CONTEXTS) with chunk 1 as the group's first context.
	RequireGroup bool
}

func (m Model) defaults() Model {
	if m.Chunks == 0 {
		m.Chunk, m.Chunks = 1, 1
	}
	if m.Name == "" {
		m.Name = "rwkv"
	}
	if m.LogitScale == 0 {
		m.LogitScale, m.LogitOffset = 1.0/256, -32768
	}
	if m.BinaryInfoVersion == 0 {
		m.BinaryInfoVersion = 3
	}
	if m.GraphInfoVersion == 0 {
		m.GraphInfoVersion = 3
	}
	if m.ShiftScale == 0 {
		m.ShiftScale, m.ShiftOffset = 1.0/256, -32768
	}
	return m
}

// Binary returns the stand-in context binary for m.
func (m Model) Binary() []byte {
	m = m.defaults()
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	mode := "last"
	if m.PrefillAll {
		mode = "all"
	}
	if m.PrefillSeq == 0 {
		mode = "none"
	}
	var s strings.Builder
	fmt.Fprintf(&s, "QNN-STAND-IN-CONTEXT 1\nname %s\nchunk %d %d\nlayers %d %d\nembd %d\nheads %d\nvocab %d\n",
		m.Name, m.Chunk, m.Chunks, m.LayerBegin, m.LayerEnd, m.Embd, m.Heads, m.Vocab)
	fmt.Fprintf(&s, "logits %.9g %d\nshift %.9g %d\nembedding %d\nvfirst %d\nprefill %d %s\n",
		m.LogitScale, m.LogitOffset, m.ShiftScale, m.ShiftOffset, b(m.Embedding), b(m.VFirst), m.PrefillSeq, mode)
	fmt.Fprintf(&s, "badshape %d\nomitdecode %d\nfailafter %d\nbinaryinfo %d\ngraphinfo %d\nrequiregroup %d\n",
		b(m.BadShape), b(m.OmitDecode), m.FailAfter, m.BinaryInfoVersion, m.GraphInfoVersion, b(m.RequireGroup))
	return []byte(s.String())
}

// FileName is the file name rwkv-qualcomm gives chunk files, which the qnn package
// uses to find sibling chunks: "<name>_chunk1of2.bin", or "<name>.bin" unchunked.
func (m Model) FileName() string {
	m = m.defaults()
	if m.Chunks > 1 {
		return fmt.Sprintf("%s_chunk%dof%d.bin", m.Name, m.Chunk, m.Chunks)
	}
	return m.Name + ".bin"
}

// EmbeddingRow is the embedding table row the tests use for external-embedding
// models (different from the stand-in's built-in token formula).
func EmbeddingRow(token, embd int) []float32 {
	row := make([]float32, embd)
	for c := range row {
		row[c] = float32((token*3+c*5)%32)/32 - 0.5
	}
	return row
}

// Reference recomputes the stand-in's recurrence in Go.
type Reference struct {
	chunks    []Model
	embedding bool
	shift     map[int][]uint16 // state index → uint16 token-shift state
	wkv       map[int][]uint16 // state index → fp16 bits
}

// NewReference starts from zero state for the model made of chunks (in order).
func NewReference(chunks []Model) *Reference {
	r := &Reference{shift: map[int][]uint16{}, wkv: map[int][]uint16{}}
	for _, c := range chunks {
		r.chunks = append(r.chunks, c.defaults())
	}
	r.embedding = r.chunks[0].Embedding
	r.Reset()
	return r
}

// Reset zeroes the state as the session does: the quantized value of 0.0.
func (r *Reference) Reset() {
	for _, m := range r.chunks {
		for l := m.LayerBegin; l < m.LayerEnd; l++ {
			r.shift[3*l] = fill(m.Embd, q16(0, m.ShiftScale, m.ShiftOffset))
			r.wkv[3*l+1] = make([]uint16, m.Embd*(m.Embd/m.Heads))
			r.shift[3*l+2] = fill(m.Embd, q16(0, m.ShiftScale, m.ShiftOffset))
		}
	}
}

func fill(n int, v uint16) []uint16 {
	s := make([]uint16, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func q16(v, scale float32, offset int32) uint16 {
	q := math.Floor(float64(v)/float64(scale)+0.5) - float64(offset)
	return uint16(max(0, min(65535, q)))
}

func dq16(q uint16, scale float32, offset int32) float32 {
	return (float32(q) + float32(offset)) * scale
}

// Step feeds one token and returns the dequantized logits.
func (r *Reference) Step(token int) []float32 {
	first := r.chunks[0]
	C := first.Embd
	x := make([]float32, C)
	if r.embedding {
		copy(x, EmbeddingRow(token, C))
	} else {
		for c := range x {
			x[c] = float32((token*5+c*3)%32)/32 - 0.5
		}
	}
	var vfirst []float32
	for k, m := range r.chunks {
		if m.VFirst && k == 0 && len(r.chunks) > 1 {
			vfirst = append([]float32(nil), x...)
		}
		if m.VFirst && k > 0 {
			for c := range x {
				x[c] = x[c] + float32(vfirst[c]*0.25)
			}
		}
		hs := C / m.Heads
		for l := m.LayerBegin; l < m.LayerEnd; l++ {
			s0, s1, s2 := r.shift[3*l], r.wkv[3*l+1], r.shift[3*l+2]
			for c := range C {
				v := float32(dq16(s0[c], m.ShiftScale, m.ShiftOffset)*0.5) + float32(x[c]*0.25)
				s0[c] = q16(v, m.ShiftScale, m.ShiftOffset)
			}
			for h := range m.Heads {
				for i := range hs {
					for j := range hs {
						idx := h*hs*hs + i*hs + j
						v := float32(float16.Frombits(s1[idx]).Float32()*0.5) + float32(x[h*hs+i]*0.125)
						v = v + float32(x[h*hs+j]*0.0625)
						s1[idx] = float16.Fromfloat32(v).Bits()
					}
				}
			}
			for c := range C {
				h, i := c/hs, c%hs
				diag := float16.Frombits(s1[h*hs*hs+i*hs+i]).Float32()
				y := float32(x[c]*0.5) + float32(dq16(s0[c], m.ShiftScale, m.ShiftOffset)*0.25)
				y = y + float32(diag*0.25)
				v := float32(dq16(s2[c], m.ShiftScale, m.ShiftOffset)*0.5) + float32(y*0.5)
				s2[c] = q16(v, m.ShiftScale, m.ShiftOffset)
				x[c] = y + float32(dq16(s2[c], m.ShiftScale, m.ShiftOffset)*0.125)
			}
		}
	}
	last := r.chunks[len(r.chunks)-1]
	logits := make([]float32, last.Vocab)
	for v := range logits {
		var acc float32
		for c := range C {
			acc = acc + float32(x[c]*weight(v, c))
		}
		logits[v] = dq16(q16(acc, last.LogitScale, last.LogitOffset), last.LogitScale, last.LogitOffset)
	}
	return logits
}

func weight(v, c int) float32 { return float32((v*7+c*11)%16-8) / 8 }
