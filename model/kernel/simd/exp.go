package simd

import "math"

// Exp sets x[i] = e^x[i] for every element, within 1 ulp of the correctly rounded
// value (see Exp32). The CPU engine evaluates some five exponentials per channel per
// token, through the decay and the logistic gates; in float64 math.Exp they took a
// tenth of a LAMBADA run.
func Exp(x []float32) { apply(x, expVec, Exp32) }

// Sigmoid sets x[i] = 1/(1+e^-x[i]) for every element, computed as
// 1/(1+Exp32(-x[i])).
func Sigmoid(x []float32) { apply(x, sigmoidVec, sigmoid32) }

// apply runs vec over x's whole blocks of eight and scalar over the rest: the tail,
// and any block vec stopped at because a lane was outside its range.
func apply(x []float32, vec func(*float32, int) int, scalar func(float32) float32) {
	n8 := len(x) &^ 7
	i := 0
	for vec != nil && i < n8 {
		i += vec(&x[i], n8-i)
		if i < n8 {
			for end := i + 8; i < end; i++ {
				x[i] = scalar(x[i])
			}
		}
	}
	for ; i < len(x); i++ {
		x[i] = scalar(x[i])
	}
}

// Exp32 is e^x in float32: x = k·ln2 + r with k = round(x·log2e) (half away from
// zero) and |r| ≤ ln2/2, e^r by a degree-6 polynomial (the Cephes expf
// coefficients), and k added to the exponent. It is within 1 ulp of the correctly
// rounded value wherever the result is a normal float32; smaller results, overflow
// and NaN go through float64 math.Exp. The assembly repeats these operations, in
// this order and without fused multiply-adds, so both give the same bits.
func Exp32(x float32) float32 {
	if !(x >= -87 && x <= 88) { // also NaN
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	z := x * log2e
	var k int32
	if math.Signbit(float64(z)) {
		k = int32(z - 0.5)
	} else {
		k = int32(z + 0.5)
	}
	kf := float32(k)
	r := float32(x - kf*ln2hi)
	r = float32(r - kf*ln2lo)
	p := float32(1.9875691500e-4)
	p = float32(p*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	p = float32(float32(float32(p*r)*r)+r) + 1
	return p * math.Float32frombits(uint32(k+127)<<23)
}

func sigmoid32(x float32) float32 { return 1 / (1 + Exp32(-x)) }
