package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWKV runs several tokens through each recurrence with the dispatched kernel and
// with the portable reference and compares outputs and states. Head sizes cover the
// assembly (multiples of 8, including the real 64) and the fallback (others).
func TestWKV(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{8, 16, 24, 64, 5, 12} {
		vec := func() []float32 { return randomFloats(rng, n) }
		state := func() []float32 { return randomFloats(rng, n*n) }
		unit := func() []float32 { // decays in (0.5, 1)
			w := randomFloats(rng, n)
			for i := range w {
				w[i] = 0.75 + w[i]/4
			}
			return w
		}
		t.Run(fmt.Sprintf("v7/N=%d", n), func(t *testing.T) {
			s1 := state()
			s2 := append([]float32(nil), s1...)
			y1, y2 := make([]float32, n), make([]float32, n)
			for range 4 {
				r, w, k, v, kk, b := vec(), unit(), vec(), vec(), vec(), vec()
				WKV7(s1, r, w, k, v, kk, b, y1)
				wkv7Generic(s2, r, w, k, v, kk, b, y2)
				closeTo(t, "v7 y", n, y1, y2)
			}
			closeTo(t, "v7 state", n, s1, s2)
		})
		t.Run(fmt.Sprintf("v5/N=%d", n), func(t *testing.T) {
			s1 := state()
			s2 := append([]float32(nil), s1...)
			y1, y2 := make([]float32, n), make([]float32, n)
			for i := range y1 {
				y1[i] = 99 // must be overwritten, not accumulated into
			}
			for range 4 {
				r, k, v, w, u := vec(), vec(), vec(), unit(), vec()
				WKV5(s1, r, k, v, w, u, y1)
				wkv5Generic(s2, r, k, v, w, u, y2)
				closeTo(t, "v5 y", n, y1, y2)
			}
			closeTo(t, "v5 state", n, s1, s2)
		})
	}
}

// closeTo allows float32 rounding of sums over n terms of magnitude about 1.
func closeTo(t *testing.T, what string, n int, got, want []float32) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 2e-6*float64(n) {
			t.Fatalf("N=%d %s[%d]: kernel %v, reference %v", n, what, i, got[i], want[i])
		}
	}
}
