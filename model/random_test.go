package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// shape is the size of a synthetic checkpoint.
type shape struct {
	layers, embd, heads, vocab, ffn int
	mix, decay, alpha, value, gate  int // LoRA ranks
}

// randomSet builds a checkpoint in the official key layout with random weights of
// plausible magnitude, so tests can run any shape without a file. Vectors use the
// (1,1,C) shapes PyTorch checkpoints have.
func randomSet(t testing.TB, v Version, sh shape, seed uint64) *tensor.Set {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	set := tensor.NewSet(fmt.Sprintf("random-%s.pth", v), "synthetic")
	c, h := sh.embd, sh.heads
	n := c / h
	add := func(name string, lo, hi float32, dims ...int) {
		tt := &tensor.Tensor{Name: name, Shape: dims, DType: tensor.F32}
		tt.Data = make([]float32, tt.Len())
		for i := range tt.Data {
			tt.Data[i] = lo + (hi-lo)*rng.Float32()
		}
		if err := set.Add(tt); err != nil {
			t.Fatal(err)
		}
	}
	lin := func(name string, out, in int) {
		s := float32(1.7 / math.Sqrt(float64(in)))
		add(name, -s, s, out, in)
	}
	vec := func(name string, lo, hi float32) { add(name, lo, hi, 1, 1, c) }
	add("emb.weight", -1, 1, sh.vocab, c)
	add("blocks.0.ln0.weight", 0.8, 1.2, c)
	add("blocks.0.ln0.bias", -0.1, 0.1, c)
	for i := range sh.layers {
		p := fmt.Sprintf("blocks.%d.", i)
		add(p+"ln1.weight", 0.8, 1.2, c)
		add(p+"ln1.bias", -0.1, 0.1, c)
		add(p+"ln2.weight", 0.8, 1.2, c)
		add(p+"ln2.bias", -0.1, 0.1, c)
		add(p+"att.ln_x.weight", 0.8, 1.2, c)
		add(p+"att.ln_x.bias", -0.1, 0.1, c)
		for _, k := range []string{"receptance", "key", "value", "output"} {
			lin(p+"att."+k+".weight", c, c)
		}
		lin(p+"ffn.key.weight", sh.ffn, c)
		lin(p+"ffn.value.weight", c, sh.ffn)
		switch v {
		case V5_2:
			lin(p+"att.gate.weight", c, c)
			for _, k := range []string{"k", "v", "r", "g"} {
				vec(p+"att.time_mix_"+k, 0, 1)
			}
			add(p+"att.time_decay", -3, 1, h, n)
			add(p+"att.time_faaaa", -0.5, 0.5, h, n)
			vec(p+"ffn.time_mix_k", 0, 1)
			vec(p+"ffn.time_mix_r", 0, 1)
			lin(p+"ffn.receptance.weight", c, c)
		case V6:
			lin(p+"att.gate.weight", c, c)
			for _, k := range []string{"x", "w", "k", "v", "r", "g"} {
				vec(p+"att.time_maa_"+k, 0, 1)
			}
			add(p+"att.time_maa_w1", -0.1, 0.1, c, 5*sh.mix)
			add(p+"att.time_maa_w2", -0.1, 0.1, 5, sh.mix, c)
			vec(p+"att.time_decay", -3, 1)
			add(p+"att.time_decay_w1", -0.1, 0.1, c, sh.decay)
			add(p+"att.time_decay_w2", -0.1, 0.1, sh.decay, c)
			add(p+"att.time_faaaa", -0.5, 0.5, h, n)
			vec(p+"ffn.time_maa_k", 0, 1)
			vec(p+"ffn.time_maa_r", 0, 1)
			lin(p+"ffn.receptance.weight", c, c)
		case V7:
			for _, k := range []string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"} {
				vec(p+"att."+k, 0, 1)
			}
			vec(p+"att.w0", -2, 1)
			add(p+"att.w1", -0.2, 0.2, c, sh.decay)
			add(p+"att.w2", -0.2, 0.2, sh.decay, c)
			vec(p+"att.a0", -1, 1)
			add(p+"att.a1", -0.2, 0.2, c, sh.alpha)
			add(p+"att.a2", -0.2, 0.2, sh.alpha, c)
			vec(p+"att.v0", -1, 1)
			add(p+"att.v1", -0.2, 0.2, c, sh.value)
			add(p+"att.v2", -0.2, 0.2, sh.value, c)
			add(p+"att.g1", -0.2, 0.2, c, sh.gate)
			add(p+"att.g2", -0.2, 0.2, sh.gate, c)
			vec(p+"att.k_k", 0.5, 1.5)
			vec(p+"att.k_a", 0, 1)
			add(p+"att.r_k", -0.5, 0.5, h, n)
			vec(p+"ffn.x_k", 0, 1)
		}
	}
	add("ln_out.weight", 0.8, 1.2, c)
	add("ln_out.bias", -0.1, 0.1, c)
	lin("head.weight", sh.vocab, c)
	return set
}

// oddShape is deliberately unlike every released model: not a multiple of 64, few
// heads, odd LoRA ranks, an FFN that is neither 3.5·C nor 4·C.
var oddShape = shape{layers: 2, embd: 96, heads: 3, vocab: 77, ffn: 200, mix: 7, decay: 11, alpha: 5, value: 3, gate: 13}

func randomModel(t testing.TB, v Version, sh shape, seed uint64) *Model {
	t.Helper()
	m, err := FromSet(randomSet(t, v, sh, seed))
	if err != nil {
		t.Fatalf("FromSet: %v", err)
	}
	return m
}
