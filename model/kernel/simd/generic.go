package simd

import (
	"math"

	"github.com/x448/float16"
)

// The portable kernels below are the reference the assembly is tested against and
// the fallback where there is none. Each output is one dot product summed in eight
// interleaved accumulators added pairwise at the end, as package kernel's Dot does,
// so results do not depend on batching or on how rows are split across threads.

// Rows outside, tokens inside: a weight row stays in L1 while every token meets it,
// so the weights are read from memory once per call, not once per token.

func mulF32Generic(dst []float32, dstStride int, w, x []float32, rows, cols, n int) {
	for o := range rows {
		wo := w[o*cols : o*cols+cols]
		for t := range n {
			dst[t*dstStride+o] = dotF32(wo, x[t*cols:t*cols+cols])
		}
	}
}

func mulF16Generic(dst []float32, dstStride int, w []uint16, x []float32, rows, cols, n int) {
	for o := range rows {
		wo := w[o*cols : o*cols+cols]
		for t := range n {
			dst[t*dstStride+o] = dotF16(wo, x[t*cols:t*cols+cols])
		}
	}
}

func mulI8Generic(dst []float32, dstStride int, w []int8, scale, x []float32, rows, cols, n int) {
	for o := range rows {
		wo := w[o*cols : o*cols+cols]
		for t := range n {
			dst[t*dstStride+o] = scale[o] * dotI8(wo, x[t*cols:t*cols+cols])
		}
	}
}

func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		for j := range 8 {
			s[j] += aa[j] * bb[j]
		}
	}
	for ; i < len(a); i++ {
		s[0] += a[i] * b[i]
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

func dotF16(a []uint16, b []float32) float32 {
	b = b[:len(a)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		for j := range 8 {
			s[j] += ToFloat32(aa[j]) * bb[j]
		}
	}
	for ; i < len(a); i++ {
		s[0] += ToFloat32(a[i]) * b[i]
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

func dotI8(a []int8, b []float32) float32 {
	b = b[:len(a)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		for j := range 8 {
			s[j] += float32(aa[j]) * bb[j]
		}
	}
	for ; i < len(a); i++ {
		s[0] += float32(a[i]) * b[i]
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

// FromFloat32 stores src as IEEE 754 half-precision bit patterns, rounding to
// nearest even; magnitudes beyond 65504 become ±Inf. dst must be as long as src.
// Where the CPU converts in hardware (F16C) the bulk of the work runs there; both
// ways give the same bits, which the tests check.
func FromFloat32(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	done := 0
	if features.F16 {
		done = len(src) &^ 7
		if done > 0 {
			fromFloat32Asm(dst[:done], src[:done])
		}
	}
	fromFloat32Generic(dst[done:], src[done:])
}

func fromFloat32Generic(dst []uint16, src []float32) {
	for i, v := range src {
		dst[i] = float16.Fromfloat32(v).Bits()
	}
}

// ToFloat32 widens one half-precision bit pattern to float32 (exact).
func ToFloat32(h uint16) float32 {
	return float16.Frombits(h).Float32()
}

// QuantizeI8 stores the rows×cols matrix src as int8 with one scale per row:
// scale[o] = max_i |src[o][i]| / 127 and w = round(src/scale), so every weight is
// within scale[o]/2 of its original value (symmetric per-row quantization; an
// all-zero row gets scale 0). dst needs rows·cols values and scale rows.
func QuantizeI8(dst []int8, scale []float32, src []float32, rows, cols int) {
	for o := range rows {
		row := src[o*cols : o*cols+cols]
		var peak float32
		for _, v := range row {
			peak = max(peak, float32(math.Abs(float64(v))))
		}
		scale[o] = peak / 127
		q := dst[o*cols : o*cols+cols]
		if peak == 0 {
			clear(q)
			continue
		}
		inv := 127 / float64(peak)
		for i, v := range row {
			q[i] = int8(max(-127, min(127, math.RoundToEven(float64(v)*inv))))
		}
	}
}
