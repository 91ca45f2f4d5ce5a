// Package kernel holds the matrix products the RWKV engine spends its time in.
//
// The model code only ever asks for y = W·x for one row (MulVec) or for a block of rows
// (MulMat), with W stored PyTorch-style as (out, in). Everything about how that is done
// — the storage type of W, the accumulation order, SIMD, threads — lives here, so a
// later change can add assembly or 16-bit and 8-bit weight storage without touching
// the model.
//
// The products themselves run in package simd: hand-written AVX2/FMA (amd64) and NEON
// (arm64) assembly where the CPU has it, detected at run time, and portable Go
// otherwise. Weights may be stored as float32 (the reference), IEEE half or int8 with a
// scale per row; the narrow types are widened inside the kernel, so they halve or
// quarter the memory traffic of decode, which is bandwidth-bound. Work is split in
// chunks of output rows (multiples of four) that the threads of a persistent Pool
// claim as they go; several independent products can share one Pool job (Pool.Mul).
package kernel

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/kernel/simd"
)

// Matrix is a dense row-major matrix applied as y = W·x, its weights stored as
// float32 (Data) or, after Convert, as half-precision or int8.
type Matrix struct {
	Rows, Cols int
	// Data holds Rows*Cols values, row o at Data[o*Cols:], when the storage is F32;
	// it is nil for the other storage types.
	Data []float32

	storage Storage
	half    []uint16  // F16: IEEE half bit patterns, row-major
	quant   []int8    // Int8: row-major
	scale   []float32 // Int8: W[o][i] = scale[o]·quant[o·Cols+i]
}

// Storage is how a Matrix keeps its weights.
type Storage string

// The weight storage types. F32 is exact and the reference; F16 rounds each weight to
// the nearest half (relative error ≤ 2^-11, magnitudes beyond 65504 overflow); Int8
// quantizes each row symmetrically to ±127 steps of max|row|/127 (error ≤ half a
// step). Activations stay float32 in every case.
const (
	F32  Storage = "f32"
	F16  Storage = "f16"
	Int8 Storage = "int8"
)

// ParseStorage accepts "f32", "f16" or "int8"; "" means F32.
func ParseStorage(s string) (Storage, error) {
	switch Storage(s) {
	case "", F32:
		return F32, nil
	case F16, Int8:
		return Storage(s), nil
	}
	return "", fmt.Errorf("weight storage %q: want f32, f16 or int8", s)
}

// Storage returns how the matrix keeps its weights.
func (m *Matrix) Storage() Storage {
	if m.storage == "" {
		return F32
	}
	return m.storage
}

// Bytes is the size of the stored weights (and scales), what one product reads.
func (m *Matrix) Bytes() int64 {
	return int64(4*len(m.Data) + 2*len(m.half) + len(m.quant) + 4*len(m.scale))
}

// Convert returns a copy of a float32 matrix stored as s; F32 returns m itself. Only
// float32 matrices convert: rounding twice would compound the error.
func (m *Matrix) Convert(s Storage) (*Matrix, error) {
	if s == F32 || s == "" {
		return m, nil
	}
	if m.Storage() != F32 {
		return nil, fmt.Errorf("convert %dx%d matrix to %s: it is stored as %s, not f32", m.Rows, m.Cols, s, m.Storage())
	}
	out := &Matrix{Rows: m.Rows, Cols: m.Cols, storage: s}
	switch s {
	case F16:
		out.half = make([]uint16, len(m.Data))
		simd.FromFloat32(out.half, m.Data)
	case Int8:
		out.quant = make([]int8, len(m.Data))
		out.scale = make([]float32, m.Rows)
		simd.QuantizeI8(out.quant, out.scale, m.Data, m.Rows, m.Cols)
	default:
		return nil, fmt.Errorf("convert matrix: unknown weight storage %q", s)
	}
	return out, nil
}

// NewMatrix wraps data as a rows×cols matrix, checking its length.
func NewMatrix(rows, cols int, data []float32) (*Matrix, error) {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols {
		return nil, fmt.Errorf("matrix %dx%d needs %d values, have %d", rows, cols, rows*cols, len(data))
	}
	return &Matrix{Rows: rows, Cols: cols, Data: data}, nil
}

// Transposed returns a new matrix holding the transpose of a rows×cols row-major
// array. The engine stores LoRA factors, which checkpoints keep as (in, out), this way
// so that every product goes through the same (out, in) kernel.
func Transposed(rows, cols int, data []float32) (*Matrix, error) {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols {
		return nil, fmt.Errorf("matrix %dx%d needs %d values, have %d", rows, cols, rows*cols, len(data))
	}
	t := make([]float32, len(data))
	for i := range rows {
		for j := range cols {
			t[j*rows+i] = data[i*cols+j]
		}
	}
	return &Matrix{Rows: cols, Cols: rows, Data: t}, nil
}

// MulVec sets dst[o] = Σ_i W[o][i]·x[i]. dst must have Rows elements and x Cols.
func (m *Matrix) MulVec(p *Pool, dst, x []float32) {
	m.MulMat(p, dst, x, 1)
}

// MulMat applies the matrix to n rows at once: for each row t of x (n×Cols), row t of
// dst (n×Rows) is W·x[t]. Several rows run as a register-blocked matrix-matrix
// product that reads the weights from memory once per block of up to tokenBlock
// inputs; the result for a token agrees with MulVec's to float32 rounding (the
// summation order differs). The pool's threads share the output rows (see Pool.Mul).
// Short buffers are a programming error and panic.
func (m *Matrix) MulMat(p *Pool, dst, x []float32, n int) {
	p.Mul(Product{M: m, Dst: dst, X: x, N: n})
}

// tokenBlock is how many inputs share one pass over the weights in MulMat. The
// kernel keeps a block of four weight rows in L1 while every input meets it, so the
// inputs (tokenBlock·Cols floats) must stay in L2.
const tokenBlock = 64

// mulRows computes output rows [lo, hi) for all n inputs.
func (m *Matrix) mulRows(dst, x []float32, n, lo, hi int) {
	c, r := m.Cols, m.Rows
	// Equal blocks: 80 inputs run as 40+40, not 64+16, which would read the weights
	// twice for little work the second time.
	step := (n + (n+tokenBlock-1)/tokenBlock - 1) / ((n + tokenBlock - 1) / tokenBlock)
	for t0 := 0; t0 < n; t0 += step {
		k := min(step, n-t0)
		d, xs := dst[t0*r+lo:], x[t0*c:(t0+k)*c]
		switch m.storage {
		case F16:
			simd.MulF16(d, r, m.half[lo*c:hi*c], xs, hi-lo, c, k)
		case Int8:
			simd.MulI8(d, r, m.quant[lo*c:hi*c], m.scale[lo:hi], xs, hi-lo, c, k)
		default:
			simd.MulF32(d, r, m.Data[lo*c:hi*c], xs, hi-lo, c, k)
		}
	}
}
