package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// goldenShape is the shape of the official-runtime fixtures in testdata/golden.
var goldenShape = shape{layers: 3, embd: 128, heads: 2, vocab: 300, ffn: 448, mix: 32, decay: 64, alpha: 32, value: 32, gate: 64}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// stateDiff is the largest element difference between two states of one shape.
func stateDiff(a, b *State) float64 {
	var m float64
	for i := range a.Layers {
		m = max(m, maxAbsDiff(a.AttX[i], b.AttX[i]), maxAbsDiff(a.WKV[i], b.WKV[i]), maxAbsDiff(a.FFNX[i], b.FFNX[i]))
	}
	return m
}

func newEngine(t testing.TB, m *Model, opts Options) *Engine {
	t.Helper()
	e, err := NewEngine(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// stepwise feeds tokens one at a time (token mode) and returns every position's logits.
func stepwise(t testing.TB, e *Engine, tokens []int) []float32 {
	t.Helper()
	v := e.VocabSize()
	out := make([]float32, len(tokens)*v)
	for i, tok := range tokens {
		if err := e.Forward(context.Background(), []int{tok}, out[i*v:(i+1)*v]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func randomTokens(n, vocab int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 1))
	toks := make([]int, n)
	for i := range toks {
		toks[i] = rng.IntN(vocab)
	}
	return toks
}

// TestSequenceMatchesTokenMode checks that sequence mode (batched projections, one
// or more chunks) computes what feeding one token at a time computes, for every
// version, on the fixtures' shape and on an odd shape no released model has.
func TestSequenceMatchesTokenMode(t *testing.T) {
	const tol = 1e-5
	for _, v := range []Version{V5_2, V6, V7} {
		for _, sc := range []struct {
			name  string
			shape shape
			n     int
		}{
			{"golden-shape", goldenShape, 21},
			{"odd-shape", oddShape, 9},
			{"odd-shape-two-chunks", oddShape, chunkTokens + 7},
		} {
			t.Run(string(v)+"/"+sc.name, func(t *testing.T) {
				m := randomModel(t, v, sc.shape, 1)
				tokens := randomTokens(sc.n, sc.shape.vocab, 2)
				step := newEngine(t, m, Options{})
				want := stepwise(t, step, tokens)

				seq := newEngine(t, m, Options{Threads: 2})
				got := make([]float32, len(want))
				if err := seq.Forward(context.Background(), tokens, got); err != nil {
					t.Fatal(err)
				}
				dl, ds := maxAbsDiff(got, want), stateDiff(seq.State(), step.State())
				t.Logf("sequence vs token mode over %d tokens: max |Δlogit| %.3g, max |Δstate| %.3g", sc.n, dl, ds)
				if dl > tol {
					t.Errorf("logits: sequence vs token mode max |Δ| = %.3g > %g", dl, tol)
				}
				if ds > tol {
					t.Errorf("state: sequence vs token mode max |Δ| = %.3g > %g", ds, tol)
				}

				// Split feeding: [a] then the rest, and [a b] [c] then the rest.
				vocab := m.Config.Vocab
				for _, cuts := range [][]int{{1}, {2, 3}, {sc.n / 2}} {
					split := newEngine(t, m, Options{})
					last := make([]float32, vocab)
					prev := 0
					for _, cut := range append(cuts, sc.n) {
						if err := split.Forward(context.Background(), tokens[prev:cut], last); err != nil {
							t.Fatal(err)
						}
						prev = cut
					}
					if d := maxAbsDiff(last, want[(sc.n-1)*vocab:]); d > tol {
						t.Errorf("split at %v: last logits max |Δ| = %.3g", cuts, d)
					}
					if d := stateDiff(split.State(), step.State()); d > tol {
						t.Errorf("split at %v: state max |Δ| = %.3g", cuts, d)
					}
				}
			})
		}
	}
}

// TestOddShapeConfig checks that every size is read from the shapes, none assumed.
func TestOddShapeConfig(t *testing.T) {
	for _, v := range []Version{V5_2, V6, V7} {
		t.Run(string(v), func(t *testing.T) {
			m := randomModel(t, v, oddShape, 3)
			c := m.Config
			got := [6]int{c.Layers, c.Embd, c.Heads, c.HeadSize, c.FFN, c.Vocab}
			want := [6]int{2, 96, 3, 32, 200, 77}
			if got != want {
				t.Errorf("L,C,H,N,F,V = %v, want %v", got, want)
			}
			lora := [5]int{c.MixLoRA, c.DecayLoRA, c.AlphaLoRA, c.ValueLoRA, c.GateLoRA}
			wantLoRA := map[Version][5]int{V5_2: {}, V6: {7, 11, 0, 0, 0}, V7: {0, 11, 5, 3, 13}}[v]
			if lora != wantLoRA {
				t.Errorf("LoRA ranks %v, want %v", lora, wantLoRA)
			}
			if c.GroupNormEps != OfficialGroupNormEps {
				t.Errorf("GroupNormEps = %v, want the official %v", c.GroupNormEps, OfficialGroupNormEps)
			}
			var params int64
			for name, tt := range randomSet(t, v, oddShape, 3).Tensors {
				if v == V7 && (name == "blocks.0.att.v0" || name == "blocks.0.att.v1" || name == "blocks.0.att.v2") {
					continue // unused in block 0
				}
				params += int64(len(tt.Data))
			}
			if c.Params != params {
				t.Errorf("Params = %d, want %d", c.Params, params)
			}
		})
	}
}

// TestThreadsAgree checks that splitting the work over goroutines changes nothing:
// each output element is summed in the same order whatever the split, in decode
// (where the wide shape's products are split) and in sequence mode (where the
// per-token loops are too), for every version.
func TestThreadsAgree(t *testing.T) {
	wide := shape{layers: 1, embd: 512, heads: 8, vocab: 100, ffn: 1024, mix: 32, decay: 64, alpha: 32, value: 16, gate: 64}
	for _, v := range []Version{V5_2, V6, V7} {
		for name, sh := range map[string]shape{"golden-shape": goldenShape, "wide": wide} {
			t.Run(fmt.Sprintf("%s/%s", v, name), func(t *testing.T) {
				m := randomModel(t, v, sh, 4)
				tokens := randomTokens(12, sh.vocab, 5)
				run := func(threads int, decode bool) []float32 {
					e := newEngine(t, m, Options{Threads: threads})
					vocab := m.Config.Vocab
					out := make([]float32, len(tokens)*vocab)
					if !decode {
						if err := e.Forward(context.Background(), tokens, out); err != nil {
							t.Fatal(err)
						}
						return out
					}
					for i, tok := range tokens {
						if err := e.Forward(context.Background(), []int{tok}, out[i*vocab:(i+1)*vocab]); err != nil {
							t.Fatal(err)
						}
					}
					return out
				}
				want := run(1, false)
				for _, threads := range []int{1, 2, 3} {
					for _, decode := range []bool{false, true} {
						if d := maxAbsDiff(run(threads, decode), want); d != 0 {
							t.Errorf("%d threads, decode %t: max |Δ| = %g from 1 thread in sequence mode, want 0", threads, decode, d)
						}
					}
				}
			})
		}
	}
}

func TestStateCopyAndSerialize(t *testing.T) {
	for _, v := range []Version{V5_2, V6, V7} {
		t.Run(string(v), func(t *testing.T) {
			m := randomModel(t, v, oddShape, 6)
			ctx := context.Background()
			tokens := randomTokens(10, oddShape.vocab, 7)
			vocab := m.Config.Vocab

			a := newEngine(t, m, Options{})
			if err := a.Forward(ctx, tokens[:6], nil); err != nil {
				t.Fatal(err)
			}
			saved := a.State()
			blob, err := saved.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, vocab)
			if err := a.Forward(ctx, tokens[6:], want); err != nil {
				t.Fatal(err)
			}
			if stateDiff(saved, a.State()) == 0 {
				t.Fatal("State() is not a copy: it followed later tokens")
			}

			var decoded State
			if err := decoded.UnmarshalBinary(blob); err != nil {
				t.Fatal(err)
			}
			if d := stateDiff(&decoded, saved); d != 0 {
				t.Fatalf("round trip changed the state by %g", d)
			}
			b := newEngine(t, m, Options{})
			if err := b.SetState(&decoded); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, vocab)
			if err := b.Forward(ctx, tokens[6:], got); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d != 0 {
				t.Errorf("continuing from a restored state: max |Δ| = %g, want 0", d)
			}

			// Reset gives the zero state: the same logits as a new engine.
			b.Reset()
			fresh := newEngine(t, m, Options{})
			got2, want2 := make([]float32, vocab), make([]float32, vocab)
			if err := b.Forward(ctx, tokens, got2); err != nil {
				t.Fatal(err)
			}
			if err := fresh.Forward(ctx, tokens, want2); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got2, want2); d != 0 {
				t.Errorf("after Reset: max |Δ| = %g, want 0", d)
			}

			other := NewState(randomModel(t, v, goldenShape, 1).Config)
			if err := b.SetState(other); err == nil {
				t.Error("SetState accepted a state of another shape")
			}
			broken := b.State()
			broken.WKV[1] = broken.WKV[1][:5]
			if err := b.SetState(broken); err == nil || !strings.Contains(err.Error(), "layer 1") {
				t.Errorf("SetState of a state with a short WKV slice: error %v", err)
			}
			if _, err := broken.MarshalBinary(); err == nil {
				t.Error("MarshalBinary encoded a state with a short WKV slice")
			}
			if err := b.SetState(nil); err == nil {
				t.Error("SetState accepted nil")
			}
		})
	}
}

func TestUnmarshalStateErrors(t *testing.T) {
	good, err := NewState(Config{Version: V7, Layers: 2, Embd: 8, Heads: 2, HeadSize: 4}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"wrong magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic"},
		{"truncated header", good[:12], "truncated"},
		{"unknown version", edit(func(b []byte) []byte { b[9] = '4'; return b }), "unknown model version"},
		{"truncated payload", good[:len(good)-4], "payload"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "payload"},
		{"zero layers", edit(func(b []byte) []byte { b[10], b[11] = 0, 0; return b }), "layers"},
		{"heads do not divide", edit(func(b []byte) []byte { b[18] = 3; return b }), "heads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			err := s.UnmarshalBinary(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzStateUnmarshal checks that no input makes the decoder panic, and that what it
// accepts encodes back to the same bytes.
func FuzzStateUnmarshal(f *testing.F) {
	for _, v := range []Version{V5_2, V6, V7} {
		b, _ := NewState(Config{Version: v, Layers: 1, Embd: 4, Heads: 2, HeadSize: 2}).MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("RWKVST01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s State
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(data) {
			t.Errorf("decode/encode changed %d bytes into %d", len(data), len(again))
		}
	})
}

func TestFromSetErrors(t *testing.T) {
	type edit func(s *tensor.Set)
	remove := func(key string) edit { return func(s *tensor.Set) { delete(s.Tensors, key) } }
	reshape := func(key string, dims ...int) edit {
		return func(s *tensor.Set) {
			tt := s.Tensors[key]
			tt.Shape = dims
			tt.Data = make([]float32, tt.Len())
		}
	}
	add := func(key string, dims ...int) edit {
		return func(s *tensor.Set) {
			tt := &tensor.Tensor{Name: key, Shape: dims, DType: tensor.F32}
			tt.Data = make([]float32, tt.Len())
			s.Tensors[key] = tt
		}
	}
	for _, tc := range []struct {
		name    string
		version Version
		edit    edit
		want    []string // substrings the error must contain
	}{
		{"missing key", V7, remove("blocks.1.att.a2"), []string{"random-7.pth", "blocks.1.att.a2", "missing"}},
		{"missing head", V6, remove("head.weight"), []string{"head.weight", "missing"}},
		{"wrong shape", V5_2, reshape("blocks.1.ffn.value.weight", 96, 199), []string{"blocks.1.ffn.value.weight", "[96 199]", "want [96 200]"}},
		{"wrong vector", V6, reshape("blocks.0.att.time_maa_k", 1, 1, 95), []string{"blocks.0.att.time_maa_k", "[1 1 95]"}},
		{"NaN weight", V7, func(s *tensor.Set) { s.Tensors["blocks.1.att.key.weight"].Data[5] = float32(math.NaN()) }, []string{"random-7.pth", "blocks.1.att.key.weight", "NaN"}},
		{"Inf weight", V5_2, func(s *tensor.Set) { s.Tensors["emb.weight"].Data[0] = float32(math.Inf(-1)) }, []string{"emb.weight", "Inf"}},
		{"v4", V5_2, func(s *tensor.Set) {
			for _, k := range []string{"weight", "bias"} {
				delete(s.Tensors, "blocks.0.att.ln_x."+k)
			}
		}, []string{"blocks.0.att.ln_x.weight", "RWKV-4"}},
		{"v5.0 time_first", V5_2, add("blocks.0.att.time_first", 3, 1), []string{"blocks.0.att.time_first", "5.0/5.1"}},
		{"v5.1 per-head decay", V5_2, reshape("blocks.0.att.time_decay", 3, 1), []string{"blocks.0.att.time_decay", "5.0/5.1"}},
		{"v5.0 no gate", V5_2, remove("blocks.0.att.gate.weight"), []string{"blocks.0.att.gate.weight", "5.0"}},
		{"version hint 5.1", V5_2, func(s *tensor.Set) { s.VersionHint = "5.1" }, []string{"5.1", "time_decay"}},
		{"DeepEmbed", V7, add("blocks.0.ffn.s_emb.weight", 77, 32), []string{"blocks.0.ffn.s_emb.weight", "DeepEmbed"}},
		{"DeepEmbed s0", V7, add("blocks.1.ffn.s0", 1, 96), []string{"blocks.1.ffn.s0", "DeepEmbed"}},
		{"ChatRWKV converted", V6, add("_strategy", 1), []string{"_strategy", "ChatRWKV"}},
		{"ChatRWKV rescale", V6, add("_rescale_layer", 1), []string{"_rescale_layer"}},
		{"dim_att", V7, reshape("blocks.0.att.key.weight", 64, 96), []string{"dim_att 64"}},
		{"heads do not divide", V7, func(s *tensor.Set) {
			for i := range 2 {
				add("blocks."+string(rune('0'+i))+".att.r_k", 5, 19)(s)
			}
		}, []string{"r_k", "5 heads"}},
		{"no blocks", V7, func(s *tensor.Set) {
			for name := range s.Tensors {
				if strings.HasPrefix(name, "blocks.") {
					delete(s.Tensors, name)
				}
			}
		}, []string{"no blocks"}},
		{"bad block index", V7, add("blocks.x.ln1.weight", 96), []string{"blocks.x.ln1.weight", "block index"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := randomSet(t, tc.version, oddShape, 9)
			tc.edit(set)
			_, err := FromSet(set)
			if err == nil {
				t.Fatal("FromSet accepted the set")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	m := randomModel(t, V7, oddShape, 10)
	e := newEngine(t, m, Options{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		tokens []int
		logits int
		want   string
	}{
		{"token too large", context.Background(), []int{1, 77, 2}, 77, "token 77 at position 1"},
		{"negative token", context.Background(), []int{-1}, 0, "token -1 at position 0"},
		{"logits length", context.Background(), []int{1, 2}, 100, "logits buffer has 100"},
		{"logits for nothing", context.Background(), nil, 77, "empty token sequence"},
		{"cancelled", cancelled, []int{1, 2, 3}, 77, "stopped after 0 of 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Forward(tc.ctx, tc.tokens, make([]float32, tc.logits))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := e.Forward(cancelled, []int{1}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v does not wrap context.Canceled", err)
	}
	if _, err := NewEngine(m, Options{GroupNormEps: -1}); err == nil {
		t.Error("NewEngine accepted a negative group-norm eps")
	}
	if _, err := NewEngine(nil, Options{}); err == nil {
		t.Error("NewEngine accepted a nil model")
	}
}

// recorder keeps the width of every block the hook saw, and optionally scales one point.
type recorder struct {
	seen  map[Point]int
	order []Point
	scale Point
}

func (r *recorder) Activation(p Point, x []float32) {
	if r.seen == nil {
		r.seen = map[Point]int{}
	}
	if _, ok := r.seen[p]; !ok {
		r.order = append(r.order, p)
	}
	r.seen[p] = len(x)
	if p == r.scale {
		for i := range x {
			x[i] *= 0.5
		}
	}
}

func TestHookPoints(t *testing.T) {
	c, f := oddShape.embd, oddShape.ffn
	for _, tc := range []struct {
		version Version
		want    map[Point]int // width per token
	}{
		{V5_2, map[Point]int{{0, "att.receptance.in"}: c, {0, "att.gate.out"}: c, {1, "ffn.key.out"}: f, {1, "ffn.value.in"}: f, {1, "ffn.receptance.out"}: c, {-1, "head.in"}: c, {-1, "head.out"}: 77}},
		{V6, map[Point]int{{0, "att.time_maa_w1.out"}: 35, {0, "att.time_maa_w2.in"}: 35, {0, "att.time_maa_w2.out"}: 5 * c, {1, "att.time_decay_w1.out"}: 11, {1, "att.time_decay_w2.out"}: c, {1, "att.output.in"}: c}},
		{V7, map[Point]int{{0, "att.w1.in"}: c, {0, "att.w1.out"}: 11, {1, "att.a2.in"}: 5, {1, "att.v1.out"}: 3, {1, "att.g2.out"}: c, {0, "att.key.out"}: c, {1, "ffn.key.in"}: c}},
	} {
		t.Run(string(tc.version), func(t *testing.T) {
			m := randomModel(t, tc.version, oddShape, 11)
			const n = 5
			tokens := randomTokens(n, oddShape.vocab, 12)
			rec := &recorder{}
			e := newEngine(t, m, Options{Hook: rec})
			all := make([]float32, n*77)
			if err := e.Forward(context.Background(), tokens, all); err != nil {
				t.Fatal(err)
			}
			for p, width := range tc.want {
				if got := rec.seen[p]; got != n*width {
					t.Errorf("point %v: saw %d values, want %d×%d", p, got, n, width)
				}
			}
			if tc.version == V7 {
				if _, ok := rec.seen[Point{0, "att.v1.in"}]; ok {
					t.Error("layer 0 ran the value-residual LoRA, which v7 does not use there")
				}
			}
			for _, p := range rec.order {
				if strings.HasPrefix(p.Name, "blocks.") || strings.Contains(p.Name, ".weight") {
					t.Errorf("point name %q keeps the key's decoration", p.Name)
				}
			}

			// A hook that rewrites values changes the result; no hook and a hook that
			// only observes do not.
			plain := newEngine(t, m, Options{})
			want := make([]float32, len(all))
			if err := plain.Forward(context.Background(), tokens, want); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(all, want); d != 0 {
				t.Errorf("an observing hook changed the logits by %g", d)
			}
			scaled := newEngine(t, m, Options{Hook: &recorder{scale: Point{1, "att.output.out"}}})
			got := make([]float32, len(all))
			if err := scaled.Forward(context.Background(), tokens, got); err != nil {
				t.Fatal(err)
			}
			if maxAbsDiff(got, want) == 0 {
				t.Error("scaling att.output.out in the hook did not change the logits")
			}
		})
	}
}

// FuzzFromSet mangles a small valid checkpoint — reshaping, deleting and poisoning
// tensors as the fuzzer's bytes direct — and checks that FromSet either refuses it
// with an error or returns a model that runs without panicking.
func FuzzFromSet(f *testing.F) {
	f.Add(byte(0), []byte{})
	f.Add(byte(2), []byte{0, 3, 1, 0})
	f.Add(byte(1), []byte{1, 200, 2, 9, 9})
	f.Add(byte(0), []byte{2, 17, 0})
	f.Add(byte(2), []byte{0, 40, 3, 0, 1, 1})
	tiny := shape{layers: 2, embd: 8, heads: 2, vocab: 11, ffn: 12, mix: 2, decay: 3, alpha: 2, value: 2, gate: 3}
	f.Fuzz(func(t *testing.T, version byte, ops []byte) {
		v := []Version{V5_2, V6, V7}[int(version)%3]
		set := randomSet(t, v, tiny, 1)
		names := set.Names()
		for len(ops) >= 3 {
			op, key, arg := ops[0]%4, names[int(ops[1])%len(names)], int(ops[2])
			ops = ops[3:]
			tt, ok := set.Tensors[key]
			if !ok {
				continue
			}
			switch op {
			case 0:
				delete(set.Tensors, key)
			case 1: // new shape with arg dimensions taken from the following bytes
				rank := arg % 4
				if len(ops) < rank {
					return
				}
				dims := make([]int, rank)
				for i := range dims {
					dims[i] = int(ops[i]) % 40
				}
				ops = ops[rank:]
				tt.Shape = dims
				tt.Data = make([]float32, tt.Len())
			case 2:
				if len(tt.Data) > 0 {
					tt.Data[arg%len(tt.Data)] = float32(math.NaN())
				}
			case 3:
				if len(tt.Shape) > 0 {
					tt.Shape = tt.Shape[1:]
					tt.Data = make([]float32, tt.Len())
				}
			}
		}
		m, err := FromSet(set)
		if err != nil {
			return
		}
		e, err := NewEngine(m, Options{})
		if err != nil {
			return
		}
		defer e.Close()
		logits := make([]float32, 2*e.VocabSize())
		if err := e.Forward(context.Background(), []int{1, 2}, logits); err != nil {
			t.Fatalf("a model FromSet accepted failed to run: %v", err)
		}
	})
}

// TestHeadOnlyForWantedRows checks that ln_out and the head run only for the rows
// whose logits the caller asked for: the head is most of a small model's work.
func TestHeadOnlyForWantedRows(t *testing.T) {
	m := randomModel(t, V6, oddShape, 13)
	tokens := randomTokens(7, oddShape.vocab, 14)
	for _, tc := range []struct {
		name   string
		logits int
		rows   int // rows the head saw; 0 = not called
	}{
		{"none", 0, 0},
		{"last", 77, 1},
		{"all", 7 * 77, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			e := newEngine(t, m, Options{Hook: rec})
			if err := e.Forward(context.Background(), tokens, make([]float32, tc.logits)); err != nil {
				t.Fatal(err)
			}
			if got := rec.seen[Point{-1, "head.out"}]; got != tc.rows*77 {
				t.Errorf("head produced %d values, want %d rows × 77", got, tc.rows)
			}
		})
	}
}

// TestFromSetAcceptsLayouts checks that shapes differing only in size-1 dimensions —
// (C) for (1,1,C) vectors, (H,N,1) for (H,N) — load and compute the same function.
func TestFromSetAcceptsLayouts(t *testing.T) {
	for _, v := range []Version{V5_2, V6, V7} {
		t.Run(string(v), func(t *testing.T) {
			want := randomModel(t, v, oddShape, 15)
			set := randomSet(t, v, oddShape, 15)
			for _, tt := range set.Tensors {
				switch {
				case len(tt.Shape) == 3 && tt.Shape[0] == 1 && tt.Shape[1] == 1:
					tt.Shape = []int{tt.Shape[2]}
				case strings.HasSuffix(tt.Name, "time_decay") && len(tt.Shape) == 2:
					tt.Shape = append(tt.Shape, 1)
				}
			}
			got, err := FromSet(set)
			if err != nil {
				t.Fatal(err)
			}
			if got.Config != want.Config {
				t.Fatalf("config %+v, want %+v", got.Config, want.Config)
			}
			tokens := randomTokens(4, oddShape.vocab, 16)
			a, b := make([]float32, 77), make([]float32, 77)
			if err := newEngine(t, got, Options{}).Forward(context.Background(), tokens, a); err != nil {
				t.Fatal(err)
			}
			if err := newEngine(t, want, Options{}).Forward(context.Background(), tokens, b); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(a, b); d != 0 {
				t.Errorf("logits differ by %g", d)
			}
		})
	}
}

// cancelOnFirst cancels a context the first time the engine reaches any point.
type cancelOnFirst struct{ cancel context.CancelFunc }

func (c cancelOnFirst) Activation(Point, []float32) { c.cancel() }

// TestCancelBetweenChunks checks the documented behaviour of a cancelled Forward: it
// stops at a chunk boundary, and the state holds exactly the completed chunks.
func TestCancelBetweenChunks(t *testing.T) {
	m := randomModel(t, V7, oddShape, 17)
	tokens := randomTokens(chunkTokens+6, oddShape.vocab, 18)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEngine(t, m, Options{Hook: cancelOnFirst{cancel}})
	err := e.Forward(ctx, tokens, make([]float32, oddShape.vocab))
	if want := fmt.Sprintf("after %d of %d", chunkTokens, chunkTokens+6); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want a cancellation %s tokens", err, want)
	}
	ref := newEngine(t, m, Options{})
	if err := ref.Forward(context.Background(), tokens[:chunkTokens], nil); err != nil {
		t.Fatal(err)
	}
	if d := stateDiff(e.State(), ref.State()); d != 0 {
		t.Errorf("state after cancellation differs from the state after the first chunk by %g", d)
	}
}

// TestForwardTail: the logits of the last k positions equal those rows of a Forward
// over every position, whether the tail lies in one chunk or spans two.
func TestForwardTail(t *testing.T) {
	m := randomModel(t, V7, oddShape, 31)
	v := oddShape.vocab
	tokens := randomTokens(chunkTokens+5, v, 32)
	all := make([]float32, len(tokens)*v)
	if err := newEngine(t, m, Options{}).Forward(context.Background(), tokens, all); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 3, 5, 9, len(tokens)} {
		got := make([]float32, k*v)
		if err := newEngine(t, m, Options{Threads: 2}).ForwardTail(context.Background(), tokens, got); err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, all[(len(tokens)-k)*v:]); d != 0 {
			t.Errorf("last %d positions differ from the full run by %g", k, d)
		}
	}
	e := newEngine(t, m, Options{})
	for _, n := range []int{0, v - 1, (len(tokens) + 1) * v} {
		if err := e.ForwardTail(context.Background(), tokens, make([]float32, n)); err == nil {
			t.Errorf("ForwardTail with %d logits for %d tokens: no error", n, len(tokens))
		}
	}
}
