package convert

import (
	"fmt"
	"strings"

	"github.com/rwkvbench/rwkvbench/convert/onnx"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// WKV selects how the exported graph expresses the WKV recurrence.
type WKV string

const (
	// WKVPrimitive spells the recurrence out in standard ONNX operators (MatMul, Mul,
	// Add per time step). It runs on any backend and on chips without the op package.
	WKVPrimitive WKV = "primitive"
	// WKVCustomOp uses the rwkv::wkv7 op of the HTP op package (RwkvWkvOpPackage).
	WKVCustomOp WKV = "customop"
)

// GraphSpec says which graph to export.
type GraphSpec struct {
	// SeqLen is 1 for the decode graph and the prefill window (16 by default) for the
	// prefill graph; it decides the "_prefill" tensor names.
	SeqLen int
	// Chunks splits the layers into that many graphs; Chunk is the 1-based one wanted.
	Chunks, Chunk int
	WKV           WKV
	// Name is the graph name; empty picks one from the spec.
	Name string
}

// names are the graph I/O names the on-device runtime looks for (facts:
// qualcomm-pipeline.md §4).
type names struct {
	in, out, vFirstIn, vFirstOut string
}

func ioNames(spec GraphSpec) names {
	prefill := ""
	if spec.SeqLen > 1 {
		prefill = "_prefill"
	}
	if spec.Chunks <= 1 {
		return names{in: "in" + prefill, out: "out" + prefill}
	}
	return names{
		in:        fmt.Sprintf("in%s_chunk%d", prefill, spec.Chunk),
		out:       fmt.Sprintf("out%s_chunk%d", prefill, spec.Chunk),
		vFirstIn:  fmt.Sprintf("v_first_in%s_chunk%d", prefill, spec.Chunk),
		vFirstOut: fmt.Sprintf("v_first_out%s_chunk%d", prefill, 1),
	}
}

// ChunkLayers returns the layers [begin, end) of a 1-based chunk: ⌈L/N⌉ layers per
// chunk, the last one shorter (the original project lost trailing layers with ⌊L/N⌋).
func ChunkLayers(layers, chunks, chunk int) (begin, end int) {
	per := (layers + chunks - 1) / chunks
	begin = min(layers, (chunk-1)*per)
	end = min(layers, chunk*per)
	return begin, end
}

// Graph is one exported graph and where the engine's activation points live in it.
type Graph struct {
	ONNX *onnx.Model
	// Activations maps each engine hook point (the input and output of every matrix
	// product) to the graph tensor holding the same values, so calibration ranges
	// observed on the engine become encodings of the graph's tensors. Several points
	// may name one tensor (one activation feeding two products).
	Activations map[model.Point]string
	// Tied lists, per point, further tensors that must carry the point's encoding:
	// the token-shift states (state{3l}_in and _out take the encoding of the layer
	// norm they hold) and, in prefill graphs, the shift's concat, gather and
	// last-row tensors, which context-binary generation requires to match (facts
	// §5.4).
	Tied map[model.Point][]string
}

// ExportGraph builds one ONNX graph (one chunk, decode or prefill) of a checkpoint in
// the official layout, for v5.2, v6 or v7. The custom WKV op exists for v7 only.
func ExportGraph(set *tensor.Set, cfg model.Config, spec GraphSpec) (*Graph, error) {
	switch cfg.Version {
	case model.V5_2, model.V6, model.V7:
	default:
		return nil, fmt.Errorf("export %s: RWKV v%s has no ONNX export", set.Path, cfg.Version)
	}
	if spec.WKV == WKVCustomOp && cfg.Version != model.V7 {
		return nil, fmt.Errorf("export %s: the custom WKV op is exported for v7 only; use --wkv primitive for v%s", set.Path, cfg.Version)
	}
	if spec.SeqLen < 1 {
		return nil, fmt.Errorf("export %s: sequence length %d must be at least 1", set.Path, spec.SeqLen)
	}
	if spec.Chunks < 1 {
		spec.Chunks = 1
	}
	if spec.Chunk < 1 || spec.Chunk > spec.Chunks {
		return nil, fmt.Errorf("export %s: chunk %d outside 1..%d", set.Path, spec.Chunk, spec.Chunks)
	}
	if spec.Chunks > cfg.Layers {
		return nil, fmt.Errorf("export %s: %d chunks for %d layers", set.Path, spec.Chunks, cfg.Layers)
	}
	if spec.WKV == "" {
		spec.WKV = WKVPrimitive
	}
	if spec.Name == "" {
		spec.Name = defaultGraphName(spec)
	}
	x := &exporter{set: set, cfg: cfg, spec: spec, b: onnx.NewBuilder(spec.Name), acts: map[model.Point]string{}, tied: map[model.Point][]string{}}
	if err := x.build(); err != nil {
		return nil, fmt.Errorf("export %s: %w", set.Path, err)
	}
	g := x.b.Graph()
	if err := onnx.CheckNames(&g); err != nil {
		return nil, fmt.Errorf("export %s: %w", set.Path, err)
	}
	m := &onnx.Model{
		IRVersion:    onnx.IRVersion,
		Opsets:       []onnx.OpsetImport{{Domain: "", Version: onnx.Opset}},
		ProducerName: "rwkvbench",
		Graph:        g,
		Metadata: map[string]string{
			"rwkv_version": string(cfg.Version),
			"seq_len":      fmt.Sprint(spec.SeqLen),
			"chunk":        fmt.Sprintf("%d/%d", spec.Chunk, spec.Chunks),
			"wkv":          string(spec.WKV),
		},
	}
	if spec.WKV == WKVCustomOp {
		m.Opsets = append(m.Opsets, onnx.OpsetImport{Domain: customDomain, Version: 1})
	}
	return &Graph{ONNX: m, Activations: x.acts, Tied: x.tied}, nil
}

func defaultGraphName(spec GraphSpec) string {
	name := "rwkv"
	if spec.SeqLen > 1 {
		name += "_prefill"
	}
	if spec.Chunks > 1 {
		name += fmt.Sprintf("_chunk%dof%d", spec.Chunk, spec.Chunks)
	}
	return name
}

// customDomain is the ONNX domain of the WKV custom ops.
const customDomain = "rwkv"

type exporter struct {
	set  *tensor.Set
	cfg  model.Config
	spec GraphSpec
	b    *onnx.Builder
	acts map[model.Point]string
	tied map[model.Point][]string
	err  error
}

// product adds a matrix product with a checkpoint weight and records the engine
// points of its input and output. Linear weights (out, in) go through Gemm with
// transB; LoRA factors stored (in, out) through MatMul.
func (x *exporter) product(layer int, label, in, key string, lora bool) string {
	var out string
	if lora {
		out = x.b.Op(label, "MatMul", nil, in, x.weight(key, false))
	} else {
		out = x.b.Op(label, "Gemm", []onnx.Attribute{onnx.Int("transB", 1)}, in, x.weight(key, false))
	}
	point := strings.TrimSuffix(key, ".weight")
	if layer >= 0 {
		point = strings.TrimPrefix(point, fmt.Sprintf("blocks.%d.", layer))
	}
	x.acts[model.Point{Layer: layer, Name: point + ".in"}] = in
	x.acts[model.Point{Layer: layer, Name: point + ".out"}] = out
	return out
}

// weight adds a checkpoint tensor as an initializer. Vectors stored (1,1,C) are added
// flat so that they broadcast against [T, C] activations without adding a rank.
func (x *exporter) weight(name string, flat bool) string {
	if x.err != nil {
		return name
	}
	t, err := x.set.Get(name)
	if err != nil {
		x.err = err
		return name
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	if flat {
		dims = []int64{int64(len(t.Data))}
	}
	return x.b.Weight(name, t.Data, dims...)
}

func (x *exporter) build() error {
	b, cfg, spec := x.b, x.cfg, x.spec
	T, C, H, N := int64(spec.SeqLen), int64(cfg.Embd), int64(cfg.Heads), int64(cfg.HeadSize)
	io := ioNames(spec)
	begin, end := ChunkLayers(cfg.Layers, spec.Chunks, spec.Chunk)
	last := spec.Chunk == spec.Chunks

	b.Scope("")
	var h string
	if spec.Chunk == 1 {
		tokens := b.Input(io.in, onnx.Int32, 1, T)
		b.Scope("/embedding")
		emb := b.Op("Gather", "Gather", []onnx.Attribute{onnx.Int("axis", 0)}, x.weight("emb.weight", false), tokens)
		emb = b.Op("Reshape", "Reshape", nil, emb, b.Ints(T, C))
		b.Scope("/pre_ln")
		h = x.layerNorm(emb, "blocks.0.ln0", 1e-5)
	} else {
		hidden := b.Input(io.in, onnx.Float, 1, T, C)
		b.Scope("/input")
		h = b.Op("Reshape", "Reshape", nil, hidden, b.Ints(T, C))
	}
	var vFirst string
	if spec.Chunk > 1 && cfg.Version == model.V7 {
		vFirst = b.Input(io.vFirstIn, onnx.Float, T, C)
	}
	for layer := begin; layer < end; layer++ {
		switch cfg.Version {
		case model.V7:
			h, vFirst = x.block7(layer, h, vFirst, T, C, H, N)
		default:
			h = x.block56(layer, h, T, C, H, N)
		}
	}
	b.Scope("")
	if !last {
		b.Scope("/output")
		out := b.Op("Reshape", "Reshape", nil, h, b.Ints(1, T, C))
		b.Output(out, io.out, onnx.Float, 1, T, C)
		if spec.Chunk == 1 && cfg.Version == model.V7 {
			b.Output(vFirst, io.vFirstOut, onnx.Float, T, C)
		}
		return x.err
	}
	rows := LogitRows(cfg.Version, spec.SeqLen)
	if int64(rows) < T {
		// The v7 prefill graph returns the last position's logits only, as the
		// original project's export (output_last) does.
		b.Scope("/last")
		h = b.Op("Slice", "Slice", nil, h, b.Ints(T-1), b.Ints(T), b.Ints(0))
	}
	b.Scope("/ln_out")
	h = x.layerNorm(h, "ln_out", 1e-5)
	b.Scope("/head")
	logits := x.product(-1, "Gemm", h, "head.weight", false)
	logits = b.Op("Reshape", "Reshape", nil, logits, b.Ints(1, int64(rows), int64(cfg.Vocab)))
	b.Output(logits, io.out, onnx.Float, 1, int64(rows), int64(cfg.Vocab))
	return x.err
}

// LogitRows is how many positions' logits a graph outputs: every position for v5.2
// and v6 prefill graphs, the last one only for v7 (facts §4).
func LogitRows(v model.Version, seqLen int) int {
	if v == model.V7 {
		return 1
	}
	return seqLen
}

func (x *exporter) layerNorm(in, prefix string, eps float32) string {
	return x.b.Op("LayerNormalization", "LayerNormalization",
		[]onnx.Attribute{onnx.Int("axis", -1), onnx.Float32("epsilon", eps)},
		in, x.weight(prefix+".weight", true), x.weight(prefix+".bias", true))
}

// shift returns the token-shifted rows of xn (the state row, then rows 0..T-2) and
// declares the state's input and output. xn is the layer norm at point; the state
// tensors and the shift's own tensors are tied to its encoding.
func (x *exporter) shift(xn string, state int, point model.Point, T, C int64) string {
	b := x.b
	in := fmt.Sprintf("state%d_in", state)
	out := fmt.Sprintf("state%d_out", state)
	b.Input(in, onnx.Float, 1, C)
	x.acts[point] = xn
	tied := []string{in, out}
	var lastRow, shifted string
	if T == 1 {
		lastRow, shifted = xn, in
	} else {
		lastRow = b.Op("shift_last", "Slice", nil, xn, b.Ints(T-1), b.Ints(T), b.Ints(0))
		prev := b.Op("shift_gather", "Slice", nil, xn, b.Ints(0), b.Ints(T-1), b.Ints(0))
		shifted = b.Op("concat_shift", "Concat", []onnx.Attribute{onnx.Int("axis", 0)}, in, prev)
		tied = append(tied, lastRow, prev, shifted)
	}
	b.Output(lastRow, out, onnx.Float, 1, C)
	x.tied[point] = tied
	return shifted
}

func (x *exporter) block7(layer int, h, vFirst string, T, C, H, N int64) (string, string) {
	b := x.b
	p := fmt.Sprintf("blocks.%d.", layer)
	gemm := func(label, in, w string) string { return x.product(layer, label, in, w, false) }
	matmul := func(label, in, w string) string { return x.product(layer, label, in, w, true) }
	lerp := func(label, xn, d, w string) string {
		return b.Op(label+"_add", "Add", nil, xn, b.Op(label+"_mul", "Mul", nil, d, x.weight(w, true)))
	}

	// Time mix.
	b.Scope(fmt.Sprintf("/blocks.%d/att", layer))
	xa := x.layerNorm(h, p+"ln1", 1e-5)
	sx := x.shift(xa, 3*layer, model.Point{Layer: layer, Name: "ln1.out"}, T, C)
	d := b.Op("sub_shifted", "Sub", nil, sx, xa)
	xr := lerp("lerp_r", xa, d, p+"att.x_r")
	xw := lerp("lerp_w", xa, d, p+"att.x_w")
	xk := lerp("lerp_k", xa, d, p+"att.x_k")
	xv := lerp("lerp_v", xa, d, p+"att.x_v")
	xaa := lerp("lerp_a", xa, d, p+"att.x_a")
	xg := lerp("lerp_g", xa, d, p+"att.x_g")

	r := gemm("receptance", xr, p+"att.receptance.weight")
	wl := matmul("matmul_time_decay_w2", b.Op("tanh_w", "Tanh", nil, matmul("matmul_time_decay_w1", xw, p+"att.w1")), p+"att.w2")
	wl = b.Op("add_w0", "Add", nil, x.weight(p+"att.w0", true), wl)
	w := b.Op("exp_w", "Exp", nil, b.Op("scale_w", "Mul", nil, b.Op("sigmoid_w", "Sigmoid", nil, wl), b.Scalar(-0.606531)))
	k := gemm("key", xk, p+"att.key.weight")
	v := gemm("value", xv, p+"att.value.weight")
	a := matmul("matmul_a2", matmul("matmul_a1", xaa, p+"att.a1"), p+"att.a2")
	a = b.Op("sigmoid_a", "Sigmoid", nil, b.Op("add_a0", "Add", nil, x.weight(p+"att.a0", true), a))
	g := matmul("matmul_g2", b.Op("sigmoid_g", "Sigmoid", nil, matmul("matmul_g1", xg, p+"att.g1")), p+"att.g2")

	kk := b.Op("mul_k_k", "Mul", nil, k, x.weight(p+"att.k_k", true))
	kk = b.Op("reshape_kk", "Reshape", nil, kk, b.Ints(T, H, N))
	kk = b.Op("l2norm", "LpNormalization", []onnx.Attribute{onnx.Int("axis", -1), onnx.Int("p", 2)}, kk)
	kk = b.Op("reshape_kk_back", "Reshape", nil, kk, b.Ints(T, C))
	one := b.Scalar(1)
	k = b.Op("mul_k_a", "Mul", nil, k, b.Op("add_k_a", "Add", nil, one,
		b.Op("mul_a_k_a", "Mul", nil, b.Op("sub_a_1", "Sub", nil, a, one), x.weight(p+"att.k_a", true))))
	if layer == 0 {
		vFirst = v
	} else {
		mix := matmul("matmul_v2", matmul("matmul_v1", xv, p+"att.v1"), p+"att.v2")
		mix = b.Op("sigmoid_v", "Sigmoid", nil, b.Op("add_v0", "Add", nil, x.weight(p+"att.v0", true), mix))
		v = b.Op("add_v_first", "Add", nil, v, b.Op("mul_v_first", "Mul", nil, b.Op("sub_v_first", "Sub", nil, vFirst, v), mix))
	}

	stateIn := fmt.Sprintf("state%d_in", 3*layer+1)
	b.Input(stateIn, onnx.Float, H, N, N)
	negKK := b.Op("neg_kk", "Neg", nil, kk)
	kkA := b.Op("mul_kk_a", "Mul", nil, kk, a)
	var y, stateOut string
	if x.spec.WKV == WKVCustomOp {
		y, stateOut = x.wkvCustom(r, w, k, v, negKK, kkA, stateIn, T, C, H, N)
	} else {
		y, stateOut = x.wkvPrimitive(r, w, k, v, negKK, kkA, stateIn, T, C, H, N)
	}
	b.Output(stateOut, fmt.Sprintf("state%d_out", 3*layer+1), onnx.Float, H, N, N)

	y = x.groupNorm(y, p, T, C, H, N)

	bonus := b.Op("mul_r_k_r_k", "Mul", nil, b.Op("mul_r_k", "Mul", nil, r, k), x.weight(p+"att.r_k", true))
	bonus = b.Op("sum_bonus", "ReduceSum", []onnx.Attribute{onnx.Int("keepdims", 1)}, b.Op("reshape_bonus", "Reshape", nil, bonus, b.Ints(T, H, N)), b.Ints(-1))
	bonus = b.Op("mul_bonus_v", "Mul", nil, bonus, b.Op("reshape_v", "Reshape", nil, v, b.Ints(T, H, N)))
	y = b.Op("add_bonus", "Add", nil, y, b.Op("reshape_bonus_back", "Reshape", nil, bonus, b.Ints(T, C)))
	out := gemm("output", b.Op("mul_gate", "Mul", nil, y, g), p+"att.output.weight")
	h = b.Op("add_time_mix", "Add", nil, h, out)

	// Channel mix.
	b.Scope(fmt.Sprintf("/blocks.%d/ffn", layer))
	xf := x.layerNorm(h, p+"ln2", 1e-5)
	sxf := x.shift(xf, 3*layer+2, model.Point{Layer: layer, Name: "ln2.out"}, T, C)
	xk = lerp("lerp_k", xf, b.Op("sub_shifted", "Sub", nil, sxf, xf), p+"ffn.x_k")
	kf := b.Op("relu", "Relu", nil, gemm("key", xk, p+"ffn.key.weight"))
	kf = b.Op("square", "Mul", nil, kf, kf)
	h = b.Op("add_feed_forward", "Add", nil, h, gemm("value", kf, p+"ffn.value.weight"))
	return h, vFirst
}

// wkvPrimitive unrolls the recurrence over the T time steps with standard operators:
// S ← S·diag(w) + (S·â)·b̂ᵀ + v·kᵀ, y = S·r, with S[h][value][key].
func (x *exporter) wkvPrimitive(r, w, k, v, negKK, kkA, state string, T, C, H, N int64) (string, string) {
	b := x.b
	row := func(name, t string, shape ...int64) string {
		return b.Op("reshape_"+name, "Reshape", nil, t, b.Ints(shape...))
	}
	S := state
	ys := make([]string, 0, T)
	for t := int64(0); t < T; t++ {
		at := func(name, m string) string {
			if T == 1 {
				return m
			}
			return b.Op("slice_"+name, "Slice", nil, m, b.Ints(t), b.Ints(t+1), b.Ints(0))
		}
		rt := row("r", at("r", r), H, N, 1)
		wt := row("w", at("w", w), H, 1, N)
		kt := row("k", at("k", k), H, 1, N)
		vt := row("v", at("v", v), H, N, 1)
		at1 := row("a", at("neg_kk", negKK), H, N, 1)
		bt := row("b", at("kk_a", kkA), H, 1, N)
		sa := b.Op("wkv_sa", "MatMul", nil, S, at1)
		S = b.Op("wkv_state", "Add", nil,
			b.Op("wkv_decay_plus_sab", "Add", nil, b.Op("wkv_decay", "Mul", nil, S, wt), b.Op("wkv_sab", "MatMul", nil, sa, bt)),
			b.Op("wkv_vk", "MatMul", nil, vt, kt))
		ys = append(ys, row("y", b.Op("wkv_y", "MatMul", nil, S, rt), 1, C))
	}
	y := ys[0]
	if T > 1 {
		y = b.Op("concat_y", "Concat", []onnx.Attribute{onnx.Int("axis", 0)}, ys...)
	}
	return y, S
}

// wkvCustom calls the op package's wkv7 op, whose one output packs y (the first T rows
// of each head) and the final state (the last N rows), then slices both out with the
// package's wkv7_output_x and wkv7_output_state ops. The [T, H, N] operand layout is
// ours; the op package's XML only fixes the rank.
func (x *exporter) wkvCustom(r, w, k, v, negKK, kkA, state string, T, C, H, N int64) (string, string) {
	b := x.b
	thn := func(name, t string) string { return b.Op("reshape_"+name, "Reshape", nil, t, b.Ints(T, H, N)) }
	packed := b.OpN("wkv7", "wkv7", customDomain, 1, nil,
		thn("r", r), thn("w", w), thn("k", k), thn("v", v), thn("a", negKK), thn("b", kkA), state)[0]
	y := b.OpN("wkv7_output_x", "wkv7_output_x", customDomain, 1, nil, packed)[0]
	S := b.OpN("wkv7_output_state", "wkv7_output_state", customDomain, 1, nil, packed)[0]
	return b.Op("reshape_y", "Reshape", nil, y, b.Ints(T, C)), S
}

// groupNorm is the per-head GroupNorm of att.ln_x: a LayerNorm over each head's N
// channels with the model's epsilon, then the per-channel affine.
func (x *exporter) groupNorm(y, p string, T, C, H, N int64) string {
	b := x.b
	y = b.Op("reshape_ln_x", "Reshape", nil, y, b.Ints(T, H, N))
	ones, zeros := make([]float32, N), make([]float32, N)
	for i := range ones {
		ones[i] = 1
	}
	y = b.Op("ln_x", "LayerNormalization", []onnx.Attribute{onnx.Int("axis", -1), onnx.Float32("epsilon", x.cfg.GroupNormEps)},
		y, b.Weight(p+"att.ln_x.unit_scale", ones, N), b.Weight(p+"att.ln_x.zero_bias", zeros, N))
	y = b.Op("reshape_ln_x_back", "Reshape", nil, y, b.Ints(T, C))
	return b.Op("add_ln_x_b", "Add", nil, b.Op("mul_ln_x_w", "Mul", nil, y, x.weight(p+"att.ln_x.weight", true)), x.weight(p+"att.ln_x.bias", true))
}
