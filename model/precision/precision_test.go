package precision

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model"
)

func close32(a, b float32) bool {
	return math.Abs(float64(a-b)) <= 1e-6*math.Max(1, math.Abs(float64(b)))
}

func TestEncodeWeightHandExample(t *testing.T) {
	tests := []struct {
		name   string
		data   []float32
		shape  []int
		axis   int
		bits   int
		scales []float32
		fake   []float32
	}{
		{
			// (out, in) rows are channels: scale = max|row| / 127.
			name: "int8 rows", data: []float32{1, -2, 0.5, 0.1, 0.2, -0.4}, shape: []int{2, 3}, axis: 1, bits: 8,
			scales: []float32{2.0 / 127, 0.4 / 127},
			// 1/(2/127) = 63.5 rounds to even 64; 0.5 → 31.75 → 32; 0.1 → 31.75 → 32.
			fake: []float32{64 * 2.0 / 127, -2, 32 * 2.0 / 127, 32 * 0.4 / 127, 64 * 0.4 / 127, -0.4},
		},
		{
			// (in, out) LoRA factors: columns are channels.
			name: "int4 columns", data: []float32{1, -2, 0.55, 0.7, -0.35, 0.1}, shape: []int{3, 2}, axis: 0, bits: 4,
			scales: []float32{1.0 / 7, 2.0 / 7},
			// col 0: 1 → 7, 0.55 → 3.85 → 4, -0.35 → -2.45 → -2; col 1: -2 → -7, 0.7 → 2.45 → 2, 0.1 → 0.35 → 0.
			fake: []float32{1, -2, 4.0 / 7, 4.0 / 7, -2.0 / 7, 0},
		},
		{
			name: "all-zero channel", data: []float32{0, 0, 3, -3}, shape: []int{2, 2}, axis: 1, bits: 8,
			scales: []float32{0, 3.0 / 127}, fake: []float32{0, 0, 3, -3},
		},
	}
	for _, tt := range tests {
		enc, err := EncodeWeight(tt.data, tt.shape, tt.axis, tt.bits)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for c := range tt.scales {
			if !close32(enc.Scales[c], tt.scales[c]) {
				t.Errorf("%s: scale %d = %v, want %v", tt.name, c, enc.Scales[c], tt.scales[c])
			}
		}
		fake, err := enc.FakeQuantize(tt.data, tt.shape)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for i := range fake {
			if !close32(fake[i], tt.fake[i]) {
				t.Errorf("%s: element %d: %v → %v, want %v", tt.name, i, tt.data[i], fake[i], tt.fake[i])
			}
		}
	}
}

func TestEncodeWeightChannelsOfThreeAxes(t *testing.T) {
	// v6 time_maa_w2 is (5, Dm, C) with Dm the input: channels are (j, c) pairs.
	shape := []int{2, 3, 2}
	data := make([]float32, 12)
	for i := range data {
		data[i] = float32(i + 1)
	}
	enc, err := EncodeWeight(data, shape, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Channel (j, c) holds data[j*6 + k*2 + c] for k = 0..2; its largest is k = 2.
	want := []float32{5, 6, 11, 12}
	for c, m := range want {
		if !close32(enc.Scales[c], m/127) {
			t.Errorf("scale %d = %v, want %v/127", c, enc.Scales[c], m)
		}
	}
}

func TestEncodeWeightErrors(t *testing.T) {
	tests := []struct {
		data  []float32
		shape []int
		axis  int
		bits  int
		want  string
	}{
		{make([]float32, 6), []int{2, 3}, 2, 8, "input axis"},
		{make([]float32, 5), []int{2, 3}, 1, 8, "needs 6 values"},
		{make([]float32, 6), []int{2, 3}, 1, 1, "bit width"},
		{make([]float32, 6), []int{2, 3}, 1, 32, "bit width"},
	}
	for _, tt := range tests {
		if _, err := EncodeWeight(tt.data, tt.shape, tt.axis, tt.bits); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("EncodeWeight(%v, axis %d, %d bits) error %v, want %q", tt.shape, tt.axis, tt.bits, err, tt.want)
		}
	}
	enc := WeightEncoding{Bits: 8, InputAxis: 1, Scales: []float32{1}}
	if _, err := enc.FakeQuantize(make([]float32, 6), []int{2, 3}); err == nil || !strings.Contains(err.Error(), "1 scales for 2 channels") {
		t.Errorf("FakeQuantize with too few scales: %v", err)
	}
}

// TestFakeQuantizeErrorBound checks the defining property of round-to-nearest on a
// symmetric grid: every value moves by at most half a step, the channel's largest
// magnitude is exact, and 4 bits are coarser than 8.
func TestFakeQuantizeErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shape := []int{16, 64}
	data := make([]float32, 16*64)
	for i := range data {
		data[i] = float32(rng.NormFloat64() * float64(1+i/64))
	}
	var meanErr [2]float64
	for b, bits := range []int{8, 4} {
		enc, err := EncodeWeight(data, shape, 1, bits)
		if err != nil {
			t.Fatal(err)
		}
		fake, err := enc.FakeQuantize(data, shape)
		if err != nil {
			t.Fatal(err)
		}
		for row := range 16 {
			scale := float64(enc.Scales[row])
			maxAbs := 0.0
			for j := range 64 {
				i := row*64 + j
				d := math.Abs(float64(fake[i] - data[i]))
				if d > scale/2*(1+1e-5) {
					t.Errorf("%d bits: element %d moved %v, more than half a step %v", bits, i, d, scale/2)
				}
				meanErr[b] += d
				maxAbs = math.Max(maxAbs, math.Abs(float64(data[i])))
			}
			for j := range 64 {
				i := row*64 + j
				if math.Abs(float64(data[i])) == maxAbs && !close32(fake[i], data[i]) {
					t.Errorf("%d bits: row %d's largest magnitude %v became %v", bits, row, data[i], fake[i])
				}
			}
		}
	}
	if !(meanErr[1] > 8*meanErr[0]) {
		t.Errorf("mean error int4 %v, int8 %v: int4 should be about 18 times coarser", meanErr[1], meanErr[0])
	}
}

func TestEncodeRange(t *testing.T) {
	tests := []struct {
		lo, hi    float32
		scale     float32
		offset    int32
		min, max  float32
		inputs    []float32
		quantized []float32
	}{
		// 4/65535 per step; -1/scale = -16383.75 rounds to -16384.
		{-1, 3, 4.0 / 65535, -16384, -16384 * 4.0 / 65535, (65535 - 16384) * 4.0 / 65535,
			[]float32{0, -5, 10}, []float32{0, -16384 * 4.0 / 65535, (65535 - 16384) * 4.0 / 65535}},
		// A positive range is widened to include zero.
		{2, 5, 5.0 / 65535, 0, 0, 5, []float32{0, -1, 2.5}, []float32{0, 0, 32768 * 5.0 / 65535}},
		{0, 0, 1.0 / (1 << 24), 0, 0, 65535.0 / (1 << 24), []float32{0}, []float32{0}},
	}
	for _, tt := range tests {
		a, err := EncodeRange(tt.lo, tt.hi, 16)
		if err != nil {
			t.Fatal(err)
		}
		if !close32(a.Scale, tt.scale) || a.Offset != tt.offset || !close32(a.Min(), tt.min) || !close32(a.Max(), tt.max) {
			t.Errorf("EncodeRange(%v, %v) = %+v [%v, %v], want scale %v offset %d [%v, %v]", tt.lo, tt.hi, a, a.Min(), a.Max(), tt.scale, tt.offset, tt.min, tt.max)
		}
		x := append([]float32(nil), tt.inputs...)
		a.fakeQuantize(x)
		for i := range x {
			if !close32(x[i], tt.quantized[i]) {
				t.Errorf("range [%v, %v]: %v → %v, want %v", tt.lo, tt.hi, tt.inputs[i], x[i], tt.quantized[i])
			}
		}
	}
	for _, bad := range [][2]float32{{1, 0}, {float32(math.NaN()), 1}, {0, float32(math.Inf(1))}} {
		if _, err := EncodeRange(bad[0], bad[1], 16); err == nil {
			t.Errorf("EncodeRange(%v, %v) accepted a bad range", bad[0], bad[1])
		}
	}
	// Within the range no value moves by more than half a step.
	a, _ := EncodeRange(-3, 7, 16)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		v := float32(rng.Float64()*10 - 3)
		x := []float32{v}
		a.fakeQuantize(x)
		if d := math.Abs(float64(x[0] - v)); d > float64(a.Scale)/2*(1+1e-4) {
			t.Fatalf("%v → %v moved %v, step %v", v, x[0], d, a.Scale)
		}
	}
}

func TestRoundHalf(t *testing.T) {
	tests := []struct{ in, want float32 }{
		{1, 1},
		{1 + 1.0/2048, 1},           // halfway between 1 and 1+2⁻¹⁰: ties to even
		{1 + 3.0/2048, 1 + 1.0/512}, // halfway between 1+2⁻¹⁰ and 1+2⁻⁹: ties to even
		{0.1, 0.0999755859375},      // nearest half to 0.1
		{65504, 65504},
		{70000, 65504}, // saturates instead of overflowing
		{-1e9, -65504},
		{1e-8, 0}, // below the smallest subnormal half
	}
	for _, tt := range tests {
		if got := RoundHalf(tt.in); got != tt.want {
			t.Errorf("RoundHalf(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	v7 := model.Config{Version: model.V7, Layers: 2}
	v6 := model.Config{Version: model.V6, Layers: 1}
	v5 := model.Config{Version: model.V5_2, Layers: 1}
	tests := []struct {
		cfg  model.Config
		name string
		key  string
		bits int // 0: no integer encoding
		axis int
	}{
		{v7, A16W8, "blocks.0.att.key.weight", 8, 1},
		{v7, A16W4, "blocks.0.att.key.weight", 4, 1},
		{v7, A16W4, "blocks.1.ffn.value.weight", 4, 1},
		{v7, A16W4, "blocks.1.att.a1", 4, 0},
		{v7, A16W4, "blocks.1.att.a2", 8, 0},
		{v7, A16W4, "blocks.1.att.v1", 4, 0},
		{v7, A16W4, "blocks.0.att.v1", 0, 0}, // layer 0 has no value residual
		{v7, A16W4, "head.weight", 8, 1},
		{v7, A16W4, "emb.weight", 0, 0},
		{v7, FP16, "blocks.0.att.key.weight", 0, 0},
		{v6, A16W4, "blocks.0.att.gate.weight", 8, 1},
		{v6, A16W4, "blocks.0.att.time_decay_w1", 4, 0},
		{v6, A16W4, "blocks.0.att.time_maa_w2", 8, 1},
		{v5, A16W4, "blocks.0.ffn.receptance.weight", 8, 1},
		{v5, A16W8, "blocks.0.att.gate.weight", 8, 1},
	}
	for _, tt := range tests {
		r, err := Plan(tt.cfg, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		spec, ok := r.Weights[tt.key]
		if (tt.bits == 0) == ok || spec.Bits != tt.bits || spec.InputAxis != tt.axis {
			t.Errorf("v%s %s %s: %+v (present %v), want %d bits, input axis %d", tt.cfg.Version, tt.name, tt.key, spec, ok, tt.bits, tt.axis)
		}
	}
	for _, tt := range []struct {
		name      string
		simulated bool
		act       int
	}{{FP32, false, 0}, {FP16, true, 0}, {A16W8, true, 16}, {A16W4, true, 16}} {
		r, err := Plan(v7, tt.name)
		if err != nil || r.Simulated() != tt.simulated || r.ActivationBits != tt.act {
			t.Errorf("Plan(%s) = simulated %v, activations %d bits, %v", tt.name, r.Simulated(), r.ActivationBits, err)
		}
	}
	if _, err := Plan(v7, "int3"); err == nil || !strings.Contains(err.Error(), `"int3"`) {
		t.Errorf("Plan(int3) error %v, want one naming it", err)
	}
}

// logitsOver runs m (with hook) over text and returns every position's logits.
func logitsOver(t *testing.T, m *model.Model, hook model.ActivationHook, tokens []int) []float32 {
	t.Helper()
	return logitsThreads(t, m, hook, tokens, 1)
}

func logitsThreads(t *testing.T, m *model.Model, hook model.ActivationHook, tokens []int, threads int) []float32 {
	t.Helper()
	e, err := model.NewEngine(m, model.Options{Threads: threads, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	out := make([]float32, len(tokens)*e.VocabSize())
	if err := e.Forward(context.Background(), tokens, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// meanKL is the mean over positions of KL(p‖q) of the softmaxes of two logit rows.
func meanKL(p, q []float32, vocab int) float64 {
	total := 0.0
	rows := len(p) / vocab
	for r := range rows {
		lp := logSoftmax(p[r*vocab : (r+1)*vocab])
		lq := logSoftmax(q[r*vocab : (r+1)*vocab])
		for i := range lp {
			total += math.Exp(lp[i]) * (lp[i] - lq[i])
		}
	}
	return total / float64(rows)
}

func logSoftmax(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	sum := 0.0
	for _, v := range x {
		sum += math.Exp(float64(v) - m)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - m - math.Log(sum)
	}
	return out
}

// TestPrecisionsOnTinyV7 runs every precision of rwkv.cpp's trained tiny v7 model on
// text it was not calibrated on and measures how far each moves the predictions
// from fp32. The order (fp16 < a16w8 < a16w4) is measured, not assumed.
func TestPrecisionsOnTinyV7(t *testing.T) {
	m, err := model.Load(fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin")))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	calib, err := CalibrationTokens(m.Config.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	// About as many tokens as the text gives a World model; the byte-level tiny model
	// would otherwise spend four times as long.
	calib = calib[:400]
	eval := []int{}
	for _, b := range []byte("Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to anyone who would listen.") {
		eval = append(eval, int(b))
	}
	ref := logitsOver(t, m, nil, eval)
	before := append([]float32(nil), ref...)
	kl := map[string]float64{}
	for _, name := range Names() {
		qm, hook, enc, err := Prepare(context.Background(), m, name, calib)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if enc.Simulated() != (name != FP32) {
			t.Errorf("%s: Simulated() = %v", name, enc.Simulated())
		}
		if (name == A16W8 || name == A16W4) && len(enc.Activations) == 0 {
			t.Errorf("%s: no activation encodings after calibration", name)
		}
		got := logitsOver(t, qm, hook, eval)
		kl[name] = meanKL(ref, got, m.Config.Vocab)
		// The hook is row-wise: the engine splits its calls over threads, which must
		// change nothing.
		if hook != nil {
			if _, ok := hook.(model.RowwiseHook); !ok {
				t.Errorf("%s: the hook is not a model.RowwiseHook", name)
			}
		}
		if three := logitsThreads(t, qm, hook, eval, 3); fmt.Sprint(three) != fmt.Sprint(got) {
			t.Errorf("%s: logits differ between 1 and 3 threads", name)
		}
		t.Logf("%s: mean KL from fp32 %.3g over %d positions", name, kl[name], len(eval))
	}
	if kl[FP32] != 0 {
		t.Errorf("fp32 changed the logits (KL %v)", kl[FP32])
	}
	if got := logitsOver(t, m, nil, eval); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("preparing precisions changed the original model")
	}
	// Bounds: the tiny model's predictions are broad, so these are loose; they fail
	// if quantization is broken (wrong channel, wrong scale), not for noise.
	if !(kl[FP16] < 1e-6) {
		t.Errorf("fp16 KL %v, want < 1e-6", kl[FP16])
	}
	if !(kl[A16W8] < 1e-4) {
		t.Errorf("a16w8 KL %v, want < 1e-4", kl[A16W8])
	}
	if !(kl[FP16] < kl[A16W8] && kl[A16W8] < kl[A16W4]) {
		t.Errorf("KL fp16 %v, a16w8 %v, a16w4 %v: want increasing", kl[FP16], kl[A16W8], kl[A16W4])
	}
	if !(kl[A16W4] < 1e-3) {
		t.Errorf("a16w4 KL %v: the model no longer predicts anything like fp32", kl[A16W4])
	}
}

func TestApplyRefusesForeignEncodings(t *testing.T) {
	m, err := model.Load(fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin")))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	enc := Encodings{Precision: "a16w8", Weights: map[string]WeightEncoding{"blocks.99.att.key.weight": {Bits: 8, InputAxis: 1}}}
	if _, _, err := Apply(m, enc); err == nil || !strings.Contains(err.Error(), "blocks.99.att.key.weight") {
		t.Errorf("Apply with a tensor the model lacks: %v", err)
	}
	enc.Weights = map[string]WeightEncoding{"head.weight": {Bits: 8, InputAxis: 1, Scales: []float32{1}}}
	if _, _, err := Apply(m, enc); err == nil || !strings.Contains(err.Error(), "head.weight") {
		t.Errorf("Apply with the wrong number of scales: %v", err)
	}
	if qm, hook, err := Apply(m, Encodings{Precision: FP32}); err != nil || qm != m || hook != nil {
		t.Errorf("Apply(fp32) = %p, %v, %v; want the model itself and no hook", qm, hook, err)
	}
}

func TestCalibrateErrors(t *testing.T) {
	m, err := model.Load(fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin")))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := Calibrate(context.Background(), m, nil); err == nil {
		t.Error("Calibrate accepted no tokens")
	}
	if _, err := Calibrate(context.Background(), m, []int{1, 999}); err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("Calibrate with an out-of-vocabulary token: %v", err)
	}
	ranges, err := Calibrate(context.Background(), m, []int{72, 105})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []model.Point{{Layer: 0, Name: "att.key.in"}, {Layer: -1, Name: "head.out"}} {
		r, ok := ranges[p]
		if !ok || !(r.Min < r.Max) {
			t.Errorf("point %v: range %+v (observed %v)", p, r, ok)
		}
	}
}

func ExampleEncodeWeight() {
	// One output channel per row of an (out, in) matrix.
	w := []float32{0.5, -1.0, 0.25, 0.02, 0.01, -0.04}
	enc, _ := EncodeWeight(w, []int{2, 3}, 1, 8)
	fake, _ := enc.FakeQuantize(w, []int{2, 3})
	fmt.Printf("scales %.5f %.5f\n", enc.Scales[0], enc.Scales[1])
	fmt.Printf("%.4f\n", fake)
	// Output:
	// scales 0.00787 0.00031
	// [0.5039 -1.0000 0.2520 0.0198 0.0101 -0.0400]
}

func ExamplePlan() {
	// A 24-layer v7: per layer 12 matrices (r, k, v, o, ffn k/v, LoRA w, a, g) plus
	// the value LoRA from layer 1 on, and the head.
	cfg := model.Config{Version: model.V7, Layers: 24}
	for _, name := range Names() {
		r, _ := Plan(cfg, name)
		four := 0
		for _, spec := range r.Weights {
			if spec.Bits == 4 {
				four++
			}
		}
		fmt.Printf("%s: simulated %v, %d integer weights (%d at 4 bits), activations %d bits\n",
			name, r.Simulated(), len(r.Weights), four, r.ActivationBits)
	}
	// Output:
	// fp32: simulated false, 0 integer weights (0 at 4 bits), activations 0 bits
	// fp16: simulated true, 0 integer weights (0 at 4 bits), activations 0 bits
	// a16w8: simulated true, 335 integer weights (0 at 4 bits), activations 16 bits
	// a16w4: simulated true, 335 integer weights (239 at 4 bits), activations 16 bits
}

// TestPrepareEveryVersion checks that the recipes name exactly the weights real
// v5.2, v6 and v7 checkpoints have, and that every precision runs on each.
func TestPrepareEveryVersion(t *testing.T) {
	for _, file := range []string{
		"rwkv_cpp_tiny/tiny-rwkv-5v2-730K-FP32.bin",
		"rwkv_cpp_tiny/tiny-rwkv-6v0-1m-FP32.bin",
		"golden/v7.pth",
	} {
		t.Run(file, func(t *testing.T) {
			m, err := model.Load(fixtures.Path(t, file))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			tokens := make([]int, 48)
			for i := range tokens {
				tokens[i] = (i*37 + 11) % m.Config.Vocab
			}
			ref := logitsOver(t, m, nil, tokens[:16])
			for _, name := range []string{A16W8, A16W4} {
				r, err := Plan(m.Config, name)
				if err != nil {
					t.Fatal(err)
				}
				for key := range r.Weights {
					if !m.Tensors().Has(key) {
						t.Errorf("%s names %s, which the checkpoint lacks", name, key)
					}
				}
				// Conversely, every matrix product the engine runs has its weight planned.
				ranges, err := Calibrate(context.Background(), m, tokens[:8])
				if err != nil {
					t.Fatal(err)
				}
				for p := range ranges {
					base, ok := strings.CutSuffix(p.Name, ".in")
					if !ok {
						continue
					}
					key := base
					if p.Layer >= 0 {
						key = fmt.Sprintf("blocks.%d.%s", p.Layer, base)
					}
					if _, ok := r.Weights[key+".weight"]; !ok {
						if _, ok := r.Weights[key]; !ok {
							t.Errorf("%s: the product at %v has no planned weight", name, p)
						}
					}
				}
				qm, hook, enc, err := Prepare(context.Background(), m, name, tokens)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(enc.Weights) != len(r.Weights) {
					t.Errorf("%s: %d weight encodings for %d planned", name, len(enc.Weights), len(r.Weights))
				}
				got := logitsOver(t, qm, hook, tokens[:16])
				kl := meanKL(ref, got, m.Config.Vocab)
				if !(kl > 0) || math.IsInf(kl, 0) {
					t.Errorf("%s: KL from fp32 %v, want small and positive", name, kl)
				}
			}
		})
	}
}

// TestEncodeWeightMSE: on bell-shaped weights the 4-bit optimum clips near 2.5σ
// while a channel's largest value sits beyond 3σ, so the squared-error search finds
// a lower error than min-max — and never a higher one on any channel.
func TestEncodeWeightMSE(t *testing.T) {
	const rows, cols = 8, 512
	data := make([]float32, rows*cols)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = float32(rng.NormFloat64() * 0.02)
	}
	shape := []int{rows, cols}
	minmax, err := EncodeWeight(data, shape, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	mse, err := EncodeWeightMSE(data, shape, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	qa, _ := minmax.FakeQuantize(data, shape)
	qb, _ := mse.FakeQuantize(data, shape)
	var ea, eb float64
	for r := range rows {
		var ra, rb float64
		for c := range cols {
			i := r*cols + c
			ra += math.Pow(float64(qa[i]-data[i]), 2)
			rb += math.Pow(float64(qb[i]-data[i]), 2)
		}
		if rb > ra*(1+1e-9) {
			t.Errorf("row %d: MSE search error %g above min-max %g", r, rb, ra)
		}
		ea, eb = ea+ra, eb+rb
	}
	if !(eb < ea) {
		t.Errorf("total error: search %g, min-max %g; want the search lower", eb, ea)
	}
	clipped := 0
	for c := range mse.Scales {
		if mse.Scales[c] < minmax.Scales[c] {
			clipped++
		}
	}
	if clipped == 0 {
		t.Error("no channel's range was clipped below its largest value")
	}
}

// TestEncodeWeightLPBQ: blockwise scales are integer multiples (1..16 for 4 bits) of
// the channel scale, the block with the largest weights gets 16, and the blockwise
// grid fits a channel whose blocks differ in range better than per-channel 4 bits.
func TestEncodeWeightLPBQ(t *testing.T) {
	const rows, cols, block = 4, 64, 16
	data := make([]float32, rows*cols)
	rng := rand.New(rand.NewPCG(3, 4))
	for r := range rows {
		for c := range cols {
			scale := 0.01
			if c < block {
				scale = 0.2 // the first block of every row is much wider
			}
			data[r*cols+c] = float32(rng.NormFloat64() * scale)
		}
	}
	shape := []int{rows, cols}
	lpbq, err := EncodeWeightLPBQ(data, shape, 1, 4, block)
	if err != nil {
		t.Fatal(err)
	}
	if len(lpbq.BlockScales) != rows*cols/block {
		t.Fatalf("%d block scales, want %d", len(lpbq.BlockScales), rows*cols/block)
	}
	for r := range rows {
		if got := lpbq.BlockScales[r*4]; got != 16 {
			t.Errorf("row %d: widest block multiplier %d, want 16", r, got)
		}
		for b := 1; b < 4; b++ {
			if m := lpbq.BlockScales[r*4+b]; m < 1 || m > 4 {
				t.Errorf("row %d block %d: multiplier %d, want a small one for a narrow block", r, b, m)
			}
		}
	}
	perChannel, err := EncodeWeight(data, shape, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	qa, err := lpbq.FakeQuantize(data, shape)
	if err != nil {
		t.Fatal(err)
	}
	qb, _ := perChannel.FakeQuantize(data, shape)
	// The wide blocks get the same grid either way; the narrow ones are where a
	// per-channel 4-bit grid rounds everything to zero and LPBQ does not.
	var ea, eb, narrowA, narrowB float64
	for i := range data {
		da, db := math.Pow(float64(qa[i]-data[i]), 2), math.Pow(float64(qb[i]-data[i]), 2)
		ea, eb = ea+da, eb+db
		if i%cols >= block {
			narrowA, narrowB = narrowA+da, narrowB+db
		}
	}
	if !(ea < eb) || !(narrowA < narrowB/10) {
		t.Errorf("LPBQ error %g (narrow blocks %g), per-channel %g (%g): want blockwise lower, and far lower on the narrow blocks", ea, narrowA, eb, narrowB)
	}
	r, err := Plan(tinyConfigForLPBQ(), A16W4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WithLPBQ(0); err == nil {
		t.Error("block size 0 accepted")
	}
	r8, _ := Plan(tinyConfigForLPBQ(), A16W8)
	if _, err := r8.WithLPBQ(16); err == nil {
		t.Error("LPBQ on a recipe without 4-bit weights accepted")
	}
	rl, err := r.WithLPBQ(32)
	if err != nil || rl.Weights["blocks.0.att.key.weight"].BlockSize != 32 || rl.Weights["blocks.0.att.w2"].BlockSize != 0 {
		t.Errorf("WithLPBQ: %v, key %+v, w2 %+v", err, rl.Weights["blocks.0.att.key.weight"], rl.Weights["blocks.0.att.w2"])
	}
}

func tinyConfigForLPBQ() model.Config {
	return model.Config{Version: model.V7, Layers: 2, Embd: 64, Heads: 1, HeadSize: 64, FFN: 256, Vocab: 256}
}
