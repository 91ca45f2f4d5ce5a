//go:build !purego

package simd

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// features is computed once at package initialization and never written again.
var features = detect()

func detect() Features {
	f := Features{Arch: "amd64", AVX2: cpu.X86.HasAVX2, FMA: cpu.X86.HasFMA, F16C: cpu.X86.HasF16C}
	f.F32 = f.AVX2 && f.FMA
	f.I8 = f.F32
	f.F16 = f.F32 && f.F16C
	f.WKV = f.F32
	return f
}

// f32Kernels etc. name the assembly in simd_amd64.s. They are fixed tables, never
// written.
var (
	f32Kernels = asmKernels{gemv: gemvF32, gemm: gemmF32, tokens: 3}
	f16Kernels = asmKernels{gemv: gemvF16, gemm: gemmF16, tokens: 3}
	i8Kernels  = asmKernels{gemv: gemvI8, gemm: gemmI8, tokens: 3}
)

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

//go:noescape
func f32ToF16(dst *uint16, src *float32, n int)

// fromFloat32Asm converts len(src) values, a multiple of 8, with VCVTPS2PH.
func fromFloat32Asm(dst []uint16, src []float32) { f32ToF16(&dst[0], &src[0], len(src)) }
