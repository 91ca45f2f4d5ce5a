package synthetic_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// TestParams checks the shapes against the parameter counts of the released models
// (rwkv-math.md §13.1: total parameters including embedding and head).
func TestParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"v7-0.1b", 191e6},
		{"v7-0.4b", 451e6},
		{"v7-1.5b", 1.53e9},
		{"v7-3b", 2.95e9},
		{"v6-1.6b", 1.60e9},
	} {
		s, err := synthetic.Lookup(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got := float64(s.Params())
		if math.Abs(got-tc.want)/tc.want > 0.01 {
			t.Errorf("%s: %.4g parameters, want %.4g ± 1%%", tc.name, got, tc.want)
		}
	}
}

func TestV7LoRARanks(t *testing.T) {
	s, err := synthetic.Lookup("v7-0.1b")
	if err != nil {
		t.Fatal(err)
	}
	// The documented ranks of the released 0.1B model (rwkv-math.md §2).
	if s.DecayLoRA != 64 || s.AlphaLoRA != 64 || s.ValueLoRA != 32 || s.GateLoRA != 128 {
		t.Errorf("v7-0.1b LoRA ranks w=%d a=%d v=%d g=%d, want 64 64 32 128", s.DecayLoRA, s.AlphaLoRA, s.ValueLoRA, s.GateLoRA)
	}
	if s.Layers != 12 || s.Embd != 768 || s.FFN != 3072 || s.Vocab != 65536 || s.HeadSize != 64 {
		t.Errorf("v7-0.1b shape %+v", s)
	}
}

func TestUnknownName(t *testing.T) {
	_, err := synthetic.New("v9-1b")
	if err == nil || !strings.Contains(err.Error(), "v9-1b") || !strings.Contains(err.Error(), "v7-0.1b") {
		t.Fatalf("error %v should name the bad model and the known ones", err)
	}
}

func TestBadShape(t *testing.T) {
	for _, s := range []synthetic.Shape{
		{Version: "4", Layers: 1, Embd: 64, HeadSize: 64, FFN: 64, Vocab: 8},
		{Version: "7", Layers: 1, Embd: 100, HeadSize: 64, FFN: 64, Vocab: 8, DecayLoRA: 1, AlphaLoRA: 1, ValueLoRA: 1, GateLoRA: 1},
		{Version: "6", Layers: 1, Embd: 64, HeadSize: 64, FFN: 64, Vocab: 8},
		{Version: "5.2", Layers: 0, Embd: 64, HeadSize: 64, FFN: 64, Vocab: 8},
	} {
		if _, err := synthetic.Build("bad", s, 1); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

func small(version string) synthetic.Shape {
	return synthetic.Shape{Version: version, Layers: 2, Embd: 128, HeadSize: 64, FFN: 256, Vocab: 300,
		MixLoRA: 8, DecayLoRA: 16, AlphaLoRA: 16, ValueLoRA: 8, GateLoRA: 16}
}

func TestDeterministic(t *testing.T) {
	a, err := synthetic.Build("a", small("7"), 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := synthetic.Build("b", small("7"), 5)
	c, _ := synthetic.Build("c", small("7"), 6)
	same, differ := true, false
	for name, ta := range a.Tensors {
		tb, tc := b.Tensors[name], c.Tensors[name]
		for i := range ta.Data {
			same = same && ta.Data[i] == tb.Data[i]
			differ = differ || ta.Data[i] != tc.Data[i]
		}
	}
	if !same {
		t.Error("the same seed gave different weights")
	}
	if !differ {
		t.Error("different seeds gave the same weights")
	}
}

// TestScale checks that projections have the documented deviation 1/sqrt(fan-in).
func TestScale(t *testing.T) {
	set, err := synthetic.Build("s", small("7"), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   int
	}{{"blocks.0.att.key.weight", 128}, {"blocks.1.ffn.value.weight", 256}, {"head.weight", 128}} {
		std := deviation(set.Tensors[tc.name])
		want := 1 / math.Sqrt(float64(tc.in))
		if math.Abs(std-want)/want > 0.05 {
			t.Errorf("%s: deviation %.4f, want %.4f", tc.name, std, want)
		}
	}
}

func deviation(t *tensor.Tensor) float64 {
	var sum, sq float64
	for _, v := range t.Data {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(t.Data))
	return math.Sqrt(sq/n - (sum/n)*(sum/n))
}

// TestRuns loads every version through the engine and checks that the logits after
// a few tokens are finite and of a trained model's order of magnitude.
func TestRuns(t *testing.T) {
	for _, v := range []string{"5.2", "6", "7"} {
		t.Run(v, func(t *testing.T) {
			set, err := synthetic.Build("synthetic:small-"+v, small(v), 1)
			if err != nil {
				t.Fatal(err)
			}
			m, err := model.FromSet(set)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Config.Version) != v || m.Config.Layers != 2 || m.Config.Embd != 128 {
				t.Fatalf("loaded as %+v", m.Config)
			}
			e, err := model.NewEngine(m, model.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			logits := make([]float32, e.VocabSize())
			if err := e.Forward(context.Background(), []int{1, 2, 3, 299, 0}, logits); err != nil {
				t.Fatal(err)
			}
			var sq float64
			for i, l := range logits {
				if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
					t.Fatalf("logit %d is %v", i, l)
				}
				sq += float64(l) * float64(l)
			}
			if rms := math.Sqrt(sq / float64(len(logits))); rms < 0.1 || rms > 30 {
				t.Errorf("logit rms %.3g: activations are not in a sane range", rms)
			}
		})
	}
}

// TestNewV7 builds the real 0.1B shape once (about 0.8 GB, a second or so).
func TestNewV7(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 0.8 GB of weights")
	}
	set, err := synthetic.New("v7-0.1b")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := synthetic.Lookup("v7-0.1b")
	// The engine does not count block 0's value-residual LoRA (v0, v1, v2), which
	// checkpoints carry but no version uses.
	used := s.Params() - int64(s.Embd+2*s.Embd*s.ValueLoRA)
	if m.Config.Params != used || m.Config.Vocab != 65536 || m.Config.GateLoRA != 128 {
		t.Errorf("loaded %+v, want %d parameters in use", m.Config, used)
	}
	if set.Path != "synthetic:v7-0.1b" {
		t.Errorf("path %q", set.Path)
	}
}

func TestDigest(t *testing.T) {
	a, err := synthetic.Digest("v7-0.1b")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := synthetic.Digest("v7-0.1b")
	c, _ := synthetic.Digest("v7-0.4b")
	if len(a) != 64 || a != b || a == c {
		t.Errorf("digests %s, %s (same name), %s (other name)", a, b, c)
	}
	if _, err := synthetic.Digest("v9-9b"); err == nil {
		t.Error("Digest of an unknown name: no error")
	}
}
