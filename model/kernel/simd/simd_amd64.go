//go:build !purego

package simd

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

func detect() Features {
	f := Features{Arch: "amd64", AVX2: cpu.X86.HasAVX2, FMA: cpu.X86.HasFMA, F16C: cpu.X86.HasF16C,
		AVX512: cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL}
	f.F32 = f.AVX2 && f.FMA
	f.I8 = f.F32
	f.F16 = f.F32 && f.F16C
	f.WKV = f.F32
	f.Wide = f.F32 && f.AVX512
	return f
}

// f32Kernels etc. name the assembly in simd_amd64.s and simd_avx512_amd64.s; the
// AVX-512 tiles join where the CPU has them. They are fixed once at initialization.
var (
	f32Kernels = withWide(asmKernels{gemv: gemvF32, gemm: gemmF32, tokens: 3}, gemmF32x6)
	f16Kernels = withWide(asmKernels{gemv: gemvF16, gemm: gemmF16, tokens: 3}, gemmF16x6)
	i8Kernels  = withWide(asmKernels{gemv: gemvI8, gemm: gemmI8, tokens: 3}, gemmI8x6)
)

func withWide(k asmKernels, wide func(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)) asmKernels {
	if features.Wide {
		k.wide, k.wideTokens = wide, 6
	}
	return k
}

// The AVX-512 tiles of four rows × six tokens (simd_avx512_amd64.s), with gemm's
// signature and results.

//go:noescape
func gemmF32x6(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)

//go:noescape
func gemmF16x6(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)

//go:noescape
func gemmI8x6(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)

//go:noescape
func f32ToF16(dst *uint16, src *float32, n int)

// fromFloat32Asm converts len(src) values, a multiple of 8, with VCVTPS2PH.
func fromFloat32Asm(dst []uint16, src []float32) { f32ToF16(&dst[0], &src[0], len(src)) }
