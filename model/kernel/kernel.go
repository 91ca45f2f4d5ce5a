// Package kernel holds the matrix products the RWKV engine spends its time in.
//
// The model code only ever asks for y = W·x for one row (MulVec) or for a block of rows
// (MulMat), with W stored PyTorch-style as (out, in). Everything about how that is done
// — the storage type of W, the accumulation order, SIMD, threads — lives here, so a
// later change can add assembly or 16-bit and 8-bit weight storage without touching
// the model.
//
// The implementation here is portable Go: float32 storage, dot products with eight
// independent accumulators (fast, and more accurate than one running sum), work split
// by output rows across a persistent Pool of goroutines.
package kernel

import (
	"fmt"
	"sync"
)

// Matrix is a dense row-major float32 matrix applied as y = W·x.
type Matrix struct {
	Rows, Cols int
	Data       []float32 // Rows*Cols values, row o at Data[o*Cols:]
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

// parallelWork is the number of multiply-adds below which splitting a product across
// goroutines costs more than it saves.
const parallelWork = 1 << 15

// MulVec sets dst[o] = Σ_i W[o][i]·x[i]. dst must have Rows elements and x Cols.
func (m *Matrix) MulVec(p *Pool, dst, x []float32) {
	m.MulMat(p, dst, x, 1)
}

// MulMat applies the matrix to n rows at once: for each row t of x (n×Cols), row t of
// dst (n×Rows) is W·x[t], exactly as MulVec would compute it. The weights are read
// from memory once per block of tokenBlock inputs rather than once per input. Short
// buffers are a programming error and panic.
func (m *Matrix) MulMat(p *Pool, dst, x []float32, n int) {
	if len(dst) < n*m.Rows || len(x) < n*m.Cols {
		panic(fmt.Sprintf("kernel: MulMat %dx%d over %d rows: dst %d, x %d values", m.Rows, m.Cols, n, len(dst), len(x)))
	}
	// Threads get whole groups of rowAlign rows, so a kernel that works on blocks of
	// rows sees the same blocks however many threads there are, and results do not
	// depend on the thread count.
	groups := (m.Rows + rowAlign - 1) / rowAlign
	parts := m.Rows * m.Cols * n / parallelWork
	if parts < 2 || p.Threads() < 2 {
		m.mulRows(dst, x, n, 0, m.Rows) // without the closure Run needs, which allocates
		return
	}
	p.Run(groups, parts, func(lo, hi int) {
		m.mulRows(dst, x, n, lo*rowAlign, min(hi*rowAlign, m.Rows))
	})
}

// rowAlign is the granularity of the row split across threads.
const rowAlign = 8

// tokenBlock is how many inputs share one pass over the weights in MulMat: their
// rows (tokenBlock·Cols floats) stay in cache while every weight row meets them, so
// weights are read from memory once per block instead of once per token.
const tokenBlock = 16

// mulRows computes output rows [lo, hi) for all n inputs.
func (m *Matrix) mulRows(dst, x []float32, n, lo, hi int) {
	c, r := m.Cols, m.Rows
	for t0 := 0; t0 < n; t0 += tokenBlock {
		t1 := min(t0+tokenBlock, n)
		for o := lo; o < hi; o++ {
			w := m.Data[o*c : o*c+c]
			for t := t0; t < t1; t++ {
				dst[t*r+o] = Dot(w, x[t*c:t*c+c])
			}
		}
	}
}

// Dot returns Σ a[i]·b[i] over len(a) elements, summed in eight interleaved float32
// accumulators that are added pairwise at the end. Every product in this package
// sums this way, so a token's result does not depend on how it was batched or split
// across threads. (A register-blocked kernel sharing weight loads across tokens
// measured no faster in portable Go; assembly is where that gain is.)
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// Pool runs data-parallel loops on a fixed set of goroutines started once, so that a
// decode step does not start goroutines per matrix product. The zero Pool and a nil
// *Pool run everything on the calling goroutine.
type Pool struct {
	workers int
	jobs    chan job
	once    sync.Once
}

type job struct {
	fn     func(lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
}

// NewPool starts threads-1 worker goroutines; the caller of Run is the last worker.
// threads < 1 means 1.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{workers: threads}
	if threads > 1 {
		p.jobs = make(chan job, threads)
		for range threads - 1 {
			go func() {
				for j := range p.jobs {
					j.fn(j.lo, j.hi)
					j.done.Done()
				}
			}()
		}
	}
	return p
}

// Threads returns the number of goroutines a Run may use, including the caller's.
func (p *Pool) Threads() int {
	if p == nil || p.workers < 1 {
		return 1
	}
	return p.workers
}

// Run calls fn over [0, n) split into contiguous ranges, one per thread, and returns
// when all have finished. parts caps the number of ranges, so small loops stay on the
// caller's goroutine; parts < 2 runs fn(0, n) directly.
func (p *Pool) Run(n, parts int, fn func(lo, hi int)) {
	parts = min(parts, p.Threads(), n)
	if parts < 2 {
		fn(0, n)
		return
	}
	step := (n + parts - 1) / parts
	parts = (n + step - 1) / step
	var wg sync.WaitGroup
	wg.Add(parts - 1)
	for k := 1; k < parts; k++ {
		lo, hi := k*step, min((k+1)*step, n)
		p.jobs <- job{fn: fn, lo: lo, hi: hi, done: &wg}
	}
	fn(0, min(step, n))
	wg.Wait()
}

// Close stops the worker goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p == nil || p.jobs == nil {
		return
	}
	p.once.Do(func() { close(p.jobs) })
}
