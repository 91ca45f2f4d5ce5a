package model

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// golden is a testdata/golden/*.golden.json file: the official ChatRWKV runtime's
// logits at every position and final state (cpu fp32, one token at a time).
type golden struct {
	Model   string      `json:"model"`
	Version string      `json:"version"`
	Tokens  []int       `json:"tokens"`
	Layers  int         `json:"n_layer"`
	Embd    int         `json:"n_embd"`
	HeadSz  int         `json:"head_size"`
	Vocab   int         `json:"n_vocab"`
	Logits  [][]float32 `json:"logits"`
	State   [][]float32 `json:"state"`
}

func readGolden(t *testing.T, name string) golden {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, filepath.Join("golden", name+".golden.json")))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s.golden.json: %v", name, err)
	}
	return g
}

// TestGolden checks the engine against the official runtime on the four golden
// checkpoints, in token mode and in sequence mode, logits at every position and the
// final state. The acceptance bound is 1e-4; this engine measures at most 4.6e-6 on
// logits and 1.5e-5 on state (v6), so the test holds it to about four times that:
// float32 sums in another order (torch's, or FMA on arm64) move results by ~1e-6.
func TestGolden(t *testing.T) {
	const logitTol, stateTol = 2e-5, 5e-5
	for _, name := range []string{"v5", "v6", "v7", "v7-bf16"} {
		t.Run(name, func(t *testing.T) {
			g := readGolden(t, name)
			m, err := Load(fixtures.Path(t, filepath.Join("golden", g.Model)))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			c := m.Config
			if string(c.Version) != g.Version || c.Layers != g.Layers || c.Embd != g.Embd || c.HeadSize != g.HeadSz || c.Vocab != g.Vocab {
				t.Fatalf("config %+v does not match the golden's version %s L=%d C=%d N=%d V=%d", c, g.Version, g.Layers, g.Embd, g.HeadSz, g.Vocab)
			}
			for _, mode := range []string{"token", "sequence"} {
				e := newEngine(t, m, Options{Threads: 2})
				var got []float32
				if mode == "token" {
					got = stepwise(t, e, g.Tokens)
				} else {
					got = make([]float32, len(g.Tokens)*c.Vocab)
					if err := e.Forward(context.Background(), g.Tokens, got); err != nil {
						t.Fatal(err)
					}
				}
				var worst float64
				for pos, row := range g.Logits {
					worst = max(worst, maxAbsDiff(got[pos*c.Vocab:(pos+1)*c.Vocab], row))
				}
				st := e.State()
				var stWorst float64
				for i := range c.Layers {
					stWorst = max(stWorst, maxAbsDiff(st.AttX[i], g.State[3*i]), maxAbsDiff(st.WKV[i], g.State[3*i+1]), maxAbsDiff(st.FFNX[i], g.State[3*i+2]))
				}
				t.Logf("%s mode: max |Δlogit| %.3g over %d positions, max |Δstate| %.3g", mode, worst, len(g.Logits), stWorst)
				if worst > logitTol {
					t.Errorf("%s mode: max |Δlogit| %.3g > %g", mode, worst, logitTol)
				}
				if stWorst > stateTol {
					t.Errorf("%s mode: max |Δstate| %.3g > %g", mode, stWorst, stateTol)
				}
			}
		})
	}
}

// tinyPrompt is the rwkv.cpp test protocol: the bytes `"in` from a zero state.
var tinyPrompt = []int{34, 105, 110}

func readExpected(t *testing.T, name string) []float32 {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "expected-logits-"+name+".bin")))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 256*4 {
		t.Fatalf("expected-logits-%s.bin: %d bytes, want 1024", name, len(data))
	}
	out := make([]float32, 256)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestTinyRWKVCpp runs rwkv.cpp's trained tiny models on their test prompt and
// compares with the logits rwkv.cpp expects (computed from the FP32 files).
//
// Tolerances: FP32 files must match to 1e-5 (a float64 reference reaches 3.7e-7 to
// 3.1e-6, see the shared reference rwkv-math.md §10.2). FP16 and Q5 files change the weights, so they
// are held to bounds measured with this engine plus headroom, and must keep the
// argmax. The v5.2 files were made with group-norm eps 1e-5, which the reader takes
// from the file.
func TestTinyRWKVCpp(t *testing.T) {
	for _, tc := range []struct {
		model   string
		version Version
		tol     float64
	}{
		{"7v0-834K-FP32", V7, 1e-5},
		{"5v2-730K-FP32", V5_2, 1e-5},
		{"6v0-1m-FP32", V6, 1e-5},
		// Bounds are about twice what this engine measured (in parentheses); the
		// weights differ from the FP32 ones the expected logits came from.
		{"7v0-834K-FP16", V7, 1e-5},   // (4.8e-7: the weights are almost all fp16-exact)
		{"7v0-834K-Q5_0", V7, 0.01},   // (3.7e-3)
		{"7v0-834K-Q5_1", V7, 0.01},   // (4.2e-3)
		{"6v0-1m-FP16", V6, 1e-5},     // (1.9e-6)
		{"6v0-1m-Q5_0", V6, 0.25},     // (0.124)
		{"6v0-1m-Q5_1", V6, 0.25},     // (0.118)
		{"5v2-730K-FP16", V5_2, 0.01}, // (2.5e-3)
		{"5v2-730K-Q5_0", V5_2, 0.75}, // (0.51; a float64 reference gets ≤ 0.5)
		{"5v2-730K-Q5_1", V5_2, 0.75}, // (0.37)
	} {
		t.Run(tc.model, func(t *testing.T) {
			base := tc.model[:strings.LastIndex(tc.model, "-")]
			want := readExpected(t, base)
			m, err := Load(fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-"+tc.model+".bin")))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Config.Version != tc.version {
				t.Fatalf("version %s, want %s", m.Config.Version, tc.version)
			}
			if tc.version == V5_2 && m.Config.GroupNormEps != 1e-5 {
				t.Errorf("group-norm eps %v, want the file's 1e-5", m.Config.GroupNormEps)
			}
			for _, mode := range []string{"token", "sequence"} {
				e := newEngine(t, m, Options{})
				got := make([]float32, 256)
				if mode == "token" {
					all := stepwise(t, e, tinyPrompt)
					copy(got, all[2*256:])
				} else if err := e.Forward(context.Background(), tinyPrompt, got); err != nil {
					t.Fatal(err)
				}
				d := maxAbsDiff(got, want)
				t.Logf("%s mode: max |Δ| vs expected %.3g (tolerance %g)", mode, d, tc.tol)
				if d > tc.tol {
					t.Errorf("%s mode: max |Δ| %.3g > %g", mode, d, tc.tol)
				}
				if a, b := argmax(got), argmax(want); a != b {
					t.Errorf("%s mode: argmax %d (%q), expected %d (%q)", mode, a, rune(a), b, rune(b))
				}
			}
		})
	}
}

// TestTinyUnsupported checks that the v4 and v5.0 tiny models are refused with an
// error naming the key that identified them.
func TestTinyUnsupported(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  []string
	}{
		{"4v0-660K-FP32", []string{"blocks.0.att.ln_x.weight", "RWKV-4"}},
		{"5v1-730K-FP32", []string{"blocks.0.att.", "not supported"}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			path := fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-"+tc.model+".bin"))
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted an unsupported model")
			}
			t.Logf("error: %v", err)
			for _, w := range append(tc.want, filepath.Base(path)) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.pth"), "nope.pth"},
		{"empty", write("empty.bin", nil), "not a PyTorch"},
		{"text", write("notes.txt", []byte("hello world, not a model")), "notes.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The sniffed format reaches the right reader: each reader's error names the file.
	for _, data := range [][]byte{[]byte("PK\x03\x04junk"), []byte("fmgg\x65\x00\x00\x00"), append(binary.LittleEndian.AppendUint64(nil, 2), "{}"...)} {
		p := write("sniff.bin", data)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "sniff.bin") {
			t.Errorf("Load(% x...) error %v does not name the file", data[:4], err)
		}
	}
}

// writeSafetensors stores a set as an F32 safetensors file, the simplest writer
// that the format allows: a JSON header padded to 8 bytes, then the tensors in order.
func writeSafetensors(t *testing.T, path string, set *tensor.Set) {
	t.Helper()
	type entry struct {
		DType   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	header := map[string]entry{}
	var data []byte
	for _, name := range set.Names() {
		tt := set.Tensors[name]
		start := len(data)
		for _, v := range tt.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[name] = entry{"F32", tt.Shape, [2]int{start, len(data)}}
	}
	js, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	file = append(append(file, js...), data...)
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadSafetensors checks Load's sniffing and the safetensors path end to end: a
// checkpoint of an unseen shape written to disk computes what the in-memory set does.
func TestLoadSafetensors(t *testing.T) {
	for _, v := range []Version{V5_2, V6, V7} {
		t.Run(string(v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			writeSafetensors(t, path, randomSet(t, v, oddShape, 19))
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			want := randomModel(t, v, oddShape, 19)
			if m.Format != "safetensors" || m.Config != want.Config {
				t.Fatalf("format %q config %+v, want safetensors %+v", m.Format, m.Config, want.Config)
			}
			tokens := randomTokens(5, oddShape.vocab, 20)
			a, b := make([]float32, 5*77), make([]float32, 5*77)
			if err := newEngine(t, m, Options{}).Forward(context.Background(), tokens, a); err != nil {
				t.Fatal(err)
			}
			if err := newEngine(t, want, Options{}).Forward(context.Background(), tokens, b); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(a, b); d != 0 {
				t.Errorf("logits differ from the in-memory set by %g", d)
			}
		})
	}
}
