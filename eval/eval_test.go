package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// fakeSession is a byte-vocabulary "model" whose logits depend only on the last
// token fed: the successor of that token (from succ) gets logit strength, every
// other token 0. Its log-probabilities can therefore be written down by hand.
type fakeSession struct {
	succ     map[int]int
	strength float32
	last     int // -1 after Reset
	resets   int
	fed      int // tokens since the last reset
	failAt   int // fail the Forward call that would feed this many tokens; 0 never
	cancel   func()
}

func newFake(strength float32) *fakeSession {
	return &fakeSession{
		succ:     map[int]int{'x': ' ', ' ': 'y', 'y': 'z', 'a': 'b'},
		strength: strength, last: -1,
	}
}

func (f *fakeSession) VocabSize() int { return 256 }
func (f *fakeSession) Reset()         { f.last, f.fed = -1, 0; f.resets++ }
func (f *fakeSession) Close() error   { return nil }

func (f *fakeSession) Forward(ctx context.Context, tokens []int, logits []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.cancel != nil && f.resets == 3 {
		f.cancel() // cancel while the third document runs
		return context.Canceled
	}
	switch len(logits) {
	case 0, f.VocabSize():
	default:
		return fmt.Errorf("fake: logits length %d", len(logits))
	}
	f.fed += len(tokens)
	f.last = tokens[len(tokens)-1]
	if len(logits) > 0 {
		clear(logits)
		if s, ok := f.succ[f.last]; ok {
			logits[s] = f.strength
		}
	}
	return nil
}

func docs(texts ...string) []datasets.Doc {
	var d []datasets.Doc
	for i, t := range texts {
		d = append(d, datasets.Doc{Index: i, Text: t})
	}
	return d
}

// TestLambadaHandComputed checks ppl, acc and their stderr against values worked
// out by hand from the fake's logits.
func TestLambadaHandComputed(t *testing.T) {
	// Every position has one token at logit 2 and 255 at 0.
	lse := math.Log(math.Exp(2) + 255)
	hit, miss := 2-lse, -lse
	for _, tc := range []struct {
		name    string
		texts   []string
		prefix  int
		wantLP  []float64 // per document
		correct int
	}{
		// "x yz": after x comes ' ' (hit), after ' ' 'y' (hit), after y 'z' (hit).
		// "x yq": the last target token q is a miss. "a b": context "a", target " b":
		// after a the fake predicts b, not ' ' (miss), then 'b' after ' ' (miss).
		{"no prefix", []string{"x yz", "x yq", "a b"}, NoPrefix,
			[]float64{3 * hit, 2*hit + miss, 2 * miss}, 1},
		// The prefix (NUL, id 0) has no successor, but it is not the last context
		// token, so nothing changes except one more context token.
		{"prefix 0", []string{"x yz", "x yq"}, 0, []float64{3 * hit, 2*hit + miss}, 1},
		// With an empty context, only the prefix predicts the first target token:
		// the fake's logits after token 0 are all zero, so p = 1/256.
		{"empty context", []string{" yz"}, 0, []float64{-math.Log(256) + 2*hit}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(2)
			var log bytes.Buffer
			res, err := Lambada(context.Background(), f, tokenizer.Bytes{}, docs(tc.texts...), Options{PrefixToken: tc.prefix, Samples: &log})
			if err != nil {
				t.Fatal(err)
			}
			n := float64(len(tc.wantLP))
			var sum float64
			for _, l := range tc.wantLP {
				sum += l
			}
			wantPPL := math.Exp(-sum / n)
			p := float64(tc.correct) / n
			wantAccStderr := 0.0
			if n > 1 {
				wantAccStderr = math.Sqrt(p * (1 - p) / (n - 1))
			}
			if !near(res.PPL, wantPPL, 1e-12) || res.Acc != p || !near(res.AccStderr, wantAccStderr, 1e-12) || res.Docs != len(tc.texts) {
				t.Errorf("got ppl %v acc %v ±%v docs %d; want ppl %v acc %v ±%v docs %d",
					res.PPL, res.Acc, res.AccStderr, res.Docs, wantPPL, p, wantAccStderr, len(tc.texts))
			}
			if f.resets != len(tc.texts) {
				t.Errorf("%d resets for %d documents", f.resets, len(tc.texts))
			}
			if res.PrefixToken != tc.prefix || res.Tokenizer != "bytes" || res.Task != "lambada" {
				t.Errorf("result labels %+v", res)
			}
			// The sample log has one line per document with the same numbers.
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			if len(lines) != len(tc.texts) {
				t.Fatalf("%d sample lines for %d documents", len(lines), len(tc.texts))
			}
			for i, line := range lines {
				var s Sample
				if err := json.Unmarshal([]byte(line), &s); err != nil {
					t.Fatal(err)
				}
				if s.Doc != i || !near(s.Logprob, tc.wantLP[i], 1e-12) || s.TargetTokens != len(s.TargetIDs) || len(s.GreedyIDs) != s.TargetTokens {
					t.Errorf("sample %d: %+v", i, s)
				}
			}
		})
	}
}

func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

func TestLambadaErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		texts   []string
		opts    Options
		wantErr string
	}{
		{"no space", []string{"x yz", "nospace"}, Options{}, "doc 1: passage has no space"},
		{"empty context no prefix", []string{" yz"}, Options{PrefixToken: NoPrefix}, "doc 0: empty context"},
		{"prefix out of range", []string{"x yz"}, Options{PrefixToken: 256}, "prefix token 256"},
		{"bad top-k", []string{"x yz"}, Options{TopK: -3}, "top-K"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Lambada(context.Background(), newFake(2), tokenizer.Bytes{}, docs(tc.texts...), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			if res != nil && res.Docs != 1 && tc.name == "no space" {
				t.Errorf("partial result has %d docs, want 1", res.Docs)
			}
		})
	}
	// A tokenizer with more ids than the model has logits.
	w, err := tokenizer.World()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lambada(context.Background(), newFake(2), w, docs("x yz"), Options{}); err == nil || !strings.Contains(err.Error(), "65536 ids but the model only 256") {
		t.Errorf("World tokenizer on a 256-logit model: %v", err)
	}
}

// nanSession returns NaN logits, as a broken engine might.
type nanSession struct{ fakeSession }

func (n *nanSession) Forward(ctx context.Context, tokens []int, logits []float32) error {
	for i := range logits {
		logits[i] = float32(math.NaN())
	}
	return nil
}

func TestLambadaNonFiniteLogits(t *testing.T) {
	_, err := Lambada(context.Background(), &nanSession{*newFake(2)}, tokenizer.Bytes{}, docs("x yz"), Options{})
	if err == nil || !strings.Contains(err.Error(), "doc 0: target token 0: logit 0 is NaN") {
		t.Fatalf("error = %v", err)
	}
}

func TestLambadaCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(2)
	f.cancel = cancel
	var progress []Progress
	res, err := Lambada(ctx, f, tokenizer.Bytes{}, docs("x yz", "x yq", "x yz", "x yz"), Options{
		Progress: func(p Progress) { progress = append(progress, p) },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if res == nil || res.Docs != 2 || res.Acc != 0.5 {
		t.Fatalf("partial result %+v, want 2 docs at acc 0.5", res)
	}
	if len(progress) != 2 || progress[1].Done != 2 || progress[1].Total != 4 || progress[1].Acc != 0.5 {
		t.Errorf("progress %+v", progress)
	}
}

func TestBootstrapPPLStderr(t *testing.T) {
	// Identical documents: every resample has the same perplexity.
	if got := bootstrapPPLStderr([]float64{-1, -1, -1, -1}, 200, 1); got != 0 {
		t.Errorf("constant documents: stderr %v, want 0", got)
	}
	// Two documents with log-likelihoods 0 and -2: a resample is {0,0}, {0,-2} or
	// {-2,-2} with probabilities 1/4, 1/2, 1/4, so the ppl is 1, e, e² and its
	// standard deviation is known in closed form.
	e := math.E
	mean := 0.25 + 0.5*e + 0.25*e*e
	sd := math.Sqrt(0.25*(1-mean)*(1-mean) + 0.5*(e-mean)*(e-mean) + 0.25*(e*e-mean)*(e*e-mean))
	got := bootstrapPPLStderr([]float64{0, -2}, 20000, BootstrapSeed)
	if math.Abs(got-sd) > 0.03*sd {
		t.Errorf("bootstrap stderr %v, want about %v", got, sd)
	}
	// Fixed seed: the same input gives the same answer.
	if a, b := bootstrapPPLStderr([]float64{0, -2, -1}, 100, 7), bootstrapPPLStderr([]float64{0, -2, -1}, 100, 7); a != b {
		t.Errorf("not reproducible: %v vs %v", a, b)
	}
}

func TestQuantileAndTopK(t *testing.T) {
	s := []float64{0, 1, 2, 3, 4}
	for _, tc := range []struct{ q, want float64 }{{0.5, 2}, {0.99, 3.96}, {0, 0}, {1, 4}, {0.25, 1}} {
		if got := quantile(s, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	lp := []float64{-3, -1, -2, -1, -5, -0.5}
	top := topK(lp, 3, nil)
	want := []tokenLogprob{{5, -0.5}, {1, -1}, {3, -1}}
	if fmt.Sprint(top) != fmt.Sprint(want) {
		t.Errorf("topK = %v, want %v", top, want)
	}
}
