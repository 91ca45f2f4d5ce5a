package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
)

// goldenEncodings calibrates the golden v7 checkpoint for a precision over a fixed
// token sequence (its vocabulary of 300 has no tokenizer, so the tokens are synthetic).
func goldenEncodings(t *testing.T, name string, change ...func(precision.Recipe) (precision.Recipe, error)) (*model.Model, precision.Recipe, precision.Encodings) {
	t.Helper()
	set, cfg, g := loadGoldenV7(t)
	m, err := model.FromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	recipe, err := precision.Plan(cfg, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range change {
		if recipe, err = c(recipe); err != nil {
			t.Fatal(err)
		}
	}
	var tokens []int
	for i := 0; i < 96; i++ {
		tokens = append(tokens, (g.Tokens[i%len(g.Tokens)]*7+i*13)%cfg.Vocab)
	}
	ranges, err := precision.Calibrate(context.Background(), m, tokens)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := precision.Encode(set, recipe, ranges)
	if err != nil {
		t.Fatal(err)
	}
	return m, recipe, enc
}

func logitsWith(t *testing.T, m *model.Model, enc precision.Encodings, tokens []int) []float32 {
	t.Helper()
	qm, hook, err := precision.Apply(m, enc)
	if err != nil {
		t.Fatal(err)
	}
	e, err := model.NewEngine(qm, model.Options{Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(tokens)*e.VocabSize())
	if err := e.Forward(context.Background(), tokens, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEncodingsRoundTripReproducesSimulation writes the golden v7 a16w8 and a16w4
// encodings in both AIMET formats, reads them back, and checks that the fake-quant
// engine driven by what was read computes exactly what the original encodings do: one
// quantization for host predictions and device runs.
func TestEncodingsRoundTripReproducesSimulation(t *testing.T) {
	for _, prec := range []string{"a16w8", "a16w4"} {
		m, recipe, enc := goldenEncodings(t, prec)
		_, cfg, g := loadGoldenV7(t)
		spec := GraphSpec{SeqLen: 1, Chunks: 1, Chunk: 1}
		graph, err := ExportGraph(m.Tensors(), cfg, spec)
		if err != nil {
			t.Fatal(err)
		}
		want := logitsWith(t, m, enc, g.Tokens)
		for _, format := range []EncodingsFormat{EncodingsLegacy, Encodings100} {
			raw, err := MarshalEncodings(enc, graph, spec, cfg, format)
			if err != nil {
				t.Fatal(err)
			}
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatalf("%s %s: not JSON: %v", prec, format, err)
			}
			for _, key := range []string{"activation_encodings", "param_encodings", "excluded_layers", "quantizer_args", "version"} {
				if _, ok := generic[key]; !ok {
					t.Errorf("%s %s: no top-level %s", prec, format, key)
				}
			}
			back, err := UnmarshalEncodings(raw, graph, recipe)
			if err != nil {
				t.Fatalf("%s %s: %v", prec, format, err)
			}
			if len(back.Weights) != len(enc.Weights) || len(back.Activations) != len(enc.Activations) {
				t.Errorf("%s %s: read %d weights and %d activations, wrote %d and %d", prec, format, len(back.Weights), len(back.Activations), len(enc.Weights), len(enc.Activations))
			}
			got := logitsWith(t, m, back, g.Tokens)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %s: logit %d = %v after the round trip, %v before", prec, format, i, got[i], want[i])
				}
			}
		}
	}
}

// legacyEncodingsFor exports one graph of the golden v7 checkpoint and returns its
// a16w8 encodings as parsed from the legacy-format file.
func legacyEncodingsFor(t *testing.T, spec GraphSpec) (legacyFile, *Graph, model.Config) {
	t.Helper()
	m, _, enc := goldenEncodings(t, "a16w8")
	_, cfg, _ := loadGoldenV7(t)
	graph, err := ExportGraph(m.Tensors(), cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := MarshalEncodings(enc, graph, spec, cfg, EncodingsLegacy)
	if err != nil {
		t.Fatal(err)
	}
	var f legacyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f, graph, cfg
}

func TestEncodingsCarryTheWKVStateDummy(t *testing.T) {
	f, _, cfg := legacyEncodingsFor(t, GraphSpec{SeqLen: 1, Chunks: 2, Chunk: 2})
	// Chunk 2 of 2 holds layer 2 only: its wkv state gets the dummy, layer 0's does not
	// appear, and only layer 2's weights are listed.
	for _, name := range []string{"state7_in", "state7_out"} {
		e := f.Activation[name]
		if len(e) != 1 || e[0].Bitwidth != 16 || e[0].Offset != 0 || e[0].Scale != wkvStateScale || e[0].IsSymmetric != "False" {
			t.Errorf("%s: %+v, want the 16-bit offset-0 scale-1/65535 dummy", name, e)
		}
	}
	if _, ok := f.Activation["state1_in"]; ok {
		t.Error("chunk 2 lists layer 0's state")
	}
	for name := range f.Param {
		if !strings.HasPrefix(name, "blocks.2.") && name != "head.weight" {
			t.Errorf("chunk 2 lists parameter %s", name)
		}
	}
	if e := f.Param["blocks.2.att.key.weight"]; len(e) != cfg.Embd || e[0].Bitwidth != 8 || e[0].IsSymmetric != "True" || e[0].Offset != -128 {
		t.Errorf("att.key per-channel int8 entry: %d channels, first %+v", len(e), e[0])
	}
}

func TestUnmarshalEncodingsRejectsBadInput(t *testing.T) {
	m, recipe, _ := goldenEncodings(t, "a16w8")
	_, cfg, _ := loadGoldenV7(t)
	graph, err := ExportGraph(m.Tensors(), cfg, GraphSpec{SeqLen: 1, Chunks: 1, Chunk: 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, data, want string }{
		{"not json", `{`, "encodings"},
		{"no params", `{"activation_encodings": {}}`, "param_encodings"},
		{"unknown param", `{"param_encodings": {"blocks.0.att.nope": [{"bitwidth": 8, "is_symmetric": "True", "scale": 1}]}}`, "blocks.0.att.nope"},
		{"wrong bits", `{"param_encodings": [{"name": "blocks.0.att.key.weight", "bw": 4, "is_sym": true, "scale": [1], "offset": [-8]}]}`, "recipe wants 8-bit"},
		{"zero scale", `{"param_encodings": {"blocks.0.att.key.weight": [{"bitwidth": 8, "is_symmetric": "True", "scale": 0}]}}`, "scale"},
		{"bad activation", `{"param_encodings": {}, "activation_encodings": {"x": [{"bitwidth": 16, "scale": -1}]}}`, "activation x"},
	}
	for _, tc := range tests {
		if _, err := UnmarshalEncodings([]byte(tc.data), graph, recipe); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want mention of %q", tc.name, err, tc.want)
		}
	}
}

func FuzzUnmarshalEncodings(f *testing.F) {
	f.Add([]byte(`{"param_encodings": {}, "activation_encodings": {}}`))
	f.Add([]byte(`{"param_encodings": [], "activation_encodings": [{"name": "a", "bw": 16, "scale": [1], "offset": [0]}]}`))
	recipe := precision.Recipe{Precision: "a16w8", Weights: map[string]precision.WeightSpec{"w": {Bits: 8, InputAxis: 1}}}
	graph := &Graph{Activations: map[model.Point]string{{Layer: 0, Name: "att.key.in"}: "a"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = UnmarshalEncodings(data, graph, recipe)
	})
}

// TestTokenShiftEncodingsAreTied checks the post-processing rules of facts §5.4: a
// token-shift state's input and output carry the encoding of the layer norm they
// hold, and in a prefill graph so do the shift's concat, gather and last-row
// tensors (or context-binary generation fails on an offset mismatch).
func TestTokenShiftEncodingsAreTied(t *testing.T) {
	f, graph, cfg := legacyEncodingsFor(t, GraphSpec{SeqLen: 16, Chunks: 1, Chunk: 1})
	for layer := 0; layer < cfg.Layers; layer++ {
		for _, tc := range []struct {
			point string
			state int
			scope string
		}{{"ln1.out", 3 * layer, "att"}, {"ln2.out", 3*layer + 2, "ffn"}} {
			ln := graph.Activations[model.Point{Layer: layer, Name: tc.point}]
			want, ok := f.Activation[ln]
			if !ok {
				t.Fatalf("layer %d %s: no encoding for the layer norm %s", layer, tc.point, ln)
			}
			names := []string{fmt.Sprintf("state%d_in", tc.state), fmt.Sprintf("state%d_out", tc.state),
				fmt.Sprintf("/blocks.%d/%s/concat_shift_output_0", layer, tc.scope),
				fmt.Sprintf("/blocks.%d/%s/shift_gather_output_0", layer, tc.scope),
				fmt.Sprintf("/blocks.%d/%s/shift_last_output_0", layer, tc.scope)}
			for _, n := range names {
				got, ok := f.Activation[n]
				if !ok || len(got) != 1 || got[0].Scale != want[0].Scale || got[0].Offset != want[0].Offset {
					t.Errorf("layer %d: %s encoding %+v, want the layer norm's %+v", layer, n, got, want)
				}
			}
		}
	}
}

// TestLPBQEncodingsRoundTrip: blockwise (LPBQ) a16w4 encodings written in the 1.0.0
// format read back to the same fake-quantized logits; the legacy format, which has
// no way to say "blockwise", refuses them.
func TestLPBQEncodingsRoundTrip(t *testing.T) {
	m, recipe, enc := goldenEncodings(t, "a16w4", func(r precision.Recipe) (precision.Recipe, error) { return r.WithLPBQ(16) })
	set, cfg, g := loadGoldenV7(t)
	spec := GraphSpec{SeqLen: 1, Chunks: 1, Chunk: 1}
	graph, err := ExportGraph(set, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MarshalEncodings(enc, graph, spec, cfg, EncodingsLegacy); err == nil || !strings.Contains(err.Error(), "LPBQ") {
		t.Errorf("legacy format with LPBQ: err = %v", err)
	}
	raw, err := MarshalEncodings(enc, graph, spec, cfg, Encodings100)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"enc_type": "LPBQ"`) || !strings.Contains(string(raw), `"compressed_bw": 4`) {
		t.Error("no LPBQ entry with compressed_bw 4 in the 1.0.0 file")
	}
	back, err := UnmarshalEncodings(raw, graph, recipe)
	if err != nil {
		t.Fatal(err)
	}
	want, got := logitsWith(t, m, enc, g.Tokens), logitsWith(t, m, back, g.Tokens)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d = %v after the round trip, %v before", i, got[i], want[i])
		}
	}
	plain, _ := precision.Plan(cfg, "a16w4")
	if _, err := UnmarshalEncodings(raw, graph, plain); err == nil || !strings.Contains(err.Error(), "block size") {
		t.Errorf("LPBQ file against a per-channel recipe: err = %v", err)
	}
}
