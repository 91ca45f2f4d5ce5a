package model

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestWeightStorage runs every version with f16 and int8 weights against the float32
// reference. The narrow storage must change the logits (or it is not in use) and
// stay close: fp16 rounds weights by at most 2^-11 relative, int8 by half a step of
// max|row|/127. Sequence mode must still match token mode, as for float32.
func TestWeightStorage(t *testing.T) {
	for _, v := range []Version{V5_2, V6, V7} {
		m := randomModel(t, v, goldenShape, 31)
		tokens := randomTokens(9, goldenShape.vocab, 32)
		ref := stepwise(t, newEngine(t, m, Options{}), tokens)
		var rms float64
		for _, l := range ref {
			rms += float64(l) * float64(l)
		}
		rms = math.Sqrt(rms / float64(len(ref)))
		for _, tc := range []struct {
			storage string
			rel     float64 // allowed max |Δlogit| relative to the logits' rms
		}{{"f16", 0.01}, {"int8", 0.1}} {
			t.Run(string(v)+"/"+tc.storage, func(t *testing.T) {
				e := newEngine(t, m, Options{WeightStorage: tc.storage})
				got := stepwise(t, e, tokens)
				d := maxAbsDiff(got, ref)
				t.Logf("max |Δlogit| %.3g, logit rms %.3g", d, rms)
				if d == 0 {
					t.Errorf("%s logits equal the float32 ones: the storage is not in use", tc.storage)
				}
				if d > tc.rel*rms {
					t.Errorf("%s: max |Δlogit| %.3g > %.2g × rms %.3g", tc.storage, d, tc.rel, rms)
				}
				seq := newEngine(t, m, Options{WeightStorage: tc.storage, Threads: 2})
				all := make([]float32, len(got))
				if err := seq.Forward(context.Background(), tokens, all); err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(all, got); d > 1e-5 {
					t.Errorf("%s: sequence vs token mode max |Δ| = %.3g", tc.storage, d)
				}
			})
		}
	}
}

func TestWeightStorageRejected(t *testing.T) {
	m := randomModel(t, V7, oddShape, 1)
	_, err := NewEngine(m, Options{WeightStorage: "int4"})
	if err == nil || !strings.Contains(err.Error(), "int4") {
		t.Fatalf("error %v should name the bad storage", err)
	}
}

// TestSyntheticPath checks that Load accepts "synthetic:<name>" and names unknown
// models in its error. The real shapes are tested in package synthetic.
func TestSyntheticPath(t *testing.T) {
	_, err := Load("synthetic:v9-7b")
	if err == nil || !strings.Contains(err.Error(), "synthetic:v9-7b") || !strings.Contains(err.Error(), "v7-0.1b") {
		t.Fatalf("error %v should name the path and the known models", err)
	}
}

// TestDecodeAllocatesNothing: a token step must not allocate (no closures per
// product, no scratch growth), in every storage and with a worker thread.
func TestDecodeAllocatesNothing(t *testing.T) {
	for _, v := range []Version{V5_2, V6, V7} {
		m := randomModel(t, v, goldenShape, 3)
		for _, storage := range []string{"f32", "f16", "int8"} {
			e := newEngine(t, m, Options{Threads: 2, WeightStorage: storage})
			logits := make([]float32, e.VocabSize())
			step := func() {
				if err := e.Forward(context.Background(), []int{7}, logits); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if a := testing.AllocsPerRun(10, step); a != 0 {
				t.Errorf("%s %s: %.1f allocations per token, want 0", v, storage, a)
			}
		}
	}
}
