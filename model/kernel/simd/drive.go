//go:build (amd64 || arm64) && !purego

package simd

import "unsafe"

// asmKernels are one storage type's assembly primitives. Both take cols8 (the columns
// rounded down to a multiple of 8, at least 8) and the row stride in elements, and
// handle whole blocks of four output rows only; mulAsm does the rest in Go. Both sum
// every output in one 8-lane accumulator reduced the same way, so they give the same
// bits for a token.
type asmKernels struct {
	// gemv: dst[o] = Σ_{i<cols8} W[o][i]·x[i] for o < rows, rows a multiple of 4.
	gemv func(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
	// gemm: for the four rows at w and tokens t < tokens·groups (x rows stride
	// apart), dst[t·dstStride+o] = Σ_{i<cols8} W[o][i]·x[t][i].
	gemm func(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
	// tokens is how many tokens one gemm group takes (its register tile's width).
	tokens int
	// wide, when not nil, is a gemm over groups of wideTokens tokens, run first;
	// gemm takes the tokens it leaves over. Same results as gemm.
	wide       func(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
	wideTokens int
}

// mulAsm drives the primitives over a whole product. Loop order for several tokens:
// 4-row blocks outside, token groups inside, so a block's weights stay in L1 while
// every token meets them and are read from memory once per call; tokens left over
// after the last full group run through gemv on the same block, still from L1. The
// edges — columns past the last multiple of 8, rows past the last multiple of 4 —
// are rare in real shapes and go through the reference dot product.
func mulAsm[W float32 | uint16 | int8](k asmKernels, dot func([]W, []float32) float32,
	dst []float32, dstStride int, w []W, x []float32, rows, cols, n int) {
	cols8, rows4 := cols&^7, rows&^3
	if cols8 == 0 || rows4 == 0 {
		cols8, rows4 = 0, 0
	}
	if rows4 > 0 {
		if n == 1 {
			k.gemv(&dst[0], unsafe.Pointer(&w[0]), &x[0], rows4, cols8, cols)
		} else {
			wide := 0
			if k.wide != nil {
				wide = n / k.wideTokens
			}
			first := wide * k.wideTokens
			groups := (n - first) / k.tokens
			for o := 0; o < rows4; o += 4 {
				wo := unsafe.Pointer(&w[o*cols])
				if wide > 0 {
					k.wide(&dst[o], dstStride, wo, &x[0], wide, cols8, cols)
				}
				if groups > 0 {
					k.gemm(&dst[first*dstStride+o], dstStride, wo, &x[first*cols], groups, cols8, cols)
				}
				for t := first + groups*k.tokens; t < n; t++ {
					k.gemv(&dst[t*dstStride+o], wo, &x[t*cols], 4, cols8, cols)
				}
			}
		}
	}
	if cols8 == cols && rows4 == rows {
		return
	}
	for t := range n {
		out := dst[t*dstStride : t*dstStride+rows]
		xt := x[t*cols : t*cols+cols]
		if cols8 < cols {
			for o := range rows4 {
				out[o] += dot(w[o*cols+cols8:o*cols+cols], xt[cols8:])
			}
		}
		for o := rows4; o < rows; o++ {
			out[o] = dot(w[o*cols:o*cols+cols], xt)
		}
	}
}

func mulF32Asm(dst []float32, dstStride int, w, x []float32, rows, cols, n int) {
	mulAsm(f32Kernels, dotF32, dst, dstStride, w, x, rows, cols, n)
}

func mulF16Asm(dst []float32, dstStride int, w []uint16, x []float32, rows, cols, n int) {
	mulAsm(f16Kernels, dotF16, dst, dstStride, w, x, rows, cols, n)
}

func mulI8Asm(dst []float32, dstStride int, w []int8, scale, x []float32, rows, cols, n int) {
	mulAsm(i8Kernels, dotI8, dst, dstStride, w, x, rows, cols, n)
	for t := range n {
		out := dst[t*dstStride : t*dstStride+rows]
		for o, s := range scale[:rows] {
			out[o] *= s
		}
	}
}
