// Package simd holds the hot loops of the CPU engine: matrix products with float32,
// IEEE half (fp16) and int8 weights, in hand-written assembly where the CPU has the
// instructions and in portable Go everywhere else.
//
// Opinions:
//   - One operation, three storage types. Every product computes
//     dst[t·dstStride+o] = Σ_i W[o][i]·x[t][i] for output rows o and input rows
//     (tokens) t, with W stored (out, in) row-major and x always float32. fp16 and
//     int8 weights are widened to float32 inside the kernel, so they cost half or a
//     quarter of the memory traffic and nothing else: activations are never rounded.
//   - The portable Go code is the reference. The assembly must agree with it to
//     float32 rounding (the tests compare them), and it is what runs on other
//     architectures, without the required CPU features, and under -tags purego.
//   - A token's result does not depend on how it was computed: the one-token and
//     the many-token kernels sum every output in the same eight lanes and reduce
//     them the same way, so decode and prefill, and any split of the rows at a
//     multiple of four, give identical bits.
//   - Features are detected at run time (golang.org/x/sys/cpu), never assumed: amd64
//     needs AVX2 and FMA (plus F16C for fp16 weights) and uses AVX-512 F/DQ/VL for the
//     matrix-matrix tiles where present; arm64 always has NEON.
//   - One token (decode) streams the weights once, four rows at a time sharing each
//     load of x (on amd64 with software prefetch ahead of the hardware's), and is
//     limited by memory bandwidth. Several tokens (prefill) run register-blocked tiles of four
//     rows × six tokens (AVX-512: two tokens per ZMM register, each half summing as a
//     YMM would), × three tokens (AVX2) or × two tokens (arm64): each weight vector is
//     loaded and widened once per tile, and a block's weights stay in L1 while every
//     token meets them.
//   - The WKV recurrences (WKV5, WKV7) are here too: after the products they were the
//     largest cost of sequence mode. So are e^x and the logistic function over rows
//     (Exp, Sigmoid), in float32 within 1 ulp, the assembly bit-identical to Exp32.
//   - No threads here: callers split output rows across their own workers.
package simd

import "fmt"

// Features reports which instruction-set extensions this CPU has and which kernels
// use assembly as a result.
type Features struct {
	Arch  string // GOARCH
	AVX2  bool   // amd64
	FMA   bool   // amd64
	F16C  bool   // amd64: fp16 → fp32 conversion
	ASIMD bool   // arm64 NEON
	// AVX512 is AVX-512 F, DQ and VL (amd64). The matrix-matrix products then use
	// tiles of four rows × six tokens in ZMM registers (Wide).
	AVX512 bool

	// Kernels using assembly: the products per weight storage type and the WKV
	// recurrences. All false under -tags purego or on a CPU lacking the features.
	F32, F16, I8, WKV bool
	// Wide reports that the matrix-matrix products use the AVX-512 tiles.
	Wide bool
}

// String is a one-line summary for logs and benchmark output.
func (f Features) String() string {
	return fmt.Sprintf("%s avx2=%t fma=%t f16c=%t avx512=%t asimd=%t asm: f32=%t f16=%t int8=%t wkv=%t wide-gemm=%t",
		f.Arch, f.AVX2, f.FMA, f.F16C, f.AVX512, f.ASIMD, f.F32, f.F16, f.I8, f.WKV, f.Wide)
}

// CPU returns the features detected on this machine.
func CPU() Features { return features }

// MulF32 computes, for o < rows and t < n,
//
//	dst[t·dstStride+o] = Σ_{i<cols} w[o·cols+i] · x[t·cols+i]
//
// n = 1 is a matrix-vector product (decode); larger n a matrix-matrix product over n
// tokens (prefill). Short slices are a programming error and panic.
func MulF32(dst []float32, dstStride int, w, x []float32, rows, cols, n int) {
	checkShape("MulF32", len(dst), dstStride, len(w), len(x), rows, cols, n)
	if features.F32 {
		mulF32Asm(dst, dstStride, w, x, rows, cols, n)
		return
	}
	mulF32Generic(dst, dstStride, w, x, rows, cols, n)
}

// MulF16 is MulF32 with weights stored as IEEE 754 half-precision bit patterns
// (see FromFloat32), widened to float32 exactly inside the kernel.
func MulF16(dst []float32, dstStride int, w []uint16, x []float32, rows, cols, n int) {
	checkShape("MulF16", len(dst), dstStride, len(w), len(x), rows, cols, n)
	if features.F16 {
		mulF16Asm(dst, dstStride, w, x, rows, cols, n)
		return
	}
	mulF16Generic(dst, dstStride, w, x, rows, cols, n)
}

// MulI8 is MulF32 with weights stored as int8 with one float32 scale per row (see
// QuantizeI8): W[o][i] = scale[o]·w[o·cols+i]. x stays float32, so the only error
// beyond float32 rounding is the weights' own quantization.
func MulI8(dst []float32, dstStride int, w []int8, scale, x []float32, rows, cols, n int) {
	checkShape("MulI8", len(dst), dstStride, len(w), len(x), rows, cols, n)
	if len(scale) < rows {
		panic(fmt.Sprintf("simd: MulI8: %d scales for %d rows", len(scale), rows))
	}
	if features.I8 {
		mulI8Asm(dst, dstStride, w, scale, x, rows, cols, n)
		return
	}
	mulI8Generic(dst, dstStride, w, scale, x, rows, cols, n)
}

func checkShape(op string, dst, dstStride, w, x, rows, cols, n int) {
	if rows < 1 || cols < 1 || n < 1 || dstStride < rows ||
		w < rows*cols || x < n*cols || dst < (n-1)*dstStride+rows {
		panic(fmt.Sprintf("simd: %s %dx%d over %d tokens (dst stride %d): dst %d, w %d, x %d values",
			op, rows, cols, n, dstStride, dst, w, x))
	}
}
