package convert

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rwkvbench/rwkvbench/convert/internal/onnxrun"
	"github.com/rwkvbench/rwkvbench/convert/onnx"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/pth"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

type golden struct {
	Tokens []int       `json:"tokens"`
	Logits [][]float64 `json:"logits"`
}

func loadGoldenV7(t *testing.T) (*tensor.Set, model.Config, golden) {
	t.Helper()
	return loadGolden(t, "v7")
}

// loadGolden reads a golden checkpoint (v5, v6, v7) and the official runtime's outputs.
func loadGolden(t *testing.T, name string) (*tensor.Set, model.Config, golden) {
	t.Helper()
	path := fixtures.Path(t, "golden/"+name+".pth")
	set, err := pth.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	m, err := model.FromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fixtures.Path(t, "golden/"+name+".golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return set, m.Config, g
}

// stepper runs exported graphs over a token sequence, carrying every state output
// into the next step's input, as the on-device runtime does with aliased buffers.
type stepper struct {
	t      *testing.T
	cfg    model.Config
	graphs []*onnx.Graph // one per chunk
	state  map[string]onnxrun.Value
}

func newStepper(t *testing.T, cfg model.Config, graphs []*onnx.Graph) *stepper {
	s := &stepper{t: t, cfg: cfg, graphs: graphs, state: map[string]onnxrun.Value{}}
	C, H, N := cfg.Embd, cfg.Heads, cfg.HeadSize
	for l := 0; l < cfg.Layers; l++ {
		s.state[stateName(3*l, "in")] = onnxrun.Value{Shape: []int{1, C}, F: make([]float32, C)}
		s.state[stateName(3*l+1, "in")] = onnxrun.Value{Shape: []int{H, N, N}, F: make([]float32, H*N*N)}
		s.state[stateName(3*l+2, "in")] = onnxrun.Value{Shape: []int{1, C}, F: make([]float32, C)}
	}
	return s
}

func stateName(i int, dir string) string { return "state" + itoa(i) + "_" + dir }

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// run feeds tokens through every chunk graph in turn and returns the logits output.
func (s *stepper) run(spec GraphSpec, tokens []int) []float32 {
	s.t.Helper()
	io := ioNames(spec)
	ids := make([]int64, len(tokens))
	for i, tk := range tokens {
		ids[i] = int64(tk)
	}
	var carry map[string]onnxrun.Value
	for ci, g := range s.graphs {
		spec.Chunk = ci + 1
		io = ioNames(spec)
		in := map[string]onnxrun.Value{}
		for _, v := range g.Inputs {
			if st, ok := s.state[v.Name]; ok {
				in[v.Name] = st
			}
		}
		if ci == 0 {
			in[io.in] = onnxrun.Value{Shape: []int{1, len(tokens)}, I: ids, Int: true}
		} else {
			in[io.in] = carry["hidden"]
			in[io.vFirstIn] = carry["v_first"]
		}
		out, err := onnxrun.Run(g, in)
		if err != nil {
			s.t.Fatal(err)
		}
		for name, v := range out {
			if len(name) > 5 && name[:5] == "state" && name[len(name)-4:] == "_out" {
				s.state[name[:len(name)-4]+"_in"] = v
			}
		}
		if ci == len(s.graphs)-1 {
			return out[io.out].F
		}
		carry = map[string]onnxrun.Value{"hidden": out[io.out], "v_first": out[io.vFirstOut]}
	}
	return nil
}

func export(t *testing.T, set *tensor.Set, cfg model.Config, spec GraphSpec) []*onnx.Graph {
	t.Helper()
	var graphs []*onnx.Graph
	for c := 1; c <= max(spec.Chunks, 1); c++ {
		spec.Chunk = c
		g, err := ExportGraph(set, cfg, spec)
		if err != nil {
			t.Fatal(err)
		}
		// Round-trip through the wire format so the test checks what a file holds.
		back, err := onnx.Unmarshal(onnx.Marshal(g.ONNX))
		if err != nil {
			t.Fatal(err)
		}
		graphs = append(graphs, &back.Graph)
	}
	return graphs
}

func maxAbsDiff(got []float32, want []float64) float64 {
	var d float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
	}
	return d
}

// TestPrimitiveDecodeGraphMatchesOfficialRuntime runs the exported decode graph token
// by token and compares every position's logits with the official runtime's, for
// every version and with the layers in one or two chunks.
func TestPrimitiveDecodeGraphMatchesOfficialRuntime(t *testing.T) {
	for _, name := range []string{"v5", "v6", "v7"} {
		set, cfg, g := loadGolden(t, name)
		for _, chunks := range []int{1, 2} {
			spec := GraphSpec{SeqLen: 1, Chunks: chunks, WKV: WKVPrimitive}
			s := newStepper(t, cfg, export(t, set, cfg, spec))
			var worst float64
			for pos, tok := range g.Tokens {
				logits := s.run(spec, []int{tok})
				if len(logits) != cfg.Vocab {
					t.Fatalf("%s chunks=%d: %d logits, want %d", name, chunks, len(logits), cfg.Vocab)
				}
				worst = math.Max(worst, maxAbsDiff(logits, g.Logits[pos]))
			}
			t.Logf("%s chunks=%d: decode graph vs official runtime, max |Δlogit| over %d positions = %.3g", name, chunks, len(g.Tokens), worst)
			if worst > 1e-4 {
				t.Errorf("%s chunks=%d: max |Δlogit| %.3g > 1e-4", name, chunks, worst)
			}
		}
	}
}

// TestPrimitivePrefillGraphMatchesOfficialRuntime runs the prefill graph (window 8)
// twice over the 16 golden tokens: the state carried between windows must give the
// official logits of each window's positions (every position for v5.2/v6, the last
// for v7).
func TestPrimitivePrefillGraphMatchesOfficialRuntime(t *testing.T) {
	const window = 8
	for _, name := range []string{"v5", "v6", "v7"} {
		set, cfg, g := loadGolden(t, name)
		spec := GraphSpec{SeqLen: window, Chunks: 2, WKV: WKVPrimitive}
		s := newStepper(t, cfg, export(t, set, cfg, spec))
		rows := LogitRows(cfg.Version, window)
		for start := 0; start+window <= len(g.Tokens); start += window {
			logits := s.run(spec, g.Tokens[start:start+window])
			if len(logits) != rows*cfg.Vocab {
				t.Fatalf("%s: %d logits, want %d rows of %d", name, len(logits), rows, cfg.Vocab)
			}
			var d float64
			for r := 0; r < rows; r++ {
				pos := start + window - rows + r
				d = math.Max(d, maxAbsDiff(logits[r*cfg.Vocab:(r+1)*cfg.Vocab], g.Logits[pos]))
			}
			t.Logf("%s prefill window at %d (%d logit rows): max |Δlogit| = %.3g", name, start, rows, d)
			if d > 1e-4 {
				t.Errorf("%s prefill window at %d: max |Δlogit| %.3g > 1e-4", name, start, d)
			}
		}
	}
}

func TestGraphIONames(t *testing.T) {
	set, cfg, _ := loadGoldenV7(t)
	tests := []struct {
		spec    GraphSpec
		inputs  []string
		outputs []string
	}{
		{GraphSpec{SeqLen: 1, Chunks: 1}, []string{"in", "state0_in", "state1_in", "state2_in", "state8_in"}, []string{"out", "state0_out", "state8_out"}},
		{GraphSpec{SeqLen: 16, Chunks: 1}, []string{"in_prefill", "state4_in"}, []string{"out_prefill", "state4_out"}},
		{GraphSpec{SeqLen: 1, Chunks: 2, Chunk: 1}, []string{"in_chunk1", "state5_in"}, []string{"out_chunk1", "v_first_out_chunk1", "state5_out"}},
		{GraphSpec{SeqLen: 1, Chunks: 2, Chunk: 2}, []string{"in_chunk2", "v_first_in_chunk2", "state6_in", "state8_in"}, []string{"out_chunk2", "state8_out"}},
		{GraphSpec{SeqLen: 16, Chunks: 2, Chunk: 2}, []string{"in_prefill_chunk2", "v_first_in_prefill_chunk2"}, []string{"out_prefill_chunk2"}},
	}
	for _, tc := range tests {
		if tc.spec.Chunk == 0 {
			tc.spec.Chunk = 1
		}
		g, err := ExportGraph(set, cfg, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		m := g.ONNX
		has := func(list []onnx.ValueInfo, name string) bool {
			for _, v := range list {
				if v.Name == name {
					return true
				}
			}
			return false
		}
		for _, in := range tc.inputs {
			if !has(m.Graph.Inputs, in) {
				t.Errorf("%+v: no input %s", tc.spec, in)
			}
		}
		for _, out := range tc.outputs {
			if !has(m.Graph.Outputs, out) {
				t.Errorf("%+v: no output %s", tc.spec, out)
			}
		}
	}
}

func TestChunkLayers(t *testing.T) {
	tests := []struct{ layers, chunks, chunk, begin, end int }{
		{24, 1, 1, 0, 24}, {24, 2, 2, 12, 24}, {3, 2, 1, 0, 2}, {3, 2, 2, 2, 3}, {32, 3, 3, 22, 32}, {25, 4, 4, 21, 25},
	}
	for _, tc := range tests {
		b, e := ChunkLayers(tc.layers, tc.chunks, tc.chunk)
		if b != tc.begin || e != tc.end {
			t.Errorf("ChunkLayers(%d,%d,%d) = [%d,%d), want [%d,%d)", tc.layers, tc.chunks, tc.chunk, b, e, tc.begin, tc.end)
		}
	}
}

// onnxPython returns a Python interpreter that can import onnx, or skips.
func onnxPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import onnx").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with the onnx package (Debian python3-onnx); the ONNX checker test is skipped")
	return ""
}

// TestONNXCheckerAcceptsExportedGraphs runs the ONNX project's own checker (with full
// shape inference) over the decode and prefill graphs, primitive and custom-op.
func TestONNXCheckerAcceptsExportedGraphs(t *testing.T) {
	py := onnxPython(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		golden string
		spec   GraphSpec
	}{
		{"v7", GraphSpec{SeqLen: 1, Chunks: 1, Chunk: 1, WKV: WKVPrimitive}},
		{"v7", GraphSpec{SeqLen: 16, Chunks: 2, Chunk: 1, WKV: WKVPrimitive}},
		{"v7", GraphSpec{SeqLen: 16, Chunks: 2, Chunk: 2, WKV: WKVPrimitive}},
		{"v7", GraphSpec{SeqLen: 1, Chunks: 1, Chunk: 1, WKV: WKVCustomOp}},
		{"v6", GraphSpec{SeqLen: 16, Chunks: 1, Chunk: 1, WKV: WKVPrimitive}},
		{"v5", GraphSpec{SeqLen: 1, Chunks: 2, Chunk: 2, WKV: WKVPrimitive}},
	} {
		set, cfg, _ := loadGolden(t, tc.golden)
		spec := tc.spec
		g, err := ExportGraph(set, cfg, spec)
		if err != nil {
			t.Fatal(err)
		}
		m := g.ONNX
		path := filepath.Join(dir, tc.golden+"_"+defaultGraphName(spec)+"_"+string(spec.WKV)+".onnx")
		if err := os.WriteFile(path, onnx.Marshal(m), 0o644); err != nil {
			t.Fatal(err)
		}
		strict := "True"
		if spec.WKV == WKVCustomOp {
			strict = "False" // shape inference cannot see inside the custom op
		}
		script := "import onnx,sys\nm=onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=" + strict + ")\nprint(len(m.graph.node))"
		out, err := exec.Command(py, "-c", script, path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: onnx checker: %v\n%s", filepath.Base(path), err, out)
			continue
		}
		t.Logf("%s: accepted by onnx.checker (%s nodes)", filepath.Base(path), string(out[:len(out)-1]))
	}
}

// pointRecorder keeps the last values the engine passed each hook point.
type pointRecorder map[model.Point][]float32

func (r pointRecorder) Activation(p model.Point, x []float32) { r[p] = append([]float32(nil), x...) }

// TestActivationPointsNameTheSameValues checks the exporter's point→tensor map: the
// graph tensor recorded for each engine hook point must hold the values the engine
// passes that point, or calibrated encodings would land on the wrong tensors.
func TestActivationPointsNameTheSameValues(t *testing.T) {
	for _, name := range []string{"v5", "v6", "v7"} {
		t.Run(name, func(t *testing.T) { checkActivationPoints(t, name) })
	}
}

func checkActivationPoints(t *testing.T, name string) {
	set, cfg, g := loadGolden(t, name)
	m, err := model.FromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	rec := pointRecorder{}
	eng, err := model.NewEngine(m, model.Options{Hook: rec})
	if err != nil {
		t.Fatal(err)
	}
	tok := g.Tokens[0]
	if err := eng.Forward(context.Background(), []int{tok}, make([]float32, cfg.Vocab)); err != nil {
		t.Fatal(err)
	}
	exp, err := ExportGraph(set, cfg, GraphSpec{SeqLen: 1, Chunks: 1, Chunk: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := newStepper(t, cfg, nil)
	in := map[string]onnxrun.Value{"in": {Shape: []int{1, 1}, I: []int64{int64(tok)}, Int: true}}
	for _, v := range exp.ONNX.Graph.Inputs {
		if st, ok := s.state[v.Name]; ok {
			in[v.Name] = st
		}
	}
	env, err := onnxrun.RunAll(&exp.ONNX.Graph, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Activations) == 0 || len(exp.Activations) != len(rec) {
		t.Errorf("graph maps %d points, engine hooked %d", len(exp.Activations), len(rec))
	}
	for p, tensor := range exp.Activations {
		want, ok := rec[p]
		if !ok {
			t.Errorf("point %v (tensor %s): the engine has no such hook point", p, tensor)
			continue
		}
		got := env[tensor].F
		if p.Name == "att.time_maa_w2.in" || p.Name == "att.time_maa_w2.out" {
			// v6 runs its five mixing factors as one batched product in the graph and
			// as five products through one hook point in the engine; the recorder
			// kept the last (g), which is the graph tensor's last fifth.
			got = got[len(got)-len(want):]
		}
		if len(got) != len(want) {
			t.Errorf("point %v: tensor %s has %d values, engine %d", p, tensor, len(got), len(want))
			continue
		}
		var d float64
		for i := range want {
			d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		}
		if d > 1e-4 {
			t.Errorf("point %v: tensor %s differs from the engine by %.3g", p, tensor, d)
		}
	}
}
