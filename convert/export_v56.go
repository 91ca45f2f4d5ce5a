package convert

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/convert/onnx"
	"github.com/rwkvbench/rwkvbench/model"
)

// block56 exports one v5.2 or v6 layer. The two share everything but the token-shift
// mixing (static lerps in v5.2, data-dependent LoRA mixes in v6) and the decay
// (static in v5.2, per token in v6); the WKV state is S[h][key][value].
func (x *exporter) block56(layer int, h string, T, C, H, N int64) string {
	b := x.b
	p := fmt.Sprintf("blocks.%d.", layer)
	v6 := x.cfg.Version == model.V6
	gemm := func(label, in, w string) string { return x.product(layer, label, in, w, false) }
	matmul := func(label, in, w string) string { return x.product(layer, label, in, w, true) }
	// mixOld is v5.2's x⊙μ + sx⊙(1-μ), written as sx + (x - sx)⊙μ.
	mixOld := func(label, sx, dxs, mu string) string {
		return b.Op(label+"_add", "Add", nil, sx, b.Op(label+"_mul", "Mul", nil, dxs, x.weight(mu, true)))
	}
	silu := func(label, v string) string {
		return b.Op(label, "Mul", nil, v, b.Op(label+"_sigmoid", "Sigmoid", nil, v))
	}

	// Time mix.
	b.Scope(fmt.Sprintf("/blocks.%d/att", layer))
	xa := x.layerNorm(h, p+"ln1", 1e-5)
	sx := x.shift(xa, 3*layer, model.Point{Layer: layer, Name: "ln1.out"}, T, C)
	var xr, xk, xv, xg, w string
	if v6 {
		d := b.Op("sub_shifted", "Sub", nil, sx, xa)
		xxx := b.Op("maa_x_add", "Add", nil, xa, b.Op("maa_x_mul", "Mul", nil, d, x.weight(p+"att.time_maa_x", true)))
		h5 := b.Op("tanh_maa", "Tanh", nil, matmul("matmul_maa_w1", xxx, p+"att.time_maa_w1"))
		// (T, 5·Dm) → (5, T, Dm), one batched product with time_maa_w2 (5, Dm, C).
		dm := int64(x.cfg.MixLoRA)
		h5 = b.Op("reshape_maa", "Reshape", nil, h5, b.Ints(T, 5, dm))
		h5 = b.Op("transpose_maa", "Transpose", []onnx.Attribute{onnx.IntList("perm", 1, 0, 2)}, h5)
		mixes := matmul("matmul_maa_w2", h5, p+"att.time_maa_w2")
		mix := func(j int64, name, key string) string {
			m := b.Op("slice_maa_"+name, "Slice", nil, mixes, b.Ints(j), b.Ints(j+1), b.Ints(0))
			m = b.Op("reshape_maa_"+name, "Reshape", nil, m, b.Ints(T, C))
			m = b.Op("add_maa_"+name, "Add", nil, x.weight(p+"att."+key, true), m)
			return b.Op("lerp_"+name+"_add", "Add", nil, xa, b.Op("lerp_"+name+"_mul", "Mul", nil, d, m))
		}
		xw := mix(0, "w", "time_maa_w")
		xk, xv, xr, xg = mix(1, "k", "time_maa_k"), mix(2, "v", "time_maa_v"), mix(3, "r", "time_maa_r"), mix(4, "g", "time_maa_g")
		wl := matmul("matmul_time_decay_w2", b.Op("tanh_decay", "Tanh", nil, matmul("matmul_time_decay_w1", xw, p+"att.time_decay_w1")), p+"att.time_decay_w2")
		wl = b.Op("add_time_decay", "Add", nil, x.weight(p+"att.time_decay", true), wl)
		w = b.Op("exp_decay", "Exp", nil, b.Op("neg_decay", "Neg", nil, b.Op("exp_time_decay", "Exp", nil, wl)))
	} else {
		dxs := b.Op("sub_shifted", "Sub", nil, xa, sx)
		xk = mixOld("mix_k", sx, dxs, p+"att.time_mix_k")
		xv = mixOld("mix_v", sx, dxs, p+"att.time_mix_v")
		xr = mixOld("mix_r", sx, dxs, p+"att.time_mix_r")
		xg = mixOld("mix_g", sx, dxs, p+"att.time_mix_g")
		// The decay is static: exp(-exp(time_decay)), (H, N), the same every token.
		td := x.weight(p+"att.time_decay", true)
		w = b.Op("exp_decay", "Exp", nil, b.Op("neg_decay", "Neg", nil, b.Op("exp_time_decay", "Exp", nil, td)))
	}
	r := gemm("receptance", xr, p+"att.receptance.weight")
	k := gemm("key", xk, p+"att.key.weight")
	v := gemm("value", xv, p+"att.value.weight")
	g := silu("silu_gate", gemm("gate", xg, p+"att.gate.weight"))

	stateIn := fmt.Sprintf("state%d_in", 3*layer+1)
	b.Input(stateIn, onnx.Float, H, N, N)
	u := b.Op("reshape_u", "Reshape", nil, x.weight(p+"att.time_faaaa", true), b.Ints(H, N, 1))
	S := stateIn
	ys := make([]string, 0, T)
	for t := int64(0); t < T; t++ {
		at := func(name, m string) string {
			if T == 1 {
				return m
			}
			return b.Op("slice_"+name, "Slice", nil, m, b.Ints(t), b.Ints(t+1), b.Ints(0))
		}
		reshape := func(name, m string, shape ...int64) string {
			return b.Op("reshape_"+name, "Reshape", nil, m, b.Ints(shape...))
		}
		kt := reshape("k", at("k", k), H, N, 1)
		vt := reshape("v", at("v", v), H, 1, N)
		rt := reshape("r", at("r", r), H, 1, N)
		wt := w
		if v6 {
			wt = at("w", w)
		}
		wt = reshape("w", wt, H, N, 1)
		kv := b.Op("wkv_kv", "MatMul", nil, kt, vt) // [H, key, value]
		bonus := b.Op("wkv_bonus", "Add", nil, b.Op("wkv_u_kv", "Mul", nil, u, kv), S)
		ys = append(ys, reshape("y", b.Op("wkv_y", "MatMul", nil, rt, bonus), 1, C))
		S = b.Op("wkv_state", "Add", nil, b.Op("wkv_decay", "Mul", nil, wt, S), kv)
	}
	y := ys[0]
	if T > 1 {
		y = b.Op("concat_y", "Concat", []onnx.Attribute{onnx.Int("axis", 0)}, ys...)
	}
	b.Output(S, fmt.Sprintf("state%d_out", 3*layer+1), onnx.Float, H, N, N)
	y = x.groupNorm(y, p, T, C, H, N)
	h = b.Op("add_time_mix", "Add", nil, h, gemm("output", b.Op("mul_gate", "Mul", nil, y, g), p+"att.output.weight"))

	// Channel mix.
	b.Scope(fmt.Sprintf("/blocks.%d/ffn", layer))
	xf := x.layerNorm(h, p+"ln2", 1e-5)
	sxf := x.shift(xf, 3*layer+2, model.Point{Layer: layer, Name: "ln2.out"}, T, C)
	var fk, fr string
	if v6 {
		d := b.Op("sub_shifted", "Sub", nil, sxf, xf)
		fk = b.Op("lerp_k_add", "Add", nil, xf, b.Op("lerp_k_mul", "Mul", nil, d, x.weight(p+"ffn.time_maa_k", true)))
		fr = b.Op("lerp_r_add", "Add", nil, xf, b.Op("lerp_r_mul", "Mul", nil, d, x.weight(p+"ffn.time_maa_r", true)))
	} else {
		dxs := b.Op("sub_shifted", "Sub", nil, xf, sxf)
		fk = mixOld("mix_k", sxf, dxs, p+"ffn.time_mix_k")
		fr = mixOld("mix_r", sxf, dxs, p+"ffn.time_mix_r")
	}
	kf := b.Op("relu", "Relu", nil, gemm("key", fk, p+"ffn.key.weight"))
	kf = b.Op("square", "Mul", nil, kf, kf)
	gate := b.Op("sigmoid_receptance", "Sigmoid", nil, gemm("receptance", fr, p+"ffn.receptance.weight"))
	return b.Op("add_feed_forward", "Add", nil, h, b.Op("mul_receptance", "Mul", nil, gate, gemm("value", kf, p+"ffn.value.weight")))
}
