//go:build (!amd64 && !arm64) || purego

package simd

import "runtime"

// features is computed once at package initialization and never written again.
// This build has no assembly: every kernel runs the portable Go reference.
var features = Features{Arch: runtime.GOARCH}

func mulF32Asm(dst []float32, dstStride int, w, x []float32, rows, cols, n int) {
	mulF32Generic(dst, dstStride, w, x, rows, cols, n)
}

func mulF16Asm(dst []float32, dstStride int, w []uint16, x []float32, rows, cols, n int) {
	mulF16Generic(dst, dstStride, w, x, rows, cols, n)
}

func mulI8Asm(dst []float32, dstStride int, w []int8, scale, x []float32, rows, cols, n int) {
	mulI8Generic(dst, dstStride, w, scale, x, rows, cols, n)
}

func wkv7Asm(s, r, w, k, v, kk, b, y []float32) { wkv7Generic(s, r, w, k, v, kk, b, y) }

func wkv5Asm(s, r, k, v, w, u, y []float32) { wkv5Generic(s, r, k, v, w, u, y) }

func fromFloat32Asm(dst []uint16, src []float32) { fromFloat32Generic(dst, src) }
