//go:build !purego

package simd

import (
	"golang.org/x/sys/cpu"
)

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
func f32ToF16(dst *uint16, src *float32, n int)

// fromFloat32Asm converts len(src) values, a multiple of 8, with VCVTPS2PH.
func fromFloat32Asm(dst []uint16, src []float32) { f32ToF16(&dst[0], &src[0], len(src)) }
