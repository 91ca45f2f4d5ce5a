//go:build !purego

#include "textflag.h"

// AVX2 + FMA kernels (F16C for the fp16 ones). Register use, all six functions:
//   DI dst, SI..R13 the four weight rows, DX (and CX) x, AX the column index,
//   BX the columns done 16 at a time, R8 the row or pair count, R10 the row stride
//   in bytes. Y0–Y7 accumulate; the rest hold x and widened weights.
// Every dot product runs in one 8-lane accumulator (lane j sums the columns i with
// i%8 == j, in order), reduced the same way at the end, in the one-token and the
// two-token kernels alike: a token's result is bit-identical whichever kernel, batch
// or thread split computed it. Decode is memory-bound, so the one-token kernel loses
// nothing by not splitting the dependency chain further.

// REDUCE4 folds four 8-lane accumulators (given as their Y and X names) into one X
// register holding the four sums in order: a, b, c, d.
#define REDUCE4(ya, xa, yb, xb, yc, xc, yd, xd, tmp) \
	VEXTRACTF128 $1, ya, tmp \
	VADDPS       tmp, xa, xa \
	VEXTRACTF128 $1, yb, tmp \
	VADDPS       tmp, xb, xb \
	VEXTRACTF128 $1, yc, tmp \
	VADDPS       tmp, xc, xc \
	VEXTRACTF128 $1, yd, tmp \
	VADDPS       tmp, xd, xd \
	VHADDPS      xb, xa, xa \
	VHADDPS      xd, xc, xc \
	VHADDPS      xc, xa, xa

#define ZERO4 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3

#define ZERO8 \
	ZERO4 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// GEMV_PROLOGUE loads the arguments of a gemv; shift is log2 of the weight size.
#define GEMV_PROLOGUE(shift) \
	MOVQ dst+0(FP), DI \
	MOVQ w+8(FP), SI \
	MOVQ x+16(FP), DX \
	MOVQ rows+24(FP), R8 \
	MOVQ cols8+32(FP), R9 \
	MOVQ stride+40(FP), R10 \
	SHLQ $shift, R10 \
	MOVQ R9, BX \
	ANDQ $-16, BX

// GEMV_NEXT stores the block's four outputs and moves to the next four rows.
#define GEMV_NEXT \
	REDUCE4(Y0, X0, Y1, X1, Y2, X2, Y3, X3, X8) \
	VMOVUPS X0, (DI) \
	ADDQ    $16, DI \
	LEAQ    (SI)(R10*4), SI \
	SUBQ    $4, R8

#define ROWS4 \
	LEAQ (SI)(R10*1), R11 \
	LEAQ (R11)(R10*1), R12 \
	LEAQ (R12)(R10*1), R13

// PREFETCH4 asks for the cache lines 1 KB ahead of the four weight rows (index AX
// scaled by the weight size). The one-token kernels stream weights from memory;
// the hardware prefetcher alone left 20–40% of the bandwidth unused in measurements
// on a 2-core EPYC VM, most for the narrow types, whose loops issue fewer loads
// per instruction.
#define PREFETCH4(scale) \
	PREFETCHT0 1024(SI)(AX*scale) \
	PREFETCHT0 1024(R11)(AX*scale) \
	PREFETCHT0 1024(R12)(AX*scale) \
	PREFETCHT0 1024(R13)(AX*scale)

// WIDEN_I8 loads eight int8 weights at addr and widens them to float32 in reg.
#define WIDEN_I8(addr, reg) \
	VPMOVSXBD addr, reg \
	VCVTDQ2PS reg, reg

// GEMM_PROLOGUE loads a gemm's arguments; shift is log2 of the weight size. R14 is
// the dst stride in bytes, BX the x stride in bytes. The weight rows are fixed for
// the call, so R10 is free after ROWS4 and points at the third token.
#define GEMM_PROLOGUE(shift) \
	MOVQ dst+0(FP), DI \
	MOVQ dstStride+8(FP), R14 \
	SHLQ $2, R14 \
	MOVQ w+16(FP), SI \
	MOVQ x+24(FP), DX \
	MOVQ groups+32(FP), R8 \
	MOVQ cols8+40(FP), R9 \
	MOVQ stride+48(FP), R10 \
	MOVQ R10, BX \
	SHLQ $2, BX \
	SHLQ $shift, R10 \
	ROWS4

// GEMM_START points CX and R10 at the second and third tokens and clears the
// accumulators: Y0–Y3 token a rows 0–3, Y4–Y7 token b, Y8–Y11 token c.
#define GEMM_START \
	LEAQ   (DX)(BX*1), CX \
	LEAQ   (CX)(BX*1), R10 \
	ZERO8 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11 \
	XORQ   AX, AX

// GEMM_X loads the three tokens' next eight columns.
#define GEMM_X \
	VMOVUPS (DX)(AX*4), Y12 \
	VMOVUPS (CX)(AX*4), Y13 \
	VMOVUPS (R10)(AX*4), Y14

// GEMM_ROW multiplies the widened weights of one row (in Y15) into its three
// accumulators.
#define GEMM_ROW(a, b, c) \
	VFMADD231PS Y15, Y12, a \
	VFMADD231PS Y15, Y13, b \
	VFMADD231PS Y15, Y14, c

// GEMM_NEXT stores the three tokens' four outputs and moves to the next triple.
#define GEMM_NEXT \
	REDUCE4(Y0, X0, Y1, X1, Y2, X2, Y3, X3, X12) \
	REDUCE4(Y4, X4, Y5, X5, Y6, X6, Y7, X7, X12) \
	REDUCE4(Y8, X8, Y9, X9, Y10, X10, Y11, X11, X12) \
	VMOVUPS X0, (DI) \
	VMOVUPS X4, (DI)(R14*1) \
	VMOVUPS X8, (DI)(R14*2) \
	LEAQ    (DI)(R14*2), DI \
	ADDQ    R14, DI \
	LEAQ    (DX)(BX*2), DX \
	ADDQ    BX, DX \
	DECQ    R8

// HSUM folds the eight lanes of ya (X name xa) into lane 0 of xa.
#define HSUM(ya, xa, tmp) \
	VEXTRACTF128 $1, ya, tmp \
	VADDPS       tmp, xa, xa \
	VHADDPS      xa, xa, xa \
	VHADDPS      xa, xa, xa

// func gemvF32(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
TEXT ·gemvF32(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE(2)

f32rows:
	CMPQ R8, $4
	JLT  f32done
	ROWS4
	ZERO4
	XORQ AX, AX
	CMPQ AX, BX
	JGE  f32tail

f32loop:
	PREFETCH4(4)
	VMOVUPS     (DX)(AX*4), Y8
	VMOVUPS     32(DX)(AX*4), Y9
	VFMADD231PS (SI)(AX*4), Y8, Y0
	VFMADD231PS (R11)(AX*4), Y8, Y1
	VFMADD231PS (R12)(AX*4), Y8, Y2
	VFMADD231PS (R13)(AX*4), Y8, Y3
	VFMADD231PS 32(SI)(AX*4), Y9, Y0
	VFMADD231PS 32(R11)(AX*4), Y9, Y1
	VFMADD231PS 32(R12)(AX*4), Y9, Y2
	VFMADD231PS 32(R13)(AX*4), Y9, Y3
	ADDQ        $16, AX
	CMPQ        AX, BX
	JLT         f32loop

f32tail:
	CMPQ        AX, R9
	JGE         f32sum
	VMOVUPS     (DX)(AX*4), Y8
	VFMADD231PS (SI)(AX*4), Y8, Y0
	VFMADD231PS (R11)(AX*4), Y8, Y1
	VFMADD231PS (R12)(AX*4), Y8, Y2
	VFMADD231PS (R13)(AX*4), Y8, Y3

f32sum:
	GEMV_NEXT
	JMP f32rows

f32done:
	VZEROUPPER
	RET

// F16ROWS8 widens eight fp16 weights at byte offset off of each of the eight row
// pointers of gemvF16's 8-row blocks and multiplies them by x (eight floats) into
// Y0–Y7, in row order.
#define F16ROWS8(off, x) \
	VCVTPH2PS   off(SI), Y10 \
	VCVTPH2PS   off(R11), Y11 \
	VCVTPH2PS   off(R12), Y12 \
	VCVTPH2PS   off(R13), Y13 \
	VFMADD231PS Y10, x, Y0 \
	VFMADD231PS Y11, x, Y1 \
	VFMADD231PS Y12, x, Y2 \
	VFMADD231PS Y13, x, Y3 \
	VCVTPH2PS   off(R14), Y10 \
	VCVTPH2PS   off(R15), Y11 \
	VCVTPH2PS   off(CX), Y12 \
	VCVTPH2PS   off(BX), Y13 \
	VFMADD231PS Y10, x, Y4 \
	VFMADD231PS Y11, x, Y5 \
	VFMADD231PS Y12, x, Y6 \
	VFMADD231PS Y13, x, Y7

// func gemvF16(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
// Blocks of eight rows first: each row's sum is one chain of FMAs (the bit-identical
// summation order), and with fp16 weights four chains could not keep up with the
// bytes, so eight run side by side. The eight row pointers and x walk forward (there
// are not enough registers to index them), and the block's first row is kept in the
// w argument slot. Rows left over run four at a time.
TEXT ·gemvF16(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE(1)

f16rows:
	CMPQ R8, $8
	JGE  f16rows8
	CMPQ R8, $4
	JLT  f16done
	MOVQ R9, BX
	ANDQ $-16, BX
	MOVQ x+16(FP), DX
	ROWS4
	ZERO4
	XORQ AX, AX
	CMPQ AX, BX
	JGE  f16tail

f16loop:
	PREFETCH4(2)
	VMOVUPS     (DX)(AX*4), Y8
	VMOVUPS     32(DX)(AX*4), Y9
	VCVTPH2PS   (SI)(AX*2), Y10
	VCVTPH2PS   (R11)(AX*2), Y11
	VCVTPH2PS   (R12)(AX*2), Y12
	VCVTPH2PS   (R13)(AX*2), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3
	VCVTPH2PS   16(SI)(AX*2), Y10
	VCVTPH2PS   16(R11)(AX*2), Y11
	VCVTPH2PS   16(R12)(AX*2), Y12
	VCVTPH2PS   16(R13)(AX*2), Y13
	VFMADD231PS Y10, Y9, Y0
	VFMADD231PS Y11, Y9, Y1
	VFMADD231PS Y12, Y9, Y2
	VFMADD231PS Y13, Y9, Y3
	ADDQ        $16, AX
	CMPQ        AX, BX
	JLT         f16loop

f16tail:
	CMPQ        AX, R9
	JGE         f16sum
	VMOVUPS     (DX)(AX*4), Y8
	VCVTPH2PS   (SI)(AX*2), Y10
	VCVTPH2PS   (R11)(AX*2), Y11
	VCVTPH2PS   (R12)(AX*2), Y12
	VCVTPH2PS   (R13)(AX*2), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3

f16sum:
	GEMV_NEXT
	JMP f16rows

f16rows8:
	MOVQ SI, w+8(FP)
	MOVQ x+16(FP), DX
	LEAQ (SI)(R10*1), R11
	LEAQ (R11)(R10*1), R12
	LEAQ (R12)(R10*1), R13
	LEAQ (R13)(R10*1), R14
	LEAQ (R14)(R10*1), R15
	LEAQ (R15)(R10*1), CX
	LEAQ (CX)(R10*1), BX
	ZERO8
	MOVQ R9, AX
	SHRQ $4, AX
	JEQ  f16tail8

f16loop8:
	PREFETCHT0 1024(SI)
	PREFETCHT0 1024(R11)
	PREFETCHT0 1024(R12)
	PREFETCHT0 1024(R13)
	PREFETCHT0 1024(R14)
	PREFETCHT0 1024(R15)
	PREFETCHT0 1024(CX)
	PREFETCHT0 1024(BX)
	VMOVUPS    (DX), Y8
	VMOVUPS    32(DX), Y9
	F16ROWS8(0, Y8)
	F16ROWS8(16, Y9)
	ADDQ       $32, SI
	ADDQ       $32, R11
	ADDQ       $32, R12
	ADDQ       $32, R13
	ADDQ       $32, R14
	ADDQ       $32, R15
	ADDQ       $32, CX
	ADDQ       $32, BX
	ADDQ       $64, DX
	DECQ       AX
	JNE        f16loop8

f16tail8:
	TESTQ   $8, R9
	JEQ     f16sum8
	VMOVUPS (DX), Y8
	F16ROWS8(0, Y8)

f16sum8:
	REDUCE4(Y0, X0, Y1, X1, Y2, X2, Y3, X3, X8)
	REDUCE4(Y4, X4, Y5, X5, Y6, X6, Y7, X7, X8)
	VMOVUPS X0, (DI)
	VMOVUPS X4, 16(DI)
	ADDQ    $32, DI
	MOVQ    w+8(FP), SI
	LEAQ    (SI)(R10*8), SI
	SUBQ    $8, R8
	JMP     f16rows

f16done:
	VZEROUPPER
	RET

// func gemvI8(dst *float32, w unsafe.Pointer, x *float32, rows, cols8, stride int)
TEXT ·gemvI8(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE(0)

i8rows:
	CMPQ R8, $4
	JLT  i8done
	ROWS4
	ZERO4
	XORQ AX, AX
	CMPQ AX, BX
	JGE  i8tail

i8loop:
	PREFETCH4(1)
	VMOVUPS     (DX)(AX*4), Y8
	VMOVUPS     32(DX)(AX*4), Y9
	WIDEN_I8((SI)(AX*1), Y10)
	WIDEN_I8((R11)(AX*1), Y11)
	WIDEN_I8((R12)(AX*1), Y12)
	WIDEN_I8((R13)(AX*1), Y13)
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3
	WIDEN_I8(8(SI)(AX*1), Y10)
	WIDEN_I8(8(R11)(AX*1), Y11)
	WIDEN_I8(8(R12)(AX*1), Y12)
	WIDEN_I8(8(R13)(AX*1), Y13)
	VFMADD231PS Y10, Y9, Y0
	VFMADD231PS Y11, Y9, Y1
	VFMADD231PS Y12, Y9, Y2
	VFMADD231PS Y13, Y9, Y3
	ADDQ        $16, AX
	CMPQ        AX, BX
	JLT         i8loop

i8tail:
	CMPQ        AX, R9
	JGE         i8sum
	VMOVUPS     (DX)(AX*4), Y8
	WIDEN_I8((SI)(AX*1), Y10)
	WIDEN_I8((R11)(AX*1), Y11)
	WIDEN_I8((R12)(AX*1), Y12)
	WIDEN_I8((R13)(AX*1), Y13)
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3

i8sum:
	GEMV_NEXT
	JMP i8rows

i8done:
	VZEROUPPER
	RET

// The three-token kernels: each weight vector is loaded (and widened) once into Y15
// and feeds three FMAs; twelve accumulators hide the FMA latency.

// func gemmF32(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmF32(SB), NOSPLIT, $0-56
	GEMM_PROLOGUE(2)

gf32next:
	TESTQ R8, R8
	JEQ   gf32done
	GEMM_START

gf32loop:
	GEMM_X
	VMOVUPS (SI)(AX*4), Y15
	GEMM_ROW(Y0, Y4, Y8)
	VMOVUPS (R11)(AX*4), Y15
	GEMM_ROW(Y1, Y5, Y9)
	VMOVUPS (R12)(AX*4), Y15
	GEMM_ROW(Y2, Y6, Y10)
	VMOVUPS (R13)(AX*4), Y15
	GEMM_ROW(Y3, Y7, Y11)
	ADDQ    $8, AX
	CMPQ    AX, R9
	JLT     gf32loop

	GEMM_NEXT
	JMP gf32next

gf32done:
	VZEROUPPER
	RET

// func gemmF16(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmF16(SB), NOSPLIT, $0-56
	GEMM_PROLOGUE(1)

gf16next:
	TESTQ R8, R8
	JEQ   gf16done
	GEMM_START

gf16loop:
	GEMM_X
	VCVTPH2PS (SI)(AX*2), Y15
	GEMM_ROW(Y0, Y4, Y8)
	VCVTPH2PS (R11)(AX*2), Y15
	GEMM_ROW(Y1, Y5, Y9)
	VCVTPH2PS (R12)(AX*2), Y15
	GEMM_ROW(Y2, Y6, Y10)
	VCVTPH2PS (R13)(AX*2), Y15
	GEMM_ROW(Y3, Y7, Y11)
	ADDQ      $8, AX
	CMPQ      AX, R9
	JLT       gf16loop

	GEMM_NEXT
	JMP gf16next

gf16done:
	VZEROUPPER
	RET

// func gemmI8(dst *float32, dstStride int, w unsafe.Pointer, x *float32, groups, cols8, stride int)
TEXT ·gemmI8(SB), NOSPLIT, $0-56
	GEMM_PROLOGUE(0)

gi8next:
	TESTQ R8, R8
	JEQ   gi8done
	GEMM_START

gi8loop:
	GEMM_X
	WIDEN_I8((SI)(AX*1), Y15)
	GEMM_ROW(Y0, Y4, Y8)
	WIDEN_I8((R11)(AX*1), Y15)
	GEMM_ROW(Y1, Y5, Y9)
	WIDEN_I8((R12)(AX*1), Y15)
	GEMM_ROW(Y2, Y6, Y10)
	WIDEN_I8((R13)(AX*1), Y15)
	GEMM_ROW(Y3, Y7, Y11)
	ADDQ    $8, AX
	CMPQ    AX, R9
	JLT     gi8loop

	GEMM_NEXT
	JMP gi8next

gi8done:
	VZEROUPPER
	RET

// func wkv7(s, r, w, k, v, kk, b, y *float32, n int)
// DI the state row, R8 r, R9 w, R10 k, R11 v, R12 kk, R13 b, R14 y, CX n, BX row i,
// AX column j. Y2 holds sa, Y3 v[i], Y4 the y[i] lanes.
TEXT ·wkv7(SB), NOSPLIT, $0-72
	MOVQ s+0(FP), DI
	MOVQ r+8(FP), R8
	MOVQ w+16(FP), R9
	MOVQ k+24(FP), R10
	MOVQ v+32(FP), R11
	MOVQ kk+40(FP), R12
	MOVQ b+48(FP), R13
	MOVQ y+56(FP), R14
	MOVQ n+64(FP), CX
	XORQ BX, BX

w7row:
	CMPQ   BX, CX
	JGE    w7done
	VXORPS Y0, Y0, Y0
	XORQ   AX, AX

w7dot:
	VMOVUPS     (DI)(AX*4), Y1
	VFMADD231PS (R12)(AX*4), Y1, Y0
	ADDQ        $8, AX
	CMPQ        AX, CX
	JLT         w7dot

	HSUM(Y0, X0, X1)
	VXORPS       X2, X2, X2
	VSUBSS       X0, X2, X0
	VBROADCASTSS X0, Y2
	VBROADCASTSS (R11)(BX*4), Y3
	VXORPS       Y4, Y4, Y4
	XORQ         AX, AX

w7upd:
	VMOVUPS     (DI)(AX*4), Y1
	VMULPS      (R9)(AX*4), Y1, Y1
	VFMADD231PS (R13)(AX*4), Y2, Y1
	VFMADD231PS (R10)(AX*4), Y3, Y1
	VMOVUPS     Y1, (DI)(AX*4)
	VFMADD231PS (R8)(AX*4), Y1, Y4
	ADDQ        $8, AX
	CMPQ        AX, CX
	JLT         w7upd

	HSUM(Y4, X4, X1)
	VMOVSS X4, (R14)(BX*4)
	LEAQ   (DI)(CX*4), DI
	INCQ   BX
	JMP    w7row

w7done:
	VZEROUPPER
	RET

// func wkv5(s, r, k, v, w, u, y *float32, n int)
// DI the state row, R8 r, R9 k, R10 v, R11 w, R12 u, R14 y, CX n, BX row i (a key
// channel), AX column j. Y2 r[i], Y3 k[i], Y4 u[i], Y5 w[i].
TEXT ·wkv5(SB), NOSPLIT, $0-64
	MOVQ s+0(FP), DI
	MOVQ r+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ v+24(FP), R10
	MOVQ w+32(FP), R11
	MOVQ u+40(FP), R12
	MOVQ y+48(FP), R14
	MOVQ n+56(FP), CX

	// y = 0
	VXORPS Y0, Y0, Y0
	XORQ   AX, AX

w5clear:
	VMOVUPS Y0, (R14)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     w5clear
	XORQ    BX, BX

w5row:
	CMPQ         BX, CX
	JGE          w5done
	VBROADCASTSS (R8)(BX*4), Y2
	VBROADCASTSS (R9)(BX*4), Y3
	VBROADCASTSS (R12)(BX*4), Y4
	VBROADCASTSS (R11)(BX*4), Y5
	XORQ         AX, AX

w5col:
	VMULPS      (R10)(AX*4), Y3, Y0 // kv = k[i]·v
	VMOVUPS     (DI)(AX*4), Y1      // s
	VMOVAPS     Y1, Y6
	VFMADD231PS Y0, Y4, Y6          // u[i]·kv + s
	VMOVUPS     (R14)(AX*4), Y7
	VFMADD231PS Y6, Y2, Y7          // y += r[i]·(…)
	VMOVUPS     Y7, (R14)(AX*4)
	VFMADD213PS Y0, Y5, Y1          // s = w[i]·s + kv
	VMOVUPS     Y1, (DI)(AX*4)
	ADDQ        $8, AX
	CMPQ        AX, CX
	JLT         w5col

	LEAQ (DI)(CX*4), DI
	INCQ BX
	JMP  w5row

w5done:
	VZEROUPPER
	RET

// func f32ToF16(dst *uint16, src *float32, n int)
// n is a multiple of 8. Immediate 0 selects round to nearest even.
TEXT ·f32ToF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX

cvtloop:
	VMOVUPS   (SI)(AX*4), Y0
	VCVTPS2PH $0, Y0, X1
	VMOVUPS   X1, (DI)(AX*2)
	ADDQ      $8, AX
	CMPQ      AX, CX
	JLT       cvtloop
	VZEROUPPER
	RET
