package simd

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// Kernel speed. Run with
//
//	go test -run '^$' -bench . -benchtime 20x ./model/kernel/simd/
//
// GB/s counts weight bytes read per product (decode is bound by it); GFLOP/s counts
// 2·rows·cols·tokens. "go" is the portable reference, "asm" what MulXxx dispatches to
// on this CPU (the same code when CPU().F32 is false). threads=2 splits the rows in
// two halves on two goroutines, as the engine's pool does.

type benchShape struct {
	name             string
	rows, cols, toks int
}

var benchShapes = []benchShape{
	{"att768x768", 768, 768, 1},
	{"ffnkey3072x768", 3072, 768, 1},
	{"ffnval768x3072", 768, 3072, 1},
	{"head65536x768", 65536, 768, 1},
	{"att768x768/T64", 768, 768, 64},
	{"ffnkey3072x768/T64", 3072, 768, 64},
}

// mulFunc is one kernel over a row range [lo, hi) of a benchShape.
type mulFunc func(dst []float32, lo, hi int)

func benchKernel(b *testing.B, s benchShape, weightBytes int, threads int, f mulFunc) {
	b.SetBytes(int64(s.rows * s.cols * weightBytes))
	for b.Loop() {
		if threads == 1 {
			f(nil, 0, s.rows)
			continue
		}
		var wg sync.WaitGroup
		step := (s.rows + threads - 1) / threads
		for lo := 0; lo < s.rows; lo += step {
			wg.Go(func() { f(nil, lo, min(lo+step, s.rows)) })
		}
		wg.Wait()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(s.rows*s.cols*weightBytes)/sec/1e9, "GB/s")
	b.ReportMetric(2*float64(s.rows*s.cols*s.toks)/sec/1e9, "GFLOP/s")
}

func BenchmarkMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		wf := randomFloats(rng, s.rows*s.cols)
		wh := make([]uint16, len(wf))
		FromFloat32(wh, wf)
		wq, scale := make([]int8, len(wf)), make([]float32, s.rows)
		QuantizeI8(wq, scale, wf, s.rows, s.cols)
		x := randomFloats(rng, s.toks*s.cols)
		dst := make([]float32, s.toks*s.rows)
		c := s.cols
		kernels := []struct {
			name  string
			bytes int
			fn    mulFunc
		}{
			{"f32/asm", 4, func(_ []float32, lo, hi int) {
				MulF32(dst[lo:], s.rows, wf[lo*c:hi*c], x, hi-lo, c, s.toks)
			}},
			{"f32/go", 4, func(_ []float32, lo, hi int) {
				mulF32Generic(dst[lo:], s.rows, wf[lo*c:hi*c], x, hi-lo, c, s.toks)
			}},
			{"f16/asm", 2, func(_ []float32, lo, hi int) {
				MulF16(dst[lo:], s.rows, wh[lo*c:hi*c], x, hi-lo, c, s.toks)
			}},
			{"i8/asm", 1, func(_ []float32, lo, hi int) {
				MulI8(dst[lo:], s.rows, wq[lo*c:hi*c], scale[lo:hi], x, hi-lo, c, s.toks)
			}},
		}
		for _, k := range kernels {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", s.name, k.name, threads), func(b *testing.B) {
					benchKernel(b, s, k.bytes, threads, k.fn)
				})
			}
		}
	}
}

// BenchmarkWKV is one head (N=64) of one token's recurrence: the state (16 KB) is
// read and written once, so GB/s counts 2·4·N² bytes; GFLOP/s counts 9·N² for v7
// (dot, decay, two rank-one updates, output) and 6·N² for v5/v6.
func BenchmarkWKV(b *testing.B) {
	const n = 64
	rng := rand.New(rand.NewPCG(2, 2))
	vec := func() []float32 { return randomFloats(rng, n) }
	s := randomFloats(rng, n*n)
	for i := range s {
		s[i] *= 0.01
	}
	w := make([]float32, n)
	for i := range w {
		w[i] = 0.9
	}
	r, k, v, kk, bb, u, y := vec(), vec(), vec(), vec(), vec(), vec(), make([]float32, n)
	report := func(b *testing.B, flops int) {
		sec := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(8*n*n)/sec/1e9, "GB/s")
		b.ReportMetric(float64(flops*n*n)/sec/1e9, "GFLOP/s")
	}
	b.Run("v7/asm", func(b *testing.B) {
		for b.Loop() {
			WKV7(s, r, w, k, v, kk, bb, y)
		}
		report(b, 9)
	})
	b.Run("v7/go", func(b *testing.B) {
		for b.Loop() {
			wkv7Generic(s, r, w, k, v, kk, bb, y)
		}
		report(b, 9)
	})
	b.Run("v5/asm", func(b *testing.B) {
		for b.Loop() {
			WKV5(s, r, k, v, w, u, y)
		}
		report(b, 6)
	})
	b.Run("v5/go", func(b *testing.B) {
		for b.Loop() {
			wkv5Generic(s, r, k, v, w, u, y)
		}
		report(b, 6)
	})
}
