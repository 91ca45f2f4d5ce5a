//go:build !purego

#include "textflag.h"

// NEON kernels. The Go assembler has VFMLA but no floating-point vector add, pairwise
// add, half→single widening or int→float conversion, so those are encoded by hand
// below (encodings checked against GNU as; operands are V register numbers).
//
// Register use: R0 dst, R1–R4 the four weight rows (post-incremented), R5 x, R6 the
// row or pair count, R7 cols8, R8 the weight row stride in bytes, R9 the block's
// first row, R10/R11 running x pointers, R12 x stride in bytes (gemm) or four weight
// rows in bytes (gemv), R13 the column counter, R14 the dst stride in bytes (gemm).
// V0–V15 accumulate, V16–V19 hold x, V20–V31 weights.

// fadd Vd.4S, Vn.4S, Vm.4S
#define FADD4S(d, n, m) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
// faddp Vd.4S, Vn.4S, Vm.4S: [n0+n1, n2+n3, m0+m1, m2+m3]
#define FADDP4S(d, n, m) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))
// fcvtl Vd.4S, Vn.4H and fcvtl2 Vd.4S, Vn.8H: widen the low / high four halves
#define FCVTL(d, n) WORD $(0x0E217800 | (n)<<5 | (d))
#define FCVTL2(d, n) WORD $(0x4E217800 | (n)<<5 | (d))
// sxtl Vd.8H, Vn.8B; sxtl Vd.4S, Vn.4H; sxtl2 Vd.4S, Vn.8H
#define SXTL8H(d, n) WORD $(0x0F08A400 | (n)<<5 | (d))
#define SXTL4S(d, n) WORD $(0x0F10A400 | (n)<<5 | (d))
#define SXTL24S(d, n) WORD $(0x4F10A400 | (n)<<5 | (d))
// scvtf Vd.4S, Vn.4S
#define SCVTF4S(d, n) WORD $(0x4E21D800 | (n)<<5 | (d))

#define ZERO_V0_V7 \
	VEOR V0.B16, V0.B16, V0.B16 \
	VEOR V1.B16, V1.B16, V1.B16 \
	VEOR V2.B16, V2.B16, V2.B16 \
	VEOR V3.B16, V3.B16, V3.B16 \
	VEOR V4.B16, V4.B16, V4.B16 \
	VEOR V5.B16, V5.B16, V5.B16 \
	VEOR V6.B16, V6.B16, V6.B16 \
	VEOR V7.B16, V7.B16, V7.B16

#define ZERO_V8_V15 \
	VEOR V8.B16, V8.B16, V8.B16 \
	VEOR V9.B16, V9.B16, V9.B16 \
	VEOR V10.B16, V10.B16, V10.B16 \
	VEOR V11.B16, V11.B16, V11.B16 \
	VEOR V12.B16, V12.B16, V12.B16 \
	VEOR V13.B16, V13.B16, V13.B16 \
	VEOR V14.B16, V14.B16, V14.B16 \
	VEOR V15.B16, V15.B16, V15.B16

// GEMV_PROLOGUE loads a gemv's arguments; shift is log2 of the weight size.
#define GEMV_PROLOGUE(shift) \
	MOVD dst+0(FP), R0 \
	MOVD w+8(FP), R9 \
	MOVD x+16(FP), R5 \
	MOVD rows+24(FP), R6 \
	MOVD cols8+32(FP), R7 \
	MOVD stride+40(FP), R8 \
	LSL  $shift, R8, R8 \
	LSL  $2, R8, R12

// BLOCK_START points R1–R4 at the four rows of the block at R9 and x at R5.
#define BLOCK_START \
	MOVD R9, R1 \
	ADD  R8, R1, R2 \
	ADD  R8, R2, R3 \
	ADD  R8, R3, R4 \
	MOVD R5, R10 \
	MOVD R7, R13

// GEMV_STORE sums row r's accumulators V(2r) and V(2r+1), stores the four sums and
// moves to the next block.
#define GEMV_STORE \
	FADD4S(0, 0, 1) \
	FADD4S(2, 2, 3) \
	FADD4S(4, 4, 5) \
	FADD4S(6, 6, 7) \
	FADDP4S(8, 0, 2) \
	FADDP4S(9, 4, 6) \
	FADDP4S(8, 8, 9) \
	VST1.P [V8.S4], 16(R0) \
	ADD    R12, R9, R9 \
	SUB    $4, R6, R6

// GEMV_FMA multiplies x (V16, V17) into rows whose widened weights are in the given
// pairs of registers.
#define GEMV_FMA(a0, a1, b0, b1, c0, c1, d0, d1) \
	VFMLA V16.S4, a0, V0.S4 \
	VFMLA V17.S4, a1, V1.S4 \
	VFMLA V16.S4, b0, V2.S4 \
	VFMLA V17.S4, b1, V3.S4 \
	VFMLA V16.S4, c0, V4.S4 \
	VFMLA V17.S4, c1, V5.S4 \
	VFMLA V16.S4, d0, V6.S4 \
	VFMLA V17.S4, d1, V7.S4

// GEMM_PROLOGUE loads a gemm's arguments; shift is log2 of the weight size. The row
// pointers are reset for every token pair from R9.
#define GEMM_PROLOGUE(shift) \
	MOVD dst+0(FP), R0 \
	MOVD dstStride+8(FP), R14 \
	LSL  $2, R14, R14 \
	MOVD w+16(FP), R9 \
	MOVD x+24(FP), R5 \
	MOVD groups+32(FP), R6 \
	MOVD cols8+40(FP), R7 \
	MOVD stride+48(FP), R8 \
	LSL  $2, R8, R12 \
	LSL  $shift, R8, R8

#define PAIR_START \
	BLOCK_START \
	ADD R12, R5, R11

// GEMM_FMA_ROW adds one row's eight widened weights (lo, hi) times both tokens'
// x into accumulators: token a low/high half, token b low/high half.
#define GEMM_FMA_ROW(lo, hi, al, ah, bl, bh) \
	VFMLA V16.S4, lo, al \
	VFMLA V17.S4, hi, ah \
	VFMLA V18.S4, lo, bl \
	VFMLA V19.S4, hi, bh

#define GEMM_FMA(a0, a1, b0, b1, c0, c1, d0, d1) \
	GEMM_FMA_ROW(a0, a1, V0.S4, V4.S4, V8.S4, V12.S4) \
	GEMM_FMA_ROW(b0, b1, V1.S4, V5.S4, V9.S4, V13.S4) \
	GEMM_FMA_ROW(c0, c1, V2.S4, V6.S4, V10.S4, V14.S4) \
	GEMM_FMA_ROW(d0, d1, V3.S4, V7.S4, V11.S4, V15.S4)

// GEMM_STORE sums the halves, stores token a's four outputs at R0 and token b's one
// dst stride later, and moves to the next pair.
#define GEMM_STORE \
	FADD4S(0, 0, 4) \
	FADD4S(1, 1, 5) \
	FADD4S(2, 2, 6) \
	FADD4S(3, 3, 7) \
	FADD4S(8, 8, 12) \
	FADD4S(9, 9, 13) \
	FADD4S(10, 10, 14) \
	FADD4S(11, 11, 15) \
	FADDP4S(16, 0, 1) \
	FADDP4S(17, 2, 3) \
	FADDP4S(16, 16, 17) \
	FADDP4S(18, 8, 9) \
	FADDP4S(19, 10, 11) \
	FADDP4S(18, 18, 19) \
	VST1   [V16.S4], (R0) \
	ADD    R14, R0, R13 \
	VST1   [V18.S4], (R13) \
	ADD    R14<<1, R0, R0 \
	ADD    R12<<1, R5, R5 \
	SUB    $1, R6, R6

// WIDEN_F16 loads eight halves from row pointer r into raw and widens them to lo, hi.
#define WIDEN_F16(r, raw, nraw, lo, nlo, hi, nhi) \
	VLD1.P 16(r), [raw.H8] \
	FCVTL(nlo, nraw) \
	FCVTL2(nhi, nraw)

// WIDEN_I8 loads eight int8 weights from row pointer r and widens them to float32.
#define WIDEN_I8(r, raw, nraw, lo, nlo, hi, nhi) \
	VLD1.P 8(r), [raw.B8] \
	SXTL8H(nraw, nraw) \
	SXTL4S(nlo, nraw) \
	SXTL24S(nhi, nraw) \
	SCVTF4S(nlo, nlo) \
	SCVTF4S(nhi, nhi)

// fneg Vd.4S, Vn.4S and fmul Vd.4S, Vn.4S, Vm.4S
#define FNEG4S(d, n) WORD $(0x6EA0F800 | (n)<<5 | (d))
#define FMUL4S(d, n, m) WORD $(0x6E20DC00 | (m)<<16 | (n)<<5 | (d))

// func gemvF32(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
TEXT ·gemvF32(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE(2)

vf32block:
	CMP $4, R6
	BLT vf32done
	BLOCK_START
	ZERO_V0_V7

vf32loop:
	VLD1.P 32(R10), [V16.S4, V17.S4]
	VLD1.P 32(R1), [V20.S4, V21.S4]
	VLD1.P 32(R2), [V22.S4, V23.S4]
	VLD1.P 32(R3), [V24.S4, V25.S4]
	VLD1.P 32(R4), [V26.S4, V27.S4]
	GEMV_FMA(V20.S4, V21.S4, V22.S4, V23.S4, V24.S4, V25.S4, V26.S4, V27.S4)
	SUBS   $8, R13, R13
	BNE    vf32loop
	GEMV_STORE
	B      vf32block

vf32done:
	RET

// func gemvF16(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
TEXT ·gemvF16(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE(1)

vf16block:
	CMP $4, R6
	BLT vf16done
	BLOCK_START
	ZERO_V0_V7

vf16loop:
	VLD1.P 32(R10), [V16.S4, V17.S4]
	WIDEN_F16(R1, V20, 20, V21, 21, V22, 22)
	WIDEN_F16(R2, V23, 23, V24, 24, V25, 25)
	WIDEN_F16(R3, V26, 26, V27, 27, V28, 28)
	WIDEN_F16(R4, V29, 29, V30, 30, V31, 31)
	GEMV_FMA(V21.S4, V22.S4, V24.S4, V25.S4, V27.S4, V28.S4, V30.S4, V31.S4)
	SUBS   $8, R13, R13
	BNE    vf16loop
	GEMV_STORE
	B      vf16block

vf16done:
	RET

// func gemvI8(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
TEXT ·gemvI8(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE(0)

vi8block:
	CMP $4, R6
	BLT vi8done
	BLOCK_START
	ZERO_V0_V7

vi8loop:
	VLD1.P 32(R10), [V16.S4, V17.S4]
	WIDEN_I8(R1, V20, 20, V21, 21, V22, 22)
	WIDEN_I8(R2, V23, 23, V24, 24, V25, 25)
	WIDEN_I8(R3, V26, 26, V27, 27, V28, 28)
	WIDEN_I8(R4, V29, 29, V30, 30, V31, 31)
	GEMV_FMA(V21.S4, V22.S4, V24.S4, V25.S4, V27.S4, V28.S4, V30.S4, V31.S4)
	SUBS   $8, R13, R13
	BNE    vi8loop
	GEMV_STORE
	B      vi8block

vi8done:
	RET

// func gemmF32(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmF32(SB), NOSPLIT, $0-56
	GEMM_PROLOGUE(2)

mf32pair:
	CBZ R6, mf32done
	PAIR_START
	ZERO_V0_V7
	ZERO_V8_V15

mf32loop:
	VLD1.P 32(R10), [V16.S4, V17.S4]
	VLD1.P 32(R11), [V18.S4, V19.S4]
	VLD1.P 32(R1), [V20.S4, V21.S4]
	VLD1.P 32(R2), [V22.S4, V23.S4]
	VLD1.P 32(R3), [V24.S4, V25.S4]
	VLD1.P 32(R4), [V26.S4, V27.S4]
	GEMM_FMA(V20.S4, V21.S4, V22.S4, V23.S4, V24.S4, V25.S4, V26.S4, V27.S4)
	SUBS   $8, R13, R13
	BNE    mf32loop
	GEMM_STORE
	B      mf32pair

mf32done:
	RET

// func gemmF16(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmF16(SB), NOSPLIT, $0-56
	GEMM_PROLOGUE(1)

mf16pair:
	CBZ R6, mf16done
	PAIR_START
	ZERO_V0_V7
	ZERO_V8_V15

mf16loop:
	VLD1.P 32(R10), [V16.S4, V17.S4]
	VLD1.P 32(R11), [V18.S4, V19.S4]
	WIDEN_F16(R1, V20, 20, V21, 21, V22, 22)
	WIDEN_F16(R2, V23, 23, V24, 24, V25, 25)
	WIDEN_F16(R3, V26, 26, V27, 27, V28, 28)
	WIDEN_F16(R4, V29, 29, V30, 30, V31, 31)
	GEMM_FMA(V21.S4, V22.S4, V24.S4, V25.S4, V27.S4, V28.S4, V30.S4, V31.S4)
	SUBS   $8, R13, R13
	BNE    mf16loop
	GEMM_STORE
	B      mf16pair

mf16done:
	RET

// func gemmI8(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmI8(SB), NOSPLIT, $0-56
	GEMM_PROLOGUE(0)

mi8pair:
	CBZ R6, mi8done
	PAIR_START
	ZERO_V0_V7
	ZERO_V8_V15

mi8loop:
	VLD1.P 32(R10), [V16.S4, V17.S4]
	VLD1.P 32(R11), [V18.S4, V19.S4]
	WIDEN_I8(R1, V20, 20, V21, 21, V22, 22)
	WIDEN_I8(R2, V23, 23, V24, 24, V25, 25)
	WIDEN_I8(R3, V26, 26, V27, 27, V28, 28)
	WIDEN_I8(R4, V29, 29, V30, 30, V31, 31)
	GEMM_FMA(V21.S4, V22.S4, V24.S4, V25.S4, V27.S4, V28.S4, V30.S4, V31.S4)
	SUBS   $8, R13, R13
	BNE    mi8loop
	GEMM_STORE
	B      mi8pair

mi8done:
	RET

// func wkv7(s, r, w, k, v, kk, b, y *float32, n int)
// R0 the state row, R1 r, R2 w, R3 k, R4 v (post-incremented per row), R5 kk, R6 b,
// R7 y (post-incremented), R8 n, R9 rows left, R10 columns left; R11–R15 and R19
// running pointers. V6 holds -sa in every lane, V7 v[i], V18/V19 the y[i] lanes.
TEXT ·wkv7(SB), NOSPLIT, $0-72
	MOVD s+0(FP), R0
	MOVD r+8(FP), R1
	MOVD w+16(FP), R2
	MOVD k+24(FP), R3
	MOVD v+32(FP), R4
	MOVD kk+40(FP), R5
	MOVD b+48(FP), R6
	MOVD y+56(FP), R7
	MOVD n+64(FP), R8
	MOVD R8, R9

w7row:
	CBZ  R9, w7done
	MOVD R0, R11
	MOVD R5, R12
	MOVD R8, R10
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16

w7dot:
	VLD1.P 32(R11), [V2.S4, V3.S4]
	VLD1.P 32(R12), [V4.S4, V5.S4]
	VFMLA  V4.S4, V2.S4, V0.S4
	VFMLA  V5.S4, V3.S4, V1.S4
	SUBS   $8, R10, R10
	BNE    w7dot

	FADD4S(0, 0, 1)
	FADDP4S(0, 0, 0)
	FADDP4S(0, 0, 0)
	FNEG4S(6, 0)
	VLD1R.P 4(R4), [V7.S4]
	MOVD    R0, R11
	MOVD    R2, R13
	MOVD    R6, R14
	MOVD    R3, R15
	MOVD    R1, R19
	MOVD    R8, R10
	VEOR    V18.B16, V18.B16, V18.B16
	VEOR    V19.B16, V19.B16, V19.B16

w7upd:
	VLD1   (R11), [V8.S4, V9.S4]
	VLD1.P 32(R13), [V10.S4, V11.S4]
	VLD1.P 32(R14), [V12.S4, V13.S4]
	VLD1.P 32(R15), [V14.S4, V15.S4]
	VLD1.P 32(R19), [V16.S4, V17.S4]
	FMUL4S(8, 8, 10)
	FMUL4S(9, 9, 11)
	VFMLA  V12.S4, V6.S4, V8.S4
	VFMLA  V13.S4, V6.S4, V9.S4
	VFMLA  V14.S4, V7.S4, V8.S4
	VFMLA  V15.S4, V7.S4, V9.S4
	VST1.P [V8.S4, V9.S4], 32(R11)
	VFMLA  V16.S4, V8.S4, V18.S4
	VFMLA  V17.S4, V9.S4, V19.S4
	SUBS   $8, R10, R10
	BNE    w7upd

	FADD4S(18, 18, 19)
	FADDP4S(18, 18, 18)
	FADDP4S(18, 18, 18)
	FMOVS.P F18, 4(R7)
	MOVD    R11, R0
	SUB     $1, R9, R9
	B       w7row

w7done:
	RET

// func wkv5(s, r, k, v, w, u, y *float32, n int)
// R0 the state row, R1 r, R2 k, R12 w, R13 u (these four post-incremented per row),
// R3 v, R7 y, R8 n, R9 rows left, R10 columns left, R11/R14/R15 running pointers.
// V20 r[i], V21 k[i], V22 u[i], V23 w[i].
TEXT ·wkv5(SB), NOSPLIT, $0-64
	MOVD s+0(FP), R0
	MOVD r+8(FP), R1
	MOVD k+16(FP), R2
	MOVD v+24(FP), R3
	MOVD w+32(FP), R12
	MOVD u+40(FP), R13
	MOVD y+48(FP), R7
	MOVD n+56(FP), R8

	// y = 0
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	MOVD R7, R14
	MOVD R8, R10

w5clear:
	VST1.P [V0.S4, V1.S4], 32(R14)
	SUBS   $8, R10, R10
	BNE    w5clear
	MOVD   R8, R9

w5row:
	CBZ     R9, w5done
	VLD1R.P 4(R1), [V20.S4]
	VLD1R.P 4(R2), [V21.S4]
	VLD1R.P 4(R13), [V22.S4]
	VLD1R.P 4(R12), [V23.S4]
	MOVD    R3, R11
	MOVD    R7, R14
	MOVD    R7, R15
	MOVD    R8, R10

w5col:
	VLD1.P 32(R11), [V8.S4, V9.S4]   // v
	VLD1   (R0), [V12.S4, V13.S4]    // s
	VLD1.P 32(R14), [V16.S4, V17.S4] // y
	FMUL4S(10, 8, 21)                // kv = v·k[i]
	FMUL4S(11, 9, 21)
	VORR   V12.B16, V12.B16, V14.B16 // t = s
	VORR   V13.B16, V13.B16, V15.B16
	VFMLA  V10.S4, V22.S4, V14.S4    // t += u[i]·kv
	VFMLA  V11.S4, V22.S4, V15.S4
	VFMLA  V14.S4, V20.S4, V16.S4    // y += r[i]·t
	VFMLA  V15.S4, V20.S4, V17.S4
	VST1.P [V16.S4, V17.S4], 32(R15)
	VFMLA  V12.S4, V23.S4, V10.S4    // kv += w[i]·s: the new s
	VFMLA  V13.S4, V23.S4, V11.S4
	VST1.P [V10.S4, V11.S4], 32(R0)
	SUBS   $8, R10, R10
	BNE    w5col

	SUB $1, R9, R9
	B   w5row

w5done:
	RET
