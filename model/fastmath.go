package model

import "math"

// The engine's element-wise transcendental functions in float32. Sequence mode
// evaluates some five exponentials per channel per token, and through float64
// math.Exp they took a tenth of the time of a LAMBADA run. The official runtime
// computes them in float32 too (torch's vectorized exp is within 1 ulp), so this is
// no loss of fidelity: exp32 is within 2 ulp of the correctly rounded value over
// the whole float32 range (TestExp32 checks every 97th float32 bit pattern). tanh,
// applied only to the LoRA hidden layers, stays in float64.

// exp32 is e^x. Range reduction x = k·ln2 + r with |r| ≤ ln2/2, then a degree-6
// polynomial for e^r (the Cephes expf coefficients) and k added to the exponent.
func exp32(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654 || x != x:
		// Results below the smallest normal float32, and NaN, are rare here: the
		// float64 path gets them (and subnormals) right without a second scaling.
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	z := x * log2e
	var k int32
	if z >= 0 {
		k = int32(z + 0.5)
	} else {
		k = int32(z - 0.5)
	}
	kf := float32(k)
	r := x - kf*ln2hi - kf*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// k ≥ -126 here; k = 128 (x just under the overflow bound) needs two steps.
	if k > 127 {
		return p * 2 * math.Float32frombits(uint32(k-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// sigmoid is 1/(1+e^-x).
func sigmoid(x float32) float32 { return 1 / (1 + exp32(-x)) }

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
