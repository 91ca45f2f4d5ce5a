//go:build !amd64 || purego

package simd

// No vector exponential here: Exp and Sigmoid run Exp32 element by element.
var expVec, sigmoidVec func(*float32, int) int
