package model

import (
	"math"
	"testing"
)

// ulps is the distance between a and b in units in the last place of b.
func ulps(a, b float32) float64 {
	if a == b {
		return 0
	}
	return math.Abs(float64(a)-float64(b)) / float64(math.Nextafter32(abs32(b), float32(math.Inf(1)))-abs32(b))
}

// TestExp32 sweeps every 97th float32 bit pattern in the range where e^x is finite
// and non-zero and checks exp32 against the correctly rounded value.
func TestExp32(t *testing.T) {
	worst, at := 0.0, float32(0)
	for bits := uint32(0); bits < 1<<32-97; bits += 97 {
		x := math.Float32frombits(bits)
		if x != x || x > 88.7 || x < -103 {
			continue
		}
		want := float32(math.Exp(float64(x)))
		if u := ulps(exp32(x), want); u > worst {
			worst, at = u, x
		}
	}
	t.Logf("exp32: worst %.2f ulp at %v", worst, at)
	if worst > 2 {
		t.Errorf("exp32(%v) is %.2f ulp from e^x; want ≤ 2", at, worst)
	}
	for _, tc := range []struct{ x, want float32 }{
		{0, 1}, {89, float32(math.Inf(1))}, {-200, 0}, {float32(math.Inf(-1)), 0},
	} {
		if got := exp32(tc.x); got != tc.want {
			t.Errorf("exp32(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %v", got)
	}
}

// TestSigmoid bounds sigmoid's relative error on the range activations take.
func TestSigmoid(t *testing.T) {
	worst := 0.0
	for x := float32(-30); x <= 30; x += 1.0 / 1024 {
		got := float64(sigmoid(x))
		want := 1 / (1 + math.Exp(-float64(x)))
		worst = max(worst, math.Abs(got-want)/want)
	}
	t.Logf("sigmoid: relative error %.3g", worst)
	if worst > 3e-7 {
		t.Errorf("sigmoid: relative error %.3g; want ≤ 3e-7", worst)
	}
}
