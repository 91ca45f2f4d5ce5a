//go:build (amd64 || arm64) && !purego

package simd

import "unsafe"

// features is computed once at package initialization and never written again.
var features = detect()

// The assembly kernels, with the same signatures on amd64 (simd_amd64.s) and arm64
// (simd_arm64.s).

//go:noescape
func gemvF32(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)

//go:noescape
func gemmF32(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)

//go:noescape
func gemvF16(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)

//go:noescape
func gemmF16(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)

//go:noescape
func gemvI8(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)

//go:noescape
func gemmI8(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)

//go:noescape
func wkv7(s, r, w, k, v, kk, b, y *float32, n int)

//go:noescape
func wkv5(s, r, k, v, w, u, y *float32, n int)

func wkv7Asm(s, r, w, k, v, kk, b, y []float32) {
	wkv7(&s[0], &r[0], &w[0], &k[0], &v[0], &kk[0], &b[0], &y[0], len(r))
}

func wkv5Asm(s, r, k, v, w, u, y []float32) {
	wkv5(&s[0], &r[0], &k[0], &v[0], &w[0], &u[0], &y[0], len(r))
}
