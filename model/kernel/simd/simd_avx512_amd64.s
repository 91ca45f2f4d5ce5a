//go:build !purego

#include "textflag.h"

// AVX-512 matrix-matrix kernels: tiles of four weight rows × six tokens. Each ZMM
// accumulator holds two tokens' 8-lane sums for one row (tokens 2p and 2p+1 in its
// lower and upper halves), so every lane adds the same products in the same order
// as the AVX2 kernels' YMM accumulators and the result is bit-identical to theirs
// and to the one-token kernel. A weight vector of eight columns is loaded (and
// widened) once, broadcast to both halves, and feeds three FMAs of two tokens each;
// the six tokens' x vectors are paired with one insert per pair.
//
// Registers: AX column index, R9 cols8, SI R11 R12 R13 the four weight rows,
// DX CX BX R8 R10 R15 the six tokens' x rows, DI dst, R14 the dst stride in bytes.
// Z0–Z11 accumulate (Z(4p+r) is row r of token pair p); Z12–Z14 hold the pairs' x,
// Z15 the broadcast weights. The group count and x stride stay in the argument slots.

// REDUCE4Z is REDUCE4 of simd_amd64.s with an EVEX-only temporary (X16), so that it
// can run while X12–X15 hold the upper halves.
#define REDUCE4Z(ya, xa, yb, xb, yc, xc, yd, xd) \
	VEXTRACTF32X4 $1, ya, X16 \
	VADDPS        X16, xa, xa \
	VEXTRACTF32X4 $1, yb, X16 \
	VADDPS        X16, xb, xb \
	VEXTRACTF32X4 $1, yc, X16 \
	VADDPS        X16, xc, xc \
	VEXTRACTF32X4 $1, yd, X16 \
	VADDPS        X16, xd, xd \
	VHADDPS       xb, xa, xa \
	VHADDPS       xd, xc, xc \
	VHADDPS       xc, xa, xa

// GEMM6_PAIR stores pair p's two tokens: the lower halves of za..zd are token 2p,
// the upper halves (moved to Y12–Y15 first, before the VEX reduction of the lower
// halves clears them) token 2p+1. DI moves on by two dst rows.
#define GEMM6_PAIR(za, ya, xa, zb, yb, xb, zc, yc, xc, zd, yd, xd) \
	VEXTRACTF32X8 $1, za, Y12 \
	VEXTRACTF32X8 $1, zb, Y13 \
	VEXTRACTF32X8 $1, zc, Y14 \
	VEXTRACTF32X8 $1, zd, Y15 \
	REDUCE4Z(ya, xa, yb, xb, yc, xc, yd, xd) \
	REDUCE4Z(Y12, X12, Y13, X13, Y14, X14, Y15, X15) \
	VMOVUPS xa, (DI) \
	VMOVUPS X12, (DI)(R14*1) \
	LEAQ    (DI)(R14*2), DI

#define GEMM6_PROLOGUE \
	MOVQ dst+0(FP), DI \
	MOVQ dstStride+8(FP), R14 \
	SHLQ $2, R14 \
	MOVQ x+24(FP), DX \
	MOVQ cols8+40(FP), R9 \
	MOVQ stride+48(FP), AX \
	MOVQ w+16(FP), SI

// GEMM6_ROWS points R11–R13 at weight rows 1–3, AX holding the row stride in bytes.
#define GEMM6_ROWS \
	LEAQ (SI)(AX*1), R11 \
	LEAQ (R11)(AX*1), R12 \
	LEAQ (R12)(AX*1), R13

// GEMM6_TOKENS points CX BX R8 R10 R15 at the five x rows after DX; AX holds the x
// stride in bytes and is clobbered.
#define GEMM6_TOKENS \
	LEAQ (DX)(AX*1), CX \
	LEAQ (CX)(AX*1), BX \
	LEAQ (BX)(AX*1), R8 \
	LEAQ (R8)(AX*1), R10 \
	LEAQ (R10)(AX*1), R15

#define GEMM6_ZERO \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	XORQ   AX, AX

// GEMM6_X loads the next eight columns of the six tokens as three pairs.
#define GEMM6_X \
	VMOVUPS      (DX)(AX*4), Y12 \
	VINSERTF32X8 $1, (CX)(AX*4), Z12, Z12 \
	VMOVUPS      (BX)(AX*4), Y13 \
	VINSERTF32X8 $1, (R8)(AX*4), Z13, Z13 \
	VMOVUPS      (R10)(AX*4), Y14 \
	VINSERTF32X8 $1, (R15)(AX*4), Z14, Z14

// GEMM6_ROW multiplies one row's broadcast weights (Z15) into its three accumulators.
#define GEMM6_ROW(a, b, c) \
	VFMADD231PS Z15, Z12, a \
	VFMADD231PS Z15, Z13, b \
	VFMADD231PS Z15, Z14, c

// GEMM6_NEXT stores the group's six tokens and moves the x rows on by six.
#define GEMM6_NEXT \
	GEMM6_PAIR(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, X2, Z3, Y3, X3) \
	GEMM6_PAIR(Z4, Y4, X4, Z5, Y5, X5, Z6, Y6, X6, Z7, Y7, X7) \
	GEMM6_PAIR(Z8, Y8, X8, Z9, Y9, X9, Z10, Y10, X10, Z11, Y11, X11) \
	MOVQ stride+48(FP), AX \
	SHLQ $2, AX \
	LEAQ (R15)(AX*1), DX \
	DECQ groups+32(FP)

// func gemmF32x6(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmF32x6(SB), NOSPLIT, $0-56
	GEMM6_PROLOGUE
	SHLQ $2, AX
	GEMM6_ROWS

g6f32next:
	CMPQ groups+32(FP), $0
	JEQ  g6f32done
	MOVQ stride+48(FP), AX
	SHLQ $2, AX
	GEMM6_TOKENS
	GEMM6_ZERO

g6f32loop:
	GEMM6_X
	VBROADCASTF32X8 (SI)(AX*4), Z15
	GEMM6_ROW(Z0, Z4, Z8)
	VBROADCASTF32X8 (R11)(AX*4), Z15
	GEMM6_ROW(Z1, Z5, Z9)
	VBROADCASTF32X8 (R12)(AX*4), Z15
	GEMM6_ROW(Z2, Z6, Z10)
	VBROADCASTF32X8 (R13)(AX*4), Z15
	GEMM6_ROW(Z3, Z7, Z11)
	ADDQ            $8, AX
	CMPQ            AX, R9
	JLT             g6f32loop

	GEMM6_NEXT
	JMP g6f32next

g6f32done:
	VZEROUPPER
	RET

// func gemmF16x6(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
// The eight halves are loaded into both halves of a YMM (VBROADCASTI128) and widened
// to sixteen floats, the same eight in both halves of Z15.
TEXT ·gemmF16x6(SB), NOSPLIT, $0-56
	GEMM6_PROLOGUE
	SHLQ $1, AX
	GEMM6_ROWS

g6f16next:
	CMPQ groups+32(FP), $0
	JEQ  g6f16done
	MOVQ stride+48(FP), AX
	SHLQ $2, AX
	GEMM6_TOKENS
	GEMM6_ZERO

g6f16loop:
	GEMM6_X
	VBROADCASTI128 (SI)(AX*2), Y15
	VCVTPH2PS      Y15, Z15
	GEMM6_ROW(Z0, Z4, Z8)
	VBROADCASTI128 (R11)(AX*2), Y15
	VCVTPH2PS      Y15, Z15
	GEMM6_ROW(Z1, Z5, Z9)
	VBROADCASTI128 (R12)(AX*2), Y15
	VCVTPH2PS      Y15, Z15
	GEMM6_ROW(Z2, Z6, Z10)
	VBROADCASTI128 (R13)(AX*2), Y15
	VCVTPH2PS      Y15, Z15
	GEMM6_ROW(Z3, Z7, Z11)
	ADDQ           $8, AX
	CMPQ           AX, R9
	JLT            g6f16loop

	GEMM6_NEXT
	JMP g6f16next

g6f16done:
	VZEROUPPER
	RET

// func gemmI8x6(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
// The eight int8 weights are loaded twice into one XMM (VPBROADCASTQ) and widened
// to sixteen floats.
TEXT ·gemmI8x6(SB), NOSPLIT, $0-56
	GEMM6_PROLOGUE
	GEMM6_ROWS

g6i8next:
	CMPQ groups+32(FP), $0
	JEQ  g6i8done
	MOVQ stride+48(FP), AX
	SHLQ $2, AX
	GEMM6_TOKENS
	GEMM6_ZERO

g6i8loop:
	GEMM6_X
	VPBROADCASTQ (SI)(AX*1), X15
	VPMOVSXBD    X15, Z15
	VCVTDQ2PS    Z15, Z15
	GEMM6_ROW(Z0, Z4, Z8)
	VPBROADCASTQ (R11)(AX*1), X15
	VPMOVSXBD    X15, Z15
	VCVTDQ2PS    Z15, Z15
	GEMM6_ROW(Z1, Z5, Z9)
	VPBROADCASTQ (R12)(AX*1), X15
	VPMOVSXBD    X15, Z15
	VCVTDQ2PS    Z15, Z15
	GEMM6_ROW(Z2, Z6, Z10)
	VPBROADCASTQ (R13)(AX*1), X15
	VPMOVSXBD    X15, Z15
	VCVTDQ2PS    Z15, Z15
	GEMM6_ROW(Z3, Z7, Z11)
	ADDQ         $8, AX
	CMPQ         AX, R9
	JLT          g6i8loop

	GEMM6_NEXT
	JMP g6i8next

g6i8done:
	VZEROUPPER
	RET
