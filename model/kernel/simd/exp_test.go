package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps is the distance between a and b in units in the last place of b.
func ulps(a, b float32) float64 {
	if a == b {
		return 0
	}
	ab := math.Float32frombits(math.Float32bits(b) &^ (1 << 31))
	return math.Abs(float64(a)-float64(b)) / float64(math.Nextafter32(ab, float32(math.Inf(1)))-ab)
}

// TestExp32 sweeps every 97th float32 bit pattern in the range where e^x is finite
// and non-zero and checks Exp32 against the correctly rounded value.
func TestExp32(t *testing.T) {
	worst, at := 0.0, float32(0)
	for bits := uint32(0); bits < 1<<32-97; bits += 97 {
		x := math.Float32frombits(bits)
		if x != x || x > 88.7 || x < -103 {
			continue
		}
		want := float32(math.Exp(float64(x)))
		if u := ulps(Exp32(x), want); u > worst {
			worst, at = u, x
		}
	}
	t.Logf("Exp32: worst %.2f ulp at %v", worst, at)
	if worst > 1 {
		t.Errorf("Exp32(%v) is %.2f ulp from e^x; want ≤ 1", at, worst)
	}
	for _, tc := range []struct{ x, want float32 }{
		{0, 1}, {89, float32(math.Inf(1))}, {-200, 0}, {float32(math.Inf(-1)), 0},
	} {
		if got := Exp32(tc.x); got != tc.want {
			t.Errorf("Exp32(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if got := Exp32(float32(math.NaN())); got == got {
		t.Errorf("Exp32(NaN) = %v", got)
	}
}

// TestExpSigmoidSlices: the slice functions (assembly where the CPU has it) give
// exactly Exp32's bits, for every length, with lanes out of the vector range and NaN
// mixed in.
func TestExpSigmoidSlices(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 768, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 8)
			switch rng.IntN(50) {
			case 0:
				x[i] = 95
			case 1:
				x[i] = -100
			case 2:
				x[i] = float32(math.NaN())
			}
		}
		e, s := append([]float32(nil), x...), append([]float32(nil), x...)
		Exp(e)
		Sigmoid(s)
		for i, v := range x {
			we, ws := Exp32(v), 1/(1+Exp32(-v))
			if math.Float32bits(e[i]) != math.Float32bits(we) && !(e[i] != e[i] && we != we) {
				t.Fatalf("n=%d: Exp(%v) = %v, Exp32 = %v (%s)", n, v, e[i], we, CPU())
			}
			if math.Float32bits(s[i]) != math.Float32bits(ws) && !(s[i] != s[i] && ws != ws) {
				t.Fatalf("n=%d: Sigmoid(%v) = %v, 1/(1+Exp32(-x)) = %v (%s)", n, v, s[i], ws, CPU())
			}
		}
	}
}

func BenchmarkExp(b *testing.B) {
	x := make([]float32, 768)
	for b.Loop() {
		for i := range x {
			x[i] = float32(i%100)/10 - 5
		}
		Exp(x)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/value")
}
