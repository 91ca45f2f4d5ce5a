//go:build !purego

package simd

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// features is computed once at package initialization and never written again.
// NEON (ASIMD) is architecturally required on arm64; the check guards against a
// kernel that hides it.
var features = detect()

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

// Conversion to half precision runs in Go on arm64.
func fromFloat32Asm(dst []uint16, src []float32) { fromFloat32Generic(dst, src) }
