// Package precision simulates the NPU's number formats on the CPU engine: fp16, and
// the a16w8 and a16w4 integer precisions by fake quantization (quantize, then
// dequantize, then compute in float32).
//
// Every result this package influences is a simulation and must be labelled so:
// the CPU engine still computes in float32 between the points where values are
// rounded, the WKV recurrence and element-wise operations are not rounded at all
// (the device keeps the recurrent state in fp16), and the integer grids follow the
// published recipe (qualcomm-pipeline.md §5), not AIMET's tuned encodings (SeqMSE,
// OmniQuant). The numbers predict the device; they do not replace measuring it.
//
// The quantizer is data, not code: Encodings holds per-weight scales and
// per-activation ranges, whether they come from Plan and Calibrate here or, later,
// from real AIMET encodings files, and Apply turns any Encodings into a model and an
// activation hook. Host predictions and device runs thereby share one quantization.
package precision

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Precision names, in the order tables list them.
const (
	FP32  = "fp32"
	FP16  = "fp16"
	A16W8 = "a16w8"
	A16W4 = "a16w4"
)

// Names returns the precision names Plan accepts, in table order.
func Names() []string { return []string{FP32, FP16, A16W8, A16W4} }

// WeightSpec says how one weight tensor is quantized.
type WeightSpec struct {
	Bits      int
	InputAxis int // see WeightEncoding.InputAxis
	// MSE chooses each channel's range by the squared-error search of
	// EncodeWeightMSE instead of min-max; the recipes use it at 4 bits.
	MSE bool
	// BlockSize, when non-zero, encodes the weight blockwise (LPBQ); see
	// Recipe.WithLPBQ.
	BlockSize int
}

// Recipe is a precision before it meets the weights and the calibration data: which
// weights get how many bits, and how activations are treated.
type Recipe struct {
	Precision string
	// Weights maps official tensor keys to their integer encodings.
	Weights map[string]WeightSpec
	// ActivationBits is the width of the calibrated asymmetric activation
	// encodings; 0 means activations are not integer-quantized.
	ActivationBits int
	// Float16 rounds every weight without an integer encoding, and every
	// activation point without one, to IEEE half: the NPU's float path.
	Float16 bool
}

// WithLPBQ returns the recipe with its 4-bit weights encoded blockwise (LPBQ, block
// scales decompressed to 8 bits) in blocks of the given size along the input axis,
// as the original project does for large models (16 by default there, 32 for 2.9B).
func (r Recipe) WithLPBQ(block int) (Recipe, error) {
	if block < 1 {
		return r, fmt.Errorf("LPBQ block size %d, want at least 1", block)
	}
	out := r
	out.Weights = make(map[string]WeightSpec, len(r.Weights))
	four := 0
	for k, w := range r.Weights {
		if w.Bits == 4 {
			w.BlockSize, w.MSE = block, false
			four++
		}
		out.Weights[k] = w
	}
	if four == 0 {
		return r, fmt.Errorf("precision %s has no 4-bit weights for LPBQ", r.Precision)
	}
	return out, nil
}

// Simulated reports whether running the recipe on the CPU is a simulation (every
// precision but fp32).
func (r Recipe) Simulated() bool {
	return len(r.Weights) > 0 || r.ActivationBits > 0 || r.Float16
}

// Plan returns the recipe of a precision for a model:
//
//   - fp32: nothing changes; the CPU engine's native precision.
//   - fp16: every weight and every activation at the matrix products rounded to half.
//   - a16w8: every matrix-product weight int8 per-channel symmetric; activations at
//     the matrix products uint16 asymmetric with calibrated ranges; everything else
//     half, as the HTP's float fallback.
//   - a16w4: as a16w8, but int4 for the weights qualcomm-pipeline.md §5.2 lists
//     (att receptance/key/value/output, ffn key/value and the first LoRA factors
//     a1, g1, v1 and the decay w1 — v6's time_decay_w1); second LoRA factors, the
//     head, v5/v6 gates and ffn receptance, and v6's time_maa factors stay int8. The
//     int4 ranges come from a per-channel squared-error search (EncodeWeightMSE),
//     the int8 ones from min-max.
//
// The embedding is not integer-quantized (the device copies its encoding onto the
// 16-bit activation after it, §5.4); it is rounded to half.
func Plan(cfg model.Config, name string) (Recipe, error) {
	r := Recipe{Precision: name}
	switch name {
	case FP32:
		return r, nil
	case FP16:
		r.Float16 = true
		return r, nil
	case A16W8, A16W4:
	default:
		return Recipe{}, fmt.Errorf("precision %q: unknown; want fp32, fp16, a16w8 or a16w4", name)
	}
	if cfg.Layers < 1 {
		return Recipe{}, fmt.Errorf("precision %s: model config has %d layers", name, cfg.Layers)
	}
	r.ActivationBits, r.Float16 = 16, true
	r.Weights = map[string]WeightSpec{}
	w4 := name == A16W4
	add := func(key string, axis int, four bool) {
		bits := 8
		if four && w4 {
			bits = 4
		}
		r.Weights[key] = WeightSpec{Bits: bits, InputAxis: axis, MSE: bits == 4}
	}
	const outIn, inOut = 1, 0 // input axis of (out, in) matrices and of (in, out) LoRA factors
	for i := range cfg.Layers {
		p := "blocks." + strconv.Itoa(i) + "."
		for _, k := range []string{"att.receptance", "att.key", "att.value", "att.output", "ffn.key", "ffn.value"} {
			add(p+k+".weight", outIn, true)
		}
		switch cfg.Version {
		case model.V5_2, model.V6:
			add(p+"att.gate.weight", outIn, false)
			add(p+"ffn.receptance.weight", outIn, false)
		}
		switch cfg.Version {
		case model.V6:
			add(p+"att.time_maa_w1", inOut, false)
			add(p+"att.time_maa_w2", 1, false) // (5, Dm, C): five (in, out) factors
			add(p+"att.time_decay_w1", inOut, true)
			add(p+"att.time_decay_w2", inOut, false)
		case model.V7:
			for _, k := range []string{"w1", "a1", "g1"} {
				add(p+"att."+k, inOut, true)
			}
			for _, k := range []string{"w2", "a2", "g2"} {
				add(p+"att."+k, inOut, false)
			}
			if i > 0 { // layer 0 has no value residual
				add(p+"att.v1", inOut, true)
				add(p+"att.v2", inOut, false)
			}
		}
	}
	add("head.weight", outIn, false)
	return r, nil
}

// Range is the observed interval of one activation point.
type Range struct {
	Min, Max float32
}

// Ranges maps activation points to their calibrated intervals.
type Ranges map[model.Point]Range

// Encodings is a complete quantization: what Apply needs to turn a float model into
// its simulated counterpart. The conversion to QNN reads the same values.
type Encodings struct {
	Precision   string
	Weights     map[string]WeightEncoding
	Activations map[model.Point]ActivationEncoding
	// Float16 rounds whatever has no encoding to IEEE half.
	Float16 bool
}

// Simulated reports whether running these encodings on the CPU engine is a
// simulation; only the empty (fp32) encodings are not.
func (e Encodings) Simulated() bool {
	return len(e.Weights) > 0 || len(e.Activations) > 0 || e.Float16
}

// Encode computes a recipe's encodings: per-channel weight scales from set, and
// activation encodings from ranges. Points absent from ranges get no encoding and
// fall back to half (or float32 when the recipe has no Float16).
func Encode(set *tensor.Set, r Recipe, ranges Ranges) (Encodings, error) {
	enc := Encodings{Precision: r.Precision, Float16: r.Float16}
	if len(r.Weights) > 0 {
		enc.Weights = make(map[string]WeightEncoding, len(r.Weights))
	}
	for _, key := range slices.Sorted(maps.Keys(r.Weights)) {
		spec := r.Weights[key]
		t, err := set.Get(key)
		if err != nil {
			return Encodings{}, fmt.Errorf("precision %s: %w", r.Precision, err)
		}
		var w WeightEncoding
		switch {
		case spec.BlockSize > 0:
			w, err = EncodeWeightLPBQ(t.Data, t.Shape, spec.InputAxis, spec.Bits, spec.BlockSize)
		case spec.MSE:
			w, err = EncodeWeightMSE(t.Data, t.Shape, spec.InputAxis, spec.Bits)
		default:
			w, err = EncodeWeight(t.Data, t.Shape, spec.InputAxis, spec.Bits)
		}
		if err != nil {
			return Encodings{}, fmt.Errorf("precision %s: %s: tensor %s: %w", r.Precision, set.Path, key, err)
		}
		enc.Weights[key] = w
	}
	if r.ActivationBits > 0 && len(ranges) > 0 {
		enc.Activations = make(map[model.Point]ActivationEncoding, len(ranges))
		for p, rg := range ranges {
			a, err := EncodeRange(rg.Min, rg.Max, r.ActivationBits)
			if err != nil {
				return Encodings{}, fmt.Errorf("precision %s: activation %d/%s: %w", r.Precision, p.Layer, p.Name, err)
			}
			enc.Activations[p] = a
		}
	}
	return enc, nil
}

// tensorsOf returns the tensor set a model was built from.
func tensorsOf(m *model.Model) (*tensor.Set, error) {
	set := m.Tensors()
	if set == nil {
		return nil, fmt.Errorf("model %s: no tensors (closed?)", m.Path)
	}
	return set, nil
}

// Apply returns a model whose weights are fake-quantized (or rounded to half) as
// enc says, and the activation hook that does the same to activations; the hook is
// nil when nothing is to be done. m is not modified: the new model shares the
// tensors that stay float32 with it, so m must stay open while the new model is
// used unless enc.Float16 is set (then every tensor is a copy).
func Apply(m *model.Model, enc Encodings) (*model.Model, model.ActivationHook, error) {
	if !enc.Simulated() {
		return m, nil, nil
	}
	set, err := tensorsOf(m)
	if err != nil {
		return nil, nil, fmt.Errorf("precision %s: %w", enc.Precision, err)
	}
	q, err := applySet(set, enc)
	if err != nil {
		return nil, nil, err
	}
	qm, err := model.FromSet(q)
	if err != nil {
		return nil, nil, fmt.Errorf("precision %s: %w", enc.Precision, err)
	}
	return qm, enc.Hook(), nil
}

// applySet returns a set with enc applied to the weights.
func applySet(set *tensor.Set, enc Encodings) (*tensor.Set, error) {
	for key := range enc.Weights {
		if !set.Has(key) {
			return nil, fmt.Errorf("precision %s: %s: encodings name tensor %s, which the model does not have", enc.Precision, set.Path, key)
		}
	}
	q := tensor.NewSet(set.Path, set.Format)
	q.GroupNormEps, q.VersionHint = set.GroupNormEps, set.VersionHint
	for _, name := range set.Names() {
		t := set.Tensors[name]
		out := t
		if w, ok := enc.Weights[name]; ok {
			data, err := w.FakeQuantize(t.Data, t.Shape)
			if err != nil {
				return nil, fmt.Errorf("precision %s: %s: tensor %s: %w", enc.Precision, set.Path, name, err)
			}
			out = &tensor.Tensor{Name: name, Shape: t.Shape, DType: t.DType, Data: data}
		} else if enc.Float16 {
			data := make([]float32, len(t.Data))
			for i, v := range t.Data {
				data[i] = RoundHalf(v)
			}
			out = &tensor.Tensor{Name: name, Shape: t.Shape, DType: t.DType, Data: data}
		}
		if err := q.Add(out); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Hook returns the activation hook of the encodings, or nil when they leave
// activations alone. Engines built with it must be used by one goroutine each, as
// any engine.
func (e Encodings) Hook() model.ActivationHook {
	if len(e.Activations) == 0 && !e.Float16 {
		return nil
	}
	return &activationHook{enc: e.Activations, half: e.Float16}
}

type activationHook struct {
	enc  map[model.Point]ActivationEncoding
	half bool
}

// Rowwise marks the hook as a model.RowwiseHook: its encodings are fixed, and each
// value is rounded or fake-quantized on its own.
func (h *activationHook) Rowwise() {}

func (h *activationHook) Activation(p model.Point, x []float32) {
	if a, ok := h.enc[p]; ok {
		a.fakeQuantize(x)
		return
	}
	if h.half {
		for i, v := range x {
			x[i] = RoundHalf(v)
		}
	}
}

// Prepare builds a precision in one step: Plan, the weight encodings, calibration of
// the activation ranges on the weight-quantized model over the calibration tokens
// (as AIMET calibrates its quantization-simulation model), then the activation
// encodings. It returns the model and hook to build engines with, and the encodings.
func Prepare(ctx context.Context, m *model.Model, name string, calibration []int) (*model.Model, model.ActivationHook, Encodings, error) {
	r, err := Plan(m.Config, name)
	if err != nil {
		return nil, nil, Encodings{}, err
	}
	if !r.Simulated() {
		return m, nil, Encodings{Precision: name}, nil
	}
	set, err := tensorsOf(m)
	if err != nil {
		return nil, nil, Encodings{}, fmt.Errorf("precision %s: %w", name, err)
	}
	enc, err := Encode(set, r, nil)
	if err != nil {
		return nil, nil, Encodings{}, err
	}
	q, err := applySet(set, enc)
	if err != nil {
		return nil, nil, Encodings{}, err
	}
	qm, err := model.FromSet(q)
	if err != nil {
		return nil, nil, Encodings{}, fmt.Errorf("precision %s: %w", name, err)
	}
	if r.ActivationBits > 0 {
		ranges, err := Calibrate(ctx, qm, calibration)
		if err != nil {
			return nil, nil, Encodings{}, fmt.Errorf("precision %s: %w", name, err)
		}
		full, err := Encode(q, Recipe{Precision: name, ActivationBits: r.ActivationBits, Float16: r.Float16}, ranges)
		if err != nil {
			return nil, nil, Encodings{}, err
		}
		enc.Activations = full.Activations
	}
	return qm, enc.Hook(), enc, nil
}
