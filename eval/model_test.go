package eval

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// tokenByToken runs a session one token per Forward call, the way a device that
// has no sequence-mode graph would. Its results must equal sequence mode's.
type tokenByToken struct{ model.Session }

func (s tokenByToken) Forward(ctx context.Context, tokens []int, logits []float32) error {
	v := s.VocabSize()
	all := len(logits) == len(tokens)*v && len(tokens) > 1
	for i, t := range tokens {
		var out []float32
		switch {
		case all:
			out = logits[i*v : (i+1)*v]
		case i == len(tokens)-1:
			out = logits
		}
		if err := s.Session.Forward(ctx, []int{t}, out); err != nil {
			return err
		}
	}
	return nil
}

// tinyV7 loads rwkv.cpp's tiny trained v7 model (byte vocabulary).
func tinyV7(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.Load(fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func engine(t testing.TB, m *model.Model, hook model.ActivationHook) *model.Engine {
	t.Helper()
	e, err := model.NewEngine(m, model.Options{Threads: 1, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// shortPassages are LAMBADA-style passages written for this test, so that the
// check runs without the shared data.
var shortPassages = []string{
	"The cat sat on the mat. Then the cat slept on the mat",
	"She opened the door and saw that it was raining, so she took her umbrella",
	"In the beginning there was nothing but the sea, and the sea was dark and the sea was deep",
	"\"Where are you going?\" he asked. \"To the station,\" she said. \"The train leaves at nine.\" He walked with her to the station",
	"One, two, three, four, five, six, seven, eight, nine, ten",
	"The king had three sons. The eldest son was brave, the second son was clever, and the youngest son was kind",
	// Targets the tiny model does get right, so that the accuracy compared
	// between the modes is not trivially zero.
	"He walked to the end of the road and looked at the",
	"They sat in the garden and talked about the",
}

func equalRel(a, b, rel float64) bool { return near(a, b, rel) || a == b }

// checkModes evaluates docs in sequence mode and token by token and requires the
// same ppl and acc.
func checkModes(t *testing.T, m *model.Model, ds []datasets.Doc, prefix int) *Result {
	t.Helper()
	seq, err := Lambada(context.Background(), engine(t, m, nil), tokenizer.Bytes{}, ds, Options{PrefixToken: prefix})
	if err != nil {
		t.Fatal(err)
	}
	step, err := Lambada(context.Background(), tokenByToken{engine(t, m, nil)}, tokenizer.Bytes{}, ds, Options{PrefixToken: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// The engine reads context and target in one call (ForwardTail); a session
	// without that method reads the target token by token. Same bits either way.
	plain, err := Lambada(context.Background(), struct{ model.Session }{engine(t, m, nil)}, tokenizer.Bytes{}, ds, Options{PrefixToken: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if plain.PPL != seq.PPL || plain.Acc != seq.Acc {
		t.Errorf("context and target in one call: ppl %v acc %v; target token by token: ppl %v acc %v", seq.PPL, seq.Acc, plain.PPL, plain.Acc)
	}
	t.Logf("prefix %d, %d docs: sequence ppl %.6f acc %.4f; token by token ppl %.6f acc %.4f",
		prefix, seq.Docs, seq.PPL, seq.Acc, step.PPL, step.Acc)
	if !equalRel(seq.PPL, step.PPL, 1e-4) || !equalRel(seq.Acc, step.Acc, 1e-4) || seq.Docs != len(ds) || step.Docs != len(ds) {
		t.Errorf("sequence mode ppl %v acc %v, token by token ppl %v acc %v", seq.PPL, seq.Acc, step.PPL, step.Acc)
	}
	return seq
}

// TestTinyV7SequenceVsTokens uses prefix 0 (for a byte model, the NUL byte; the
// protocol default) and no prefix.
func TestTinyV7SequenceVsTokens(t *testing.T) {
	m := tinyV7(t)
	var ds []datasets.Doc
	for i, p := range shortPassages {
		ds = append(ds, datasets.Doc{Index: i, Text: p})
	}
	for _, prefix := range []int{0, NoPrefix} {
		res := checkModes(t, m, ds, prefix)
		// A trained model, even a tiny one, does far better than chance (256 per
		// target byte for a uniform guess); a broken engine does not. ppl is per
		// document, so convert it to per byte first.
		if res.Acc == 0 {
			t.Errorf("prefix %d: no passage right; the accuracy comparison would be vacuous", prefix)
		}
		perByte := math.Exp(math.Log(res.PPL) * float64(res.Docs) / float64(res.TargetTokens))
		t.Logf("prefix %d: perplexity per target byte %.2f", prefix, perByte)
		if perByte >= 64 {
			t.Errorf("prefix %d: perplexity per target byte %v is hardly better than chance", prefix, perByte)
		}
	}
}

// TestTinyV7LambadaSequenceVsTokens runs the first 30 LAMBADA passages (10 with
// -short): about 10,000 bytes in each mode.
func TestTinyV7LambadaSequenceVsTokens(t *testing.T) {
	limit := 30
	if testing.Short() {
		limit = 10
	}
	ds, err := datasets.Open(context.Background(), datasets.Options{Path: fixtures.Shared(t, "lambada/lambada_test.jsonl"), Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	checkModes(t, tinyV7(t), ds.Docs, 0)
}

func TestTinyV7KLD(t *testing.T) {
	m := tinyV7(t)
	var ds []datasets.Doc
	for i, p := range shortPassages {
		ds = append(ds, datasets.Doc{Index: i, Text: p})
	}
	var ref bytes.Buffer
	fp32, err := Lambada(context.Background(), engine(t, m, nil), tokenizer.Bytes{}, ds, Options{SaveReference: &ref})
	if err != nil {
		t.Fatal(err)
	}

	self, err := Lambada(context.Background(), engine(t, m, nil), tokenizer.Bytes{}, ds, Options{
		Reference: bytes.NewReader(ref.Bytes()), ReferenceName: "fp32",
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := self.KLD; k.Mean != 0 || k.Max != 0 || k.Top1Agreement != 1 || k.DeltaPPL != 0 {
		t.Errorf("fp32 against itself: %+v, want zero divergence and full agreement", k)
	}

	// fp16: weights and activations rounded to IEEE half (simulated on the CPU by
	// package precision).
	m16, hook, _, err := precision.Prepare(context.Background(), m, precision.FP16, nil)
	if err != nil {
		t.Fatal(err)
	}
	fp16, err := Lambada(context.Background(), engine(t, m16, hook), tokenizer.Bytes{}, ds, Options{
		Reference: bytes.NewReader(ref.Bytes()), ReferenceName: "fp32",
	})
	if err != nil {
		t.Fatal(err)
	}
	k := fp16.KLD
	t.Logf("fp16 (simulated) vs fp32: ppl %.6f vs %.6f, KLD mean %.3g median %.3g p99 %.3g max %.3g, top-1 agreement %.4f over %d positions",
		fp16.PPL, fp32.PPL, k.Mean, k.Median, k.P99, k.Max, k.Top1Agreement, k.Positions)
	if !(k.Mean > 0 && k.Mean < 1e-3 && k.Max < 1e-2) {
		t.Errorf("fp16 KLD mean %v max %v: want small and positive", k.Mean, k.Max)
	}
	if k.Top1Agreement < 0.9 {
		t.Errorf("fp16 top-1 agreement %v, want nearly all", k.Top1Agreement)
	}
	if !near(k.ReferencePPL, fp32.PPL, 1e-12) || k.DeltaPPL == 0 {
		t.Errorf("reference ppl %v (fp32 run %v), Δppl %v", k.ReferencePPL, fp32.PPL, k.DeltaPPL)
	}
}
