//go:build !purego

#include "textflag.h"

// Element-wise e^x and the logistic function over float32 slices, eight lanes at a
// time (AVX2). They repeat, operation for operation and without fused multiply-adds,
// the portable exp32 of generic.go, so both give the same bits: round z = x·log2e
// half away from zero to k, r = x − k·ln2hi − k·ln2lo, a degree-6 polynomial, then
// k added to the exponent. A block of eight with any lane outside [−87, 88] (or NaN)
// is left to the caller, which finishes it with exp32.

// Each constant is stored eight times, one YMM's worth, so it can be an operand.
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
DATA expc<>+32(SB)/4, $0x3f000000
DATA expc<>+36(SB)/4, $0x3f000000
DATA expc<>+40(SB)/4, $0x3f000000
DATA expc<>+44(SB)/4, $0x3f000000
DATA expc<>+48(SB)/4, $0x3f000000
DATA expc<>+52(SB)/4, $0x3f000000
DATA expc<>+56(SB)/4, $0x3f000000
DATA expc<>+60(SB)/4, $0x3f000000
DATA expc<>+64(SB)/4, $0x80000000
DATA expc<>+68(SB)/4, $0x80000000
DATA expc<>+72(SB)/4, $0x80000000
DATA expc<>+76(SB)/4, $0x80000000
DATA expc<>+80(SB)/4, $0x80000000
DATA expc<>+84(SB)/4, $0x80000000
DATA expc<>+88(SB)/4, $0x80000000
DATA expc<>+92(SB)/4, $0x80000000
DATA expc<>+96(SB)/4, $0x3f318000
DATA expc<>+100(SB)/4, $0x3f318000
DATA expc<>+104(SB)/4, $0x3f318000
DATA expc<>+108(SB)/4, $0x3f318000
DATA expc<>+112(SB)/4, $0x3f318000
DATA expc<>+116(SB)/4, $0x3f318000
DATA expc<>+120(SB)/4, $0x3f318000
DATA expc<>+124(SB)/4, $0x3f318000
DATA expc<>+128(SB)/4, $0xb95e8083
DATA expc<>+132(SB)/4, $0xb95e8083
DATA expc<>+136(SB)/4, $0xb95e8083
DATA expc<>+140(SB)/4, $0xb95e8083
DATA expc<>+144(SB)/4, $0xb95e8083
DATA expc<>+148(SB)/4, $0xb95e8083
DATA expc<>+152(SB)/4, $0xb95e8083
DATA expc<>+156(SB)/4, $0xb95e8083
DATA expc<>+160(SB)/4, $0x39506967
DATA expc<>+164(SB)/4, $0x39506967
DATA expc<>+168(SB)/4, $0x39506967
DATA expc<>+172(SB)/4, $0x39506967
DATA expc<>+176(SB)/4, $0x39506967
DATA expc<>+180(SB)/4, $0x39506967
DATA expc<>+184(SB)/4, $0x39506967
DATA expc<>+188(SB)/4, $0x39506967
DATA expc<>+192(SB)/4, $0x3ab743ce
DATA expc<>+196(SB)/4, $0x3ab743ce
DATA expc<>+200(SB)/4, $0x3ab743ce
DATA expc<>+204(SB)/4, $0x3ab743ce
DATA expc<>+208(SB)/4, $0x3ab743ce
DATA expc<>+212(SB)/4, $0x3ab743ce
DATA expc<>+216(SB)/4, $0x3ab743ce
DATA expc<>+220(SB)/4, $0x3ab743ce
DATA expc<>+224(SB)/4, $0x3c088908
DATA expc<>+228(SB)/4, $0x3c088908
DATA expc<>+232(SB)/4, $0x3c088908
DATA expc<>+236(SB)/4, $0x3c088908
DATA expc<>+240(SB)/4, $0x3c088908
DATA expc<>+244(SB)/4, $0x3c088908
DATA expc<>+248(SB)/4, $0x3c088908
DATA expc<>+252(SB)/4, $0x3c088908
DATA expc<>+256(SB)/4, $0x3d2aa9c1
DATA expc<>+260(SB)/4, $0x3d2aa9c1
DATA expc<>+264(SB)/4, $0x3d2aa9c1
DATA expc<>+268(SB)/4, $0x3d2aa9c1
DATA expc<>+272(SB)/4, $0x3d2aa9c1
DATA expc<>+276(SB)/4, $0x3d2aa9c1
DATA expc<>+280(SB)/4, $0x3d2aa9c1
DATA expc<>+284(SB)/4, $0x3d2aa9c1
DATA expc<>+288(SB)/4, $0x3e2aaaaa
DATA expc<>+292(SB)/4, $0x3e2aaaaa
DATA expc<>+296(SB)/4, $0x3e2aaaaa
DATA expc<>+300(SB)/4, $0x3e2aaaaa
DATA expc<>+304(SB)/4, $0x3e2aaaaa
DATA expc<>+308(SB)/4, $0x3e2aaaaa
DATA expc<>+312(SB)/4, $0x3e2aaaaa
DATA expc<>+316(SB)/4, $0x3e2aaaaa
DATA expc<>+320(SB)/4, $0x3f000000
DATA expc<>+324(SB)/4, $0x3f000000
DATA expc<>+328(SB)/4, $0x3f000000
DATA expc<>+332(SB)/4, $0x3f000000
DATA expc<>+336(SB)/4, $0x3f000000
DATA expc<>+340(SB)/4, $0x3f000000
DATA expc<>+344(SB)/4, $0x3f000000
DATA expc<>+348(SB)/4, $0x3f000000
DATA expc<>+352(SB)/4, $0x3f800000
DATA expc<>+356(SB)/4, $0x3f800000
DATA expc<>+360(SB)/4, $0x3f800000
DATA expc<>+364(SB)/4, $0x3f800000
DATA expc<>+368(SB)/4, $0x3f800000
DATA expc<>+372(SB)/4, $0x3f800000
DATA expc<>+376(SB)/4, $0x3f800000
DATA expc<>+380(SB)/4, $0x3f800000
DATA expc<>+384(SB)/4, $0x0000007f
DATA expc<>+388(SB)/4, $0x0000007f
DATA expc<>+392(SB)/4, $0x0000007f
DATA expc<>+396(SB)/4, $0x0000007f
DATA expc<>+400(SB)/4, $0x0000007f
DATA expc<>+404(SB)/4, $0x0000007f
DATA expc<>+408(SB)/4, $0x0000007f
DATA expc<>+412(SB)/4, $0x0000007f
DATA expc<>+416(SB)/4, $0xc2ae0000
DATA expc<>+420(SB)/4, $0xc2ae0000
DATA expc<>+424(SB)/4, $0xc2ae0000
DATA expc<>+428(SB)/4, $0xc2ae0000
DATA expc<>+432(SB)/4, $0xc2ae0000
DATA expc<>+436(SB)/4, $0xc2ae0000
DATA expc<>+440(SB)/4, $0xc2ae0000
DATA expc<>+444(SB)/4, $0xc2ae0000
DATA expc<>+448(SB)/4, $0x42b00000
DATA expc<>+452(SB)/4, $0x42b00000
DATA expc<>+456(SB)/4, $0x42b00000
DATA expc<>+460(SB)/4, $0x42b00000
DATA expc<>+464(SB)/4, $0x42b00000
DATA expc<>+468(SB)/4, $0x42b00000
DATA expc<>+472(SB)/4, $0x42b00000
DATA expc<>+476(SB)/4, $0x42b00000
GLOBL expc<>(SB), RODATA|NOPTR, $480
#define C_LOG2E expc<>+0(SB)
#define C_HALF expc<>+32(SB)
#define C_SIGN expc<>+64(SB)
#define C_LN2HI expc<>+96(SB)
#define C_LN2LO expc<>+128(SB)
#define C_C5 expc<>+160(SB)
#define C_C4 expc<>+192(SB)
#define C_C3 expc<>+224(SB)
#define C_C2 expc<>+256(SB)
#define C_C1 expc<>+288(SB)
#define C_C0 expc<>+320(SB)
#define C_ONE expc<>+352(SB)
#define C_BIAS expc<>+384(SB)
#define C_LO expc<>+416(SB)
#define C_HI expc<>+448(SB)

// EXP8 computes e^Y0 into Y5 for the eight lanes of Y0; it clobbers Y0–Y4.
#define EXP8 \
	VMULPS     C_LOG2E, Y0, Y1 \
	VANDPS     C_SIGN, Y1, Y2 \
	VORPS      C_HALF, Y2, Y2 \
	VADDPS     Y2, Y1, Y1 \
	VROUNDPS   $3, Y1, Y1 \
	VCVTTPS2DQ Y1, Y3 \
	VMULPS     C_LN2HI, Y1, Y4 \
	VSUBPS     Y4, Y0, Y0 \
	VMULPS     C_LN2LO, Y1, Y4 \
	VSUBPS     Y4, Y0, Y0 \
	VMOVUPS    C_C5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VADDPS     C_C4, Y5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VADDPS     C_C3, Y5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VADDPS     C_C2, Y5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VADDPS     C_C1, Y5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VADDPS     C_C0, Y5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VMULPS     Y0, Y5, Y5 \
	VADDPS     Y0, Y5, Y5 \
	VADDPS     C_ONE, Y5, Y5 \
	VPADDD     C_BIAS, Y3, Y3 \
	VPSLLD     $23, Y3, Y3 \
	VMULPS     Y3, Y5, Y5

// INRANGE jumps to out unless every lane of Y0 lies in [−87, 88] (NaN does not).
#define INRANGE(out) \
	VCMPPS    $0x1d, C_LO, Y0, Y1 \
	VCMPPS    $0x12, C_HI, Y0, Y2 \
	VANDPS    Y2, Y1, Y1 \
	VMOVMSKPS Y1, BX \
	CMPQ      BX, $0xff \
	JNE       out

// func expAVX2(x *float32, n int) int
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	XORQ AX, AX

exploop:
	CMPQ    AX, CX
	JGE     expdone
	VMOVUPS (DI)(AX*4), Y0
	INRANGE(expdone)
	EXP8
	VMOVUPS Y5, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     exploop

expdone:
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET

// func sigmoidAVX2(x *float32, n int) int
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	XORQ AX, AX

sigloop:
	CMPQ    AX, CX
	JGE     sigdone
	VMOVUPS (DI)(AX*4), Y0
	VXORPS  C_SIGN, Y0, Y0
	INRANGE(sigdone)
	EXP8
	VADDPS  C_ONE, Y5, Y5
	VMOVUPS C_ONE, Y6
	VDIVPS  Y5, Y6, Y5
	VMOVUPS Y5, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     sigloop

sigdone:
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET
