package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
)

// EncodingsFormat names an AIMET encodings JSON layout (qualcomm-pipeline.md §5.5).
type EncodingsFormat string

const (
	// EncodingsLegacy is the dict format of aimet-torch 2.0.x: tensor name → list of
	// per-channel entries with bitwidth, dtype, is_symmetric ("True"/"False"), min,
	// max, offset, scale.
	EncodingsLegacy EncodingsFormat = "legacy"
	// Encodings100 is the 1.0.0 list format: entries with name, bw, dtype, enc_type,
	// is_sym, offset and scale lists.
	Encodings100 EncodingsFormat = "1.0.0"
)

// wkvStateScale is the dummy encoding of the wkv state (1/65535, offset 0): the HTP
// kernel reads these uint16 tensors as raw fp16 bits, keeping the state fp16 (§5.4).
const wkvStateScale = 1.0 / 65535

type legacyEntry struct {
	Bitwidth    int     `json:"bitwidth"`
	Dtype       string  `json:"dtype"`
	IsSymmetric string  `json:"is_symmetric"`
	Max         float64 `json:"max"`
	Min         float64 `json:"min"`
	Offset      int64   `json:"offset"`
	Scale       float64 `json:"scale"`
}

type listEntry struct {
	Name    string    `json:"name"`
	BW      int       `json:"bw"`
	Dtype   string    `json:"dtype"`
	EncType string    `json:"enc_type"`
	IsSym   bool      `json:"is_sym"`
	Offset  []int64   `json:"offset"`
	Scale   []float64 `json:"scale"`
	// LPBQ entries (enc_type "LPBQ"): bw is the decompressed width of the block
	// scales (8), compressed_bw the weights' (4); scale and offset are per channel
	// and per_block_int_scale holds each block's multiplier, channel-major. The
	// facts confirm compressed_bw and "block information"; block_size and
	// per_block_int_scale are our reading of AIMET's layout, not confirmed against
	// an AIMET export.
	CompressedBW     int     `json:"compressed_bw,omitempty"`
	BlockSize        int     `json:"block_size,omitempty"`
	PerBlockIntScale []uint8 `json:"per_block_int_scale,omitempty"`
}

type legacyFile struct {
	Activation     map[string][]legacyEntry `json:"activation_encodings"`
	Param          map[string][]legacyEntry `json:"param_encodings"`
	ExcludedLayers []string                 `json:"excluded_layers"`
	QuantizerArgs  map[string]any           `json:"quantizer_args"`
	Version        string                   `json:"version"`
}

type listFile struct {
	Activation     []listEntry    `json:"activation_encodings"`
	Param          []listEntry    `json:"param_encodings"`
	ExcludedLayers []string       `json:"excluded_layers"`
	QuantizerArgs  map[string]any `json:"quantizer_args"`
	Version        string         `json:"version"`
}

// encoded is the format-neutral form: per tensor, one or more channels, and for
// LPBQ the block multipliers.
type encoded struct {
	bits   int
	sym    bool
	scales []float64
	offset []int64

	blockSize   int
	blockScales []uint8
}

// collect turns precision encodings into per-tensor entries under the graph's names:
// weights under their checkpoint names, activations under the tensors g maps their
// points to, plus the wkv-state dummy encodings for the graph's layers.
func collect(enc precision.Encodings, g *Graph, layers []int) (params, acts map[string]encoded, err error) {
	params, acts = map[string]encoded{}, map[string]encoded{}
	for name, w := range enc.Weights {
		e := encoded{bits: w.Bits, sym: true, blockSize: w.BlockSize, blockScales: w.BlockScales}
		low := -int64(1) << (w.Bits - 1)
		for _, s := range w.Scales {
			e.scales = append(e.scales, float64(s))
			e.offset = append(e.offset, low)
		}
		params[name] = e
	}
	for p, a := range enc.Activations {
		name, ok := g.Activations[p]
		if !ok {
			continue // a point of another chunk's layers
		}
		e := encoded{bits: a.Bits, scales: []float64{float64(a.Scale)}, offset: []int64{int64(a.Offset)}}
		for _, n := range append([]string{name}, g.Tied[p]...) {
			if prev, dup := acts[n]; dup && (prev.scales[0] != e.scales[0] || prev.offset[0] != e.offset[0]) {
				return nil, nil, fmt.Errorf("tensor %s: two points give it different encodings", n)
			}
			acts[n] = e
		}
	}
	dummy := encoded{bits: 16, scales: []float64{wkvStateScale}, offset: []int64{0}}
	for _, l := range layers {
		acts[fmt.Sprintf("state%d_in", 3*l+1)] = dummy
		acts[fmt.Sprintf("state%d_out", 3*l+1)] = dummy
	}
	return params, acts, nil
}

// MarshalEncodings writes the encodings a graph needs in an AIMET format. Weights of
// layers outside the graph's chunk are left out.
func MarshalEncodings(enc precision.Encodings, g *Graph, spec GraphSpec, cfg model.Config, format EncodingsFormat) ([]byte, error) {
	begin, end := ChunkLayers(cfg.Layers, max(spec.Chunks, 1), max(spec.Chunk, 1))
	var layers []int
	for l := begin; l < end; l++ {
		layers = append(layers, l)
	}
	params, acts, err := collect(enc, g, layers)
	if err != nil {
		return nil, err
	}
	// Keep only the parameters the graph holds.
	inGraph := map[string]bool{}
	for _, t := range g.ONNX.Graph.Initializers {
		inGraph[t.Name] = true
	}
	for name := range params {
		if !inGraph[name] {
			delete(params, name)
		}
	}
	switch format {
	case EncodingsLegacy:
		for name, e := range params {
			if e.blockSize > 0 {
				return nil, fmt.Errorf("parameter %s is blockwise (LPBQ), which only the %s format can express", name, Encodings100)
			}
		}
		f := legacyFile{Activation: map[string][]legacyEntry{}, Param: map[string][]legacyEntry{}, ExcludedLayers: []string{}, QuantizerArgs: quantizerArgs(enc), Version: "0.6.1"}
		for name, e := range acts {
			f.Activation[name] = legacyEntries(e)
		}
		for name, e := range params {
			f.Param[name] = legacyEntries(e)
		}
		return marshalIndent(f)
	case Encodings100:
		f := listFile{ExcludedLayers: []string{}, QuantizerArgs: quantizerArgs(enc), Version: "1.0.0"}
		for _, name := range slices.Sorted(maps.Keys(acts)) {
			f.Activation = append(f.Activation, listEntryOf(name, acts[name], "PER_TENSOR"))
		}
		for _, name := range slices.Sorted(maps.Keys(params)) {
			f.Param = append(f.Param, listEntryOf(name, params[name], "PER_CHANNEL"))
		}
		return marshalIndent(f)
	}
	return nil, fmt.Errorf("encodings format %q: want %q or %q", format, EncodingsLegacy, Encodings100)
}

func quantizerArgs(enc precision.Encodings) map[string]any {
	return map[string]any{"activation_bitwidth": 16, "param_bitwidth": bitsOf(enc), "dtype": "int", "per_channel_quantization": true, "quant_scheme": "min_max (rwkvbench)"}
}

func bitsOf(enc precision.Encodings) int {
	bits := 0
	for _, w := range enc.Weights {
		bits = max(bits, w.Bits)
	}
	return bits
}

func legacyEntries(e encoded) []legacyEntry {
	out := make([]legacyEntry, len(e.scales))
	levels := float64(int64(1)<<e.bits - 1)
	for i, s := range e.scales {
		min := float64(e.offset[i]) * s
		out[i] = legacyEntry{Bitwidth: e.bits, Dtype: "int", IsSymmetric: pyBool(e.sym), Min: min, Max: min + levels*s, Offset: e.offset[i], Scale: s}
	}
	return out
}

func listEntryOf(name string, e encoded, encType string) listEntry {
	if e.blockSize > 0 {
		return listEntry{Name: name, BW: precision.LPBQDecompressedBits, Dtype: "INT", EncType: "LPBQ", IsSym: true, Offset: e.offset, Scale: e.scales,
			CompressedBW: e.bits, BlockSize: e.blockSize, PerBlockIntScale: e.blockScales}
	}
	if len(e.scales) == 1 {
		encType = "PER_TENSOR"
	}
	return listEntry{Name: name, BW: e.bits, Dtype: "INT", EncType: encType, IsSym: e.sym, Offset: e.offset, Scale: e.scales}
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// UnmarshalEncodings reads AIMET encodings (either format, told apart by shape) back
// into precision encodings for the CPU engine: parameters by checkpoint name, and
// activations onto every engine point whose graph tensor they name. The recipe gives
// each weight's input axis, which the file does not record. Tensors the engine has no
// point for (the wkv state, token-shift states) are skipped: the engine keeps them in
// float, as the device keeps the wkv state in fp16.
func UnmarshalEncodings(data []byte, g *Graph, recipe precision.Recipe) (precision.Encodings, error) {
	var probe struct {
		Activation json.RawMessage `json:"activation_encodings"`
		Param      json.RawMessage `json:"param_encodings"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return precision.Encodings{}, fmt.Errorf("encodings: %w", err)
	}
	if probe.Param == nil {
		return precision.Encodings{}, fmt.Errorf("encodings: no param_encodings")
	}
	params, acts := map[string]encoded{}, map[string]encoded{}
	if len(probe.Param) > 0 && probe.Param[0] == '[' {
		var f listFile
		if err := json.Unmarshal(data, &f); err != nil {
			return precision.Encodings{}, fmt.Errorf("encodings (1.0.0 format): %w", err)
		}
		for _, e := range f.Param {
			if e.EncType == "LPBQ" {
				params[e.Name] = encoded{bits: e.CompressedBW, sym: e.IsSym, scales: e.Scale, offset: e.Offset, blockSize: e.BlockSize, blockScales: e.PerBlockIntScale}
				continue
			}
			params[e.Name] = encoded{bits: e.BW, sym: e.IsSym, scales: e.Scale, offset: e.Offset}
		}
		for _, e := range f.Activation {
			acts[e.Name] = encoded{bits: e.BW, sym: e.IsSym, scales: e.Scale, offset: e.Offset}
		}
	} else {
		var f legacyFile
		if err := json.Unmarshal(data, &f); err != nil {
			return precision.Encodings{}, fmt.Errorf("encodings (legacy format): %w", err)
		}
		from := func(list []legacyEntry) encoded {
			var e encoded
			for _, x := range list {
				e.bits, e.sym = x.Bitwidth, x.IsSymmetric == "True"
				e.scales = append(e.scales, x.Scale)
				e.offset = append(e.offset, x.Offset)
			}
			return e
		}
		for name, list := range f.Param {
			params[name] = from(list)
		}
		for name, list := range f.Activation {
			acts[name] = from(list)
		}
	}

	enc := precision.Encodings{Precision: recipe.Precision, Float16: recipe.Float16, Weights: map[string]precision.WeightEncoding{}, Activations: map[model.Point]precision.ActivationEncoding{}}
	for name, e := range params {
		spec, ok := recipe.Weights[name]
		if !ok {
			return precision.Encodings{}, fmt.Errorf("encodings: parameter %s is not quantized by the %s recipe", name, recipe.Precision)
		}
		if len(e.scales) == 0 || !e.sym || e.bits != spec.Bits {
			return precision.Encodings{}, fmt.Errorf("encodings: parameter %s: %d-bit symmetric=%v with %d scales, recipe wants %d-bit symmetric", name, e.bits, e.sym, len(e.scales), spec.Bits)
		}
		if e.blockSize != spec.BlockSize {
			return precision.Encodings{}, fmt.Errorf("encodings: parameter %s: block size %d, recipe wants %d", name, e.blockSize, spec.BlockSize)
		}
		w := precision.WeightEncoding{Bits: e.bits, InputAxis: spec.InputAxis, Scales: make([]float32, len(e.scales)), BlockSize: e.blockSize, BlockScales: e.blockScales}
		for i, s := range e.scales {
			if !(s > 0) || math.IsInf(s, 0) {
				return precision.Encodings{}, fmt.Errorf("encodings: parameter %s channel %d: scale %v", name, i, s)
			}
			w.Scales[i] = float32(s)
		}
		enc.Weights[name] = w
	}
	byTensor := map[string][]model.Point{}
	for p, name := range g.Activations {
		byTensor[name] = append(byTensor[name], p)
	}
	names := slices.Collect(maps.Keys(acts))
	sort.Strings(names)
	for _, name := range names {
		e := acts[name]
		if len(e.scales) != 1 || len(e.offset) != 1 || !(e.scales[0] > 0) {
			return precision.Encodings{}, fmt.Errorf("encodings: activation %s: want one positive scale and offset", name)
		}
		for _, p := range byTensor[name] {
			enc.Activations[p] = precision.ActivationEncoding{Bits: e.bits, Scale: float32(e.scales[0]), Offset: int32(e.offset[0])}
		}
	}
	return enc, nil
}
