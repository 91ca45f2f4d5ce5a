//go:build !purego

package simd

import (
	"golang.org/x/sys/cpu"
)

// detect checks for NEON (ASIMD), which is architecturally required on arm64; the
// check guards against a kernel that hides it.
func detect() Features {
	f := Features{Arch: "arm64", ASIMD: cpu.ARM64.HasASIMD && cpu.ARM64.HasFP}
	f.F32, f.F16, f.I8, f.WKV = f.ASIMD, f.ASIMD, f.ASIMD, f.ASIMD
	return f
}

// f32Kernels etc. name the assembly in simd_arm64.s. They are fixed tables, never
// written.
var (
	f32Kernels = asmKernels{gemv: gemvF32, gemm: gemmF32, tokens: 2}
	f16Kernels = asmKernels{gemv: gemvF16, gemm: gemmF16, tokens: 2}
	i8Kernels  = asmKernels{gemv: gemvI8, gemm: gemmI8, tokens: 2}
)

// Conversion to half precision runs in Go on arm64.
func fromFloat32Asm(dst []uint16, src []float32) { fromFloat32Generic(dst, src) }
