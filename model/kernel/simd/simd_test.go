package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randomFloats(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// mulCase is one product shape. The list covers every edge mulAsm handles: columns
// below 8 and not a multiple of 8 or 16, rows not a multiple of 4, odd and even token
// counts, and a dst stride wider than the rows (a thread's slice of the outputs).
type mulCase struct{ rows, cols, n, stride int }

var mulCases = []mulCase{
	{1, 1, 1, 1},
	{4, 7, 1, 4},
	{4, 8, 1, 4},
	{4, 16, 2, 4},
	{5, 9, 3, 7},
	{8, 24, 1, 8},
	{3, 33, 4, 3},
	{12, 100, 5, 20},
	{13, 17, 2, 13},
	{64, 768, 1, 64},
	{64, 768, 7, 64},
	{32, 200, 6, 40},
	{20, 3072, 3, 20},
	{16, 64, 6, 16}, // one AVX-512 group of six tokens
	{8, 40, 17, 8},  // two groups of six, one of three, two single tokens
	{12, 96, 40, 12},
}

func (c mulCase) String() string {
	return fmt.Sprintf("%dx%d/n=%d/stride=%d", c.rows, c.cols, c.n, c.stride)
}

// want64 is the exact product in float64 and the sum of |w·x|, which bounds float32
// rounding error.
func want64(w func(o, i int) float64, x []float32, c mulCase, o, t int) (sum, mag float64) {
	for i := range c.cols {
		p := w(o, i) * float64(x[t*c.cols+i])
		sum += p
		mag += math.Abs(p)
	}
	return sum, mag
}

// check compares a kernel's output with float64 and with the portable reference. The
// float32 results may differ from float64 by accumulated rounding (a few ulps of
// the magnitude sum); from the reference, by the different summation order only.
func check(t *testing.T, c mulCase, got, ref []float32, w func(o, i int) float64, x []float32) {
	t.Helper()
	for tok := range c.n {
		for o := range c.rows {
			sum, mag := want64(w, x, c, o, tok)
			g, r := float64(got[tok*c.stride+o]), float64(ref[tok*c.stride+o])
			tol := 1e-6*mag + 1e-7
			if math.Abs(g-sum) > tol || math.Abs(r-sum) > tol || math.Abs(g-r) > tol {
				t.Fatalf("token %d row %d: kernel %v, reference %v, float64 %v (tolerance %g)", tok, o, g, r, sum, tol)
			}
		}
	}
}

// sentinel marks dst elements outside the outputs; kernels must not write them.
const sentinel = float32(-12345)

func newDst(c mulCase) []float32 {
	dst := make([]float32, (c.n-1)*c.stride+c.rows)
	for i := range dst {
		dst[i] = sentinel
	}
	return dst
}

func checkGaps(t *testing.T, c mulCase, dst []float32) {
	t.Helper()
	for tok := range c.n - 1 {
		for o := c.rows; o < c.stride; o++ {
			if dst[tok*c.stride+o] != sentinel {
				t.Fatalf("token %d: wrote dst[%d] outside the %d rows", tok, tok*c.stride+o, c.rows)
			}
		}
	}
}

func TestMulF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range mulCases {
		t.Run(c.String(), func(t *testing.T) {
			w, x := randomFloats(rng, c.rows*c.cols), randomFloats(rng, c.n*c.cols)
			got, ref := newDst(c), newDst(c)
			MulF32(got, c.stride, w, x, c.rows, c.cols, c.n)
			mulF32Generic(ref, c.stride, w, x, c.rows, c.cols, c.n)
			check(t, c, got, ref, func(o, i int) float64 { return float64(w[o*c.cols+i]) }, x)
			checkGaps(t, c, got)
		})
	}
}

func TestMulF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range mulCases {
		t.Run(c.String(), func(t *testing.T) {
			wf, x := randomFloats(rng, c.rows*c.cols), randomFloats(rng, c.n*c.cols)
			w := make([]uint16, len(wf))
			FromFloat32(w, wf)
			got, ref := newDst(c), newDst(c)
			MulF16(got, c.stride, w, x, c.rows, c.cols, c.n)
			mulF16Generic(ref, c.stride, w, x, c.rows, c.cols, c.n)
			check(t, c, got, ref, func(o, i int) float64 { return float64(ToFloat32(w[o*c.cols+i])) }, x)
			checkGaps(t, c, got)
		})
	}
}

func TestMulI8(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range mulCases {
		t.Run(c.String(), func(t *testing.T) {
			wf, x := randomFloats(rng, c.rows*c.cols), randomFloats(rng, c.n*c.cols)
			w, scale := make([]int8, len(wf)), make([]float32, c.rows)
			QuantizeI8(w, scale, wf, c.rows, c.cols)
			got, ref := newDst(c), newDst(c)
			MulI8(got, c.stride, w, scale, x, c.rows, c.cols, c.n)
			mulI8Generic(ref, c.stride, w, scale, x, c.rows, c.cols, c.n)
			check(t, c, got, ref, func(o, i int) float64 { return float64(scale[o]) * float64(w[o*c.cols+i]) }, x)
			checkGaps(t, c, got)
		})
	}
}

// TestBatchInvariance: a token's outputs must be bit-identical whether it is computed
// alone (decode), batched with others (sequence mode) or with the rows split at a
// multiple of four (threads); the engine's token-mode and sequence-mode results and
// its thread counts agree exactly because of it.
func TestBatchInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, cols, n = 22, 203, 5
	wf, x := randomFloats(rng, rows*cols), randomFloats(rng, n*cols)
	wh := make([]uint16, len(wf))
	FromFloat32(wh, wf)
	wq, scale := make([]int8, len(wf)), make([]float32, rows)
	QuantizeI8(wq, scale, wf, rows, cols)
	for _, k := range []struct {
		name string
		mul  func(dst []float32, lo, hi int, x []float32, n int)
	}{
		{"f32", func(dst []float32, lo, hi int, x []float32, n int) {
			MulF32(dst[lo:], rows, wf[lo*cols:hi*cols], x, hi-lo, cols, n)
		}},
		{"f16", func(dst []float32, lo, hi int, x []float32, n int) {
			MulF16(dst[lo:], rows, wh[lo*cols:hi*cols], x, hi-lo, cols, n)
		}},
		{"i8", func(dst []float32, lo, hi int, x []float32, n int) {
			MulI8(dst[lo:], rows, wq[lo*cols:hi*cols], scale[lo:hi], x, hi-lo, cols, n)
		}},
	} {
		t.Run(k.name, func(t *testing.T) {
			all := make([]float32, n*rows)
			k.mul(all, 0, rows, x, n)
			split := make([]float32, n*rows)
			k.mul(split, 0, 8, x, n)
			k.mul(split, 8, rows, x, n)
			one := make([]float32, rows)
			for tok := range n {
				k.mul(one, 0, rows, x[tok*cols:], 1)
				for o := range rows {
					if b, s := all[tok*rows+o], split[tok*rows+o]; one[o] != b || s != b {
						t.Fatalf("token %d row %d: alone %v, batched %v, split rows %v", tok, o, one[o], b, s)
					}
				}
			}
		})
	}
}

func TestQuantizeI8(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  []float32
	}{
		{"zeros", []float32{0, 0, 0}},
		{"peak is exact", []float32{-2, 1, 0.5, 2}},
		{"tiny", []float32{1e-30, -3e-30}},
		{"mixed", []float32{0.1, -0.7, 0.33, 0.999, -0.001}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, scale := make([]int8, len(tc.row)), make([]float32, 1)
			QuantizeI8(q, scale, tc.row, 1, len(tc.row))
			for i, v := range tc.row {
				back := scale[0] * float32(q[i])
				if d := math.Abs(float64(back - v)); d > float64(scale[0])/2*1.0001+1e-45 {
					t.Errorf("element %d: %v quantized to %d×%v = %v, error %v > scale/2", i, v, q[i], scale[0], back, d)
				}
				if q[i] == -128 {
					t.Errorf("element %d: -128 used; the range must stay symmetric", i)
				}
			}
		})
	}
}

func TestHalfRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in, want float32
	}{
		{0, 0}, {1, 1}, {-2.5, -2.5}, {65504, 65504}, {1e-7, 1.1920929e-07}, {0.1, 0.099975586},
		{float32(math.Inf(1)), float32(math.Inf(1))}, {1e6, float32(math.Inf(1))},
	} {
		h := make([]uint16, 1)
		FromFloat32(h, []float32{tc.in})
		if got := ToFloat32(h[0]); got != tc.want {
			t.Errorf("%v → %#04x → %v, want %v", tc.in, h[0], got, tc.want)
		}
	}
}

// TestFromFloat32Bits checks the hardware conversion against the portable one, bit
// for bit, on special values (zeros, subnormals, the overflow edge, Inf, NaN) and on
// random bit patterns of every exponent.
func TestFromFloat32Bits(t *testing.T) {
	src := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, 6e-8, 3e-8,
		5.9604645e-08, 6.1035156e-05, 6.1e-05, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.MaxFloat32, math.SmallestNonzeroFloat32, 1.0009765625, 1.00048828125, 1.00146484375}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 1 << 16 {
		src = append(src, math.Float32frombits(rng.Uint32()))
	}
	got, want := make([]uint16, len(src)), make([]uint16, len(src))
	FromFloat32(got, src)
	fromFloat32Generic(want, src)
	for i, v := range src {
		if got[i] != want[i] && !(math.IsNaN(float64(v)) && got[i]&0x7c00 == 0x7c00 && got[i]&0x3ff != 0) {
			t.Fatalf("%v (%#08x): %#04x, reference %#04x", v, math.Float32bits(v), got[i], want[i])
		}
	}
}

func TestShapePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short x did not panic")
		}
	}()
	MulF32(make([]float32, 4), 4, make([]float32, 16), make([]float32, 3), 4, 4, 1)
}

func TestFeatures(t *testing.T) {
	f := CPU()
	t.Log(f)
	if f.F16 && !f.F32 {
		t.Error("fp16 assembly without the f32 prerequisites")
	}
	if f.Arch == "amd64" && f.F32 && !(f.AVX2 && f.FMA) {
		t.Error("amd64 assembly enabled without AVX2 and FMA")
	}
}

// TestMulTokensBitIdentical: a token's outputs do not depend on how many tokens the
// call had, so whichever tile (six, three or one token, AVX-512 or AVX2) computed it,
// for every storage type. Sequence mode equal to token mode rests on this.
func TestMulTokensBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const rows, cols = 12, 200
	wf := randomFloats(rng, rows*cols)
	half, quant, scale := make([]uint16, len(wf)), make([]int8, len(wf)), make([]float32, rows)
	FromFloat32(half, wf)
	QuantizeI8(quant, scale, wf, rows, cols)
	kinds := map[string]func(dst, x []float32, n int){
		"f32":  func(dst, x []float32, n int) { MulF32(dst, rows, wf, x, rows, cols, n) },
		"f16":  func(dst, x []float32, n int) { MulF16(dst, rows, half, x, rows, cols, n) },
		"int8": func(dst, x []float32, n int) { MulI8(dst, rows, quant, scale, x, rows, cols, n) },
	}
	for name, mul := range kinds {
		for _, n := range []int{2, 3, 5, 6, 7, 9, 12, 13, 17, 40} {
			x := randomFloats(rng, n*cols)
			all := make([]float32, n*rows)
			mul(all, x, n)
			for tok := range n {
				one := make([]float32, rows)
				mul(one, x[tok*cols:(tok+1)*cols], 1)
				for o := range one {
					if one[o] != all[tok*rows+o] {
						t.Fatalf("%s n=%d token %d row %d: %v alone, %v among %d (%s)", name, n, tok, o, one[o], all[tok*rows+o], n, CPU())
					}
				}
			}
		}
	}
}
