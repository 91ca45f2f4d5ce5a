package precision

import (
	"fmt"
	"math"

	"github.com/x448/float16"
)

// maxHalf is the largest finite IEEE half.
const maxHalf = 65504

// RoundHalf returns x rounded to the nearest IEEE half (ties to even), as the NPU
// stores it. Values beyond the half range saturate at ±65504 instead of becoming
// infinite, so one overflow shows as a large error rather than NaN logits.
func RoundHalf(x float32) float32 {
	if x > maxHalf {
		return maxHalf
	}
	if x < -maxHalf {
		return -maxHalf
	}
	return float16.Fromfloat32(x).Float32()
}

// WeightEncoding is the per-channel symmetric integer encoding of one weight tensor:
// channel c holds integers q in [−(2^(Bits−1)−1), 2^(Bits−1)−1] standing for
// q·Scales[c]. The most negative code is left out, as AIMET's clip_weights_to_7f7f
// does, so that the grid is symmetric around zero.
type WeightEncoding struct {
	Bits int
	// InputAxis is the axis the matrix product sums over; a channel is one position
	// along all the other axes (for an (out, in) matrix, one row).
	InputAxis int
	Scales    []float32
	// BlockSize, when non-zero, makes the encoding blockwise (LPBQ, the HTP's
	// low-power blockwise quantization): each run of BlockSize weights along the
	// input axis has the scale Scales[c]·BlockScales[c·blocks+b], an integer
	// multiplier in 1..2^(8−Bits), so that the block scales decompress to 8 bits.
	BlockSize   int
	BlockScales []uint8
}

// LPBQDecompressedBits is the bit width LPBQ block scales decompress to.
const LPBQDecompressedBits = 8

// EncodeWeightLPBQ computes a blockwise (LPBQ) encoding: per block the ideal scale
// covers the block's largest magnitude; the channel scale is the largest ideal over
// 2^(8−bits), and each block takes the smallest multiplier of it that covers the
// block.
func EncodeWeightLPBQ(data []float32, shape []int, inputAxis, bits, block int) (WeightEncoding, error) {
	if bits < 2 || bits >= LPBQDecompressedBits {
		return WeightEncoding{}, fmt.Errorf("LPBQ bit width %d, want 2 to %d", bits, LPBQDecompressedBits-1)
	}
	if block < 1 {
		return WeightEncoding{}, fmt.Errorf("LPBQ block size %d, want at least 1", block)
	}
	outer, along, inner, err := channels(shape, inputAxis)
	if err != nil {
		return WeightEncoding{}, err
	}
	if outer*along*inner != len(data) {
		return WeightEncoding{}, fmt.Errorf("shape %v needs %d values, have %d", shape, outer*along*inner, len(data))
	}
	blocks := (along + block - 1) / block
	maxMult := float64(int(1) << (LPBQDecompressedBits - bits))
	enc := WeightEncoding{Bits: bits, InputAxis: inputAxis, Scales: make([]float32, outer*inner), BlockSize: block, BlockScales: make([]uint8, outer*inner*blocks)}
	ideal := make([]float64, blocks)
	for o := range outer {
		for j := range inner {
			c := o*inner + j
			top := 0.0
			for b := range blocks {
				m := 0.0
				for k := b * block; k < min(along, (b+1)*block); k++ {
					m = math.Max(m, math.Abs(float64(data[(o*along+k)*inner+j])))
				}
				ideal[b] = m / qmax(bits)
				top = math.Max(top, ideal[b])
			}
			chanScale := top / maxMult
			enc.Scales[c] = float32(chanScale)
			for b := range blocks {
				mult := 1.0
				if chanScale > 0 {
					mult = math.Max(1, math.Min(maxMult, math.Ceil(ideal[b]/float64(float32(chanScale))-1e-9)))
				}
				enc.BlockScales[c*blocks+b] = uint8(mult)
			}
		}
	}
	return enc, nil
}

// qmax is the largest code of a symmetric grid of the given bits.
func qmax(bits int) float64 { return float64(int(1)<<(bits-1) - 1) }

// channels returns how a row-major tensor of the given shape splits into channels
// around the input axis: element index = (outer·len(axis) + k)·inner + j, channel =
// outer·inner + j.
func channels(shape []int, axis int) (outer, along, inner int, err error) {
	if axis < 0 || axis >= len(shape) {
		return 0, 0, 0, fmt.Errorf("input axis %d outside shape %v", axis, shape)
	}
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner, nil
}

// EncodeWeight computes the per-channel symmetric encoding of data (row-major, of the
// given shape): each channel's scale maps its largest magnitude to the top code.
// An all-zero channel gets scale 0 and stays zero.
func EncodeWeight(data []float32, shape []int, inputAxis, bits int) (WeightEncoding, error) {
	if bits < 2 || bits > 16 {
		return WeightEncoding{}, fmt.Errorf("weight bit width %d, want 2 to 16", bits)
	}
	outer, along, inner, err := channels(shape, inputAxis)
	if err != nil {
		return WeightEncoding{}, err
	}
	if outer*along*inner != len(data) {
		return WeightEncoding{}, fmt.Errorf("shape %v needs %d values, have %d", shape, outer*along*inner, len(data))
	}
	maxAbs := make([]float64, outer*inner)
	for o := range outer {
		for k := range along {
			row := data[(o*along+k)*inner : (o*along+k+1)*inner]
			for j, v := range row {
				maxAbs[o*inner+j] = math.Max(maxAbs[o*inner+j], math.Abs(float64(v)))
			}
		}
	}
	enc := WeightEncoding{Bits: bits, InputAxis: inputAxis, Scales: make([]float32, len(maxAbs))}
	for c, m := range maxAbs {
		enc.Scales[c] = float32(m / qmax(bits))
	}
	return enc, nil
}

// MSECandidates is how many clipping ranges EncodeWeightMSE tries per channel: the
// channel's largest magnitude scaled by 1, 0.975, … down to 0.525 — the number of
// candidates the original project's SeqMSE setup uses.
const MSECandidates = 20

// EncodeWeightMSE is EncodeWeight with each channel's range chosen to minimise the
// squared error of the quantized channel rather than to cover its largest value:
// at 4 bits, clipping a few outliers buys a finer grid for every other weight.
// The error is never worse than min-max, which is the first candidate.
func EncodeWeightMSE(data []float32, shape []int, inputAxis, bits int) (WeightEncoding, error) {
	enc, err := EncodeWeight(data, shape, inputAxis, bits)
	if err != nil {
		return enc, err
	}
	outer, along, inner, _ := channels(shape, inputAxis)
	top := qmax(bits)
	values := make([]float64, along)
	for o := range outer {
		for j := range inner {
			c := o*inner + j
			full := float64(enc.Scales[c])
			if full == 0 {
				continue
			}
			for k := range along {
				values[k] = float64(data[(o*along+k)*inner+j])
			}
			best, bestErr := full, math.Inf(1)
			for i := range MSECandidates {
				scale := full * (1 - 0.025*float64(i))
				var sum float64
				for _, v := range values {
					q := math.Max(-top, math.Min(top, math.RoundToEven(v/scale)))
					d := v - q*scale
					sum += d * d
				}
				if sum < bestErr {
					best, bestErr = scale, sum
				}
			}
			enc.Scales[c] = float32(best)
		}
	}
	return enc, nil
}

// FakeQuantize returns a copy of data with every value replaced by its quantized
// and dequantized value under enc: round(w/scale) to even, clamped to the grid,
// times scale.
func (enc WeightEncoding) FakeQuantize(data []float32, shape []int) ([]float32, error) {
	outer, along, inner, err := channels(shape, enc.InputAxis)
	if err != nil {
		return nil, err
	}
	if outer*along*inner != len(data) {
		return nil, fmt.Errorf("shape %v needs %d values, have %d", shape, outer*along*inner, len(data))
	}
	if len(enc.Scales) != outer*inner {
		return nil, fmt.Errorf("%d scales for %d channels", len(enc.Scales), outer*inner)
	}
	if enc.Bits < 2 || enc.Bits > 16 {
		return nil, fmt.Errorf("weight bit width %d, want 2 to 16", enc.Bits)
	}
	top := qmax(enc.Bits)
	blocks := 0
	if enc.BlockSize > 0 {
		blocks = (along + enc.BlockSize - 1) / enc.BlockSize
		if len(enc.BlockScales) != outer*inner*blocks {
			return nil, fmt.Errorf("%d block scales for %d channels of %d blocks", len(enc.BlockScales), outer*inner, blocks)
		}
	}
	out := make([]float32, len(data))
	for o := range outer {
		for k := range along {
			base := (o*along + k) * inner
			for j := range inner {
				scale := float64(enc.Scales[o*inner+j])
				if blocks > 0 {
					scale *= float64(enc.BlockScales[(o*inner+j)*blocks+k/enc.BlockSize])
				}
				if scale == 0 {
					continue
				}
				q := math.RoundToEven(float64(data[base+j]) / scale)
				q = math.Max(-top, math.Min(top, q))
				out[base+j] = float32(q * scale)
			}
		}
	}
	return out, nil
}

// ActivationEncoding is an asymmetric unsigned integer encoding in the QNN
// convention: codes q in [0, 2^Bits−1] stand for (q + Offset)·Scale, with Offset ≤ 0
// so that zero is exactly representable.
type ActivationEncoding struct {
	Bits   int
	Scale  float32
	Offset int32
}

// EncodeRange returns the encoding of [lo, hi] widened to include zero, as AIMET's
// asymmetric quantizers do. A range of zero width gets a tiny scale.
func EncodeRange(lo, hi float32, bits int) (ActivationEncoding, error) {
	if bits < 2 || bits > 16 {
		return ActivationEncoding{}, fmt.Errorf("activation bit width %d, want 2 to 16", bits)
	}
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) || lo > hi {
		return ActivationEncoding{}, fmt.Errorf("range [%v, %v] is not a finite interval", lo, hi)
	}
	l, h := math.Min(float64(lo), 0), math.Max(float64(hi), 0)
	levels := float64(int(1)<<bits - 1)
	scale := (h - l) / levels
	if scale == 0 {
		scale = 1.0 / (1 << 24)
	}
	return ActivationEncoding{Bits: bits, Scale: float32(scale), Offset: int32(math.Round(l / scale))}, nil
}

// Min and Max return the smallest and largest representable values.
func (a ActivationEncoding) Min() float32 { return float32(float64(a.Offset) * float64(a.Scale)) }

// Max returns the largest representable value.
func (a ActivationEncoding) Max() float32 {
	return float32((float64(a.Offset) + float64(int(1)<<a.Bits-1)) * float64(a.Scale))
}

// fakeQuantize rewrites x in place with the quantized and dequantized values;
// values outside the range clamp to its ends, as on the device.
func (a ActivationEncoding) fakeQuantize(x []float32) {
	scale, offset := float64(a.Scale), float64(a.Offset)
	top := float64(int(1)<<a.Bits - 1)
	for i, v := range x {
		q := math.RoundToEven(float64(v)/scale) - offset
		q = max(0, min(top, q)) // the builtins: math.Max and math.Min are calls
		x[i] = float32((q + offset) * scale)
	}
}
