package simd_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/kernel/simd"
)

// A 2×3 weight matrix applied to two tokens at once: row t of dst is W·x[t].
func ExampleMulF32() {
	w := []float32{
		1, 2, 3,
		0, 1, 0,
	}
	x := []float32{
		1, 1, 1, // token 0
		0, 2, 0, // token 1
	}
	dst := make([]float32, 2*2)
	simd.MulF32(dst, 2, w, x, 2, 3, 2)
	fmt.Println(dst)
	// Output: [6 1 4 2]
}

// Half-precision storage: the same product with half the bytes. These weights are
// exact in fp16, so the result is too.
func ExampleMulF16() {
	w := make([]uint16, 3)
	simd.FromFloat32(w, []float32{0.5, -2, 1024})
	dst := make([]float32, 1)
	simd.MulF16(dst, 1, w, []float32{2, 1, 0.25}, 1, 3, 1)
	fmt.Println(dst[0])
	// Output: 255
}

// int8 storage keeps one scale per row; each weight is within half a step of its
// original value.
func ExampleQuantizeI8() {
	src := []float32{0.5, -1, 0.25, 2, 0, -2}
	q, scale := make([]int8, 6), make([]float32, 2)
	simd.QuantizeI8(q, scale, src, 2, 3)
	fmt.Println(q, scale[0]*127, scale[1]*127)
	dst := make([]float32, 2)
	simd.MulI8(dst, 2, q, scale, []float32{1, 1, 1}, 2, 3, 1)
	fmt.Printf("%.3f %.3f\n", dst[0], dst[1])
	// Output:
	// [64 -127 32 127 0 -127] 1 2
	// -0.244 0.000
}
