// Package synthetic builds RWKV checkpoints of the released models' exact shapes with
// fixed-seed random weights, so that speed can be measured without downloading
// anything ("synthetic:v7-0.1b").
//
// Opinions:
//   - The shapes are real, the values are not. Every tensor has the official key
//     name and PyTorch shape of the released model of that size, so a synthetic
//     model costs exactly what the real one costs to run: same bytes per token, same
//     FLOPs. Its outputs mean nothing, and anything reporting on one must say that
//     the weights are synthetic.
//   - Values are scaled so activations stay in the range of a trained model:
//     projections are uniform with standard deviation 1/sqrt(fan-in), so W·x keeps
//     the scale of a LayerNorm output; norms have gains near 1; mixing factors lie in
//     [0, 1]; decays stay in (0, 1).
//   - Deterministic and cheap: each tensor comes from its own splitmix64 stream seeded
//     by its name, written straight into float32 slices, tensors in parallel. The
//     same name and seed give bit-identical weights on every machine.
package synthetic

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Shape is the size of one model. Version is "5.2", "6" or "7", as package model
// names versions.
type Shape struct {
	Version  string
	Layers   int // L
	Embd     int // C
	HeadSize int // N; the head count is C/N
	FFN      int // F, the channel-mix hidden size
	Vocab    int // V

	MixLoRA   int // v6 time_maa_w1 rank per mix (Dm)
	DecayLoRA int // v6 time_decay_w1 rank (Dd), v7 w1 rank (Dw)
	AlphaLoRA int // v7 a1 rank (Da)
	ValueLoRA int // v7 v1 rank (Dv)
	GateLoRA  int // v7 g1 rank (Dg)
}

// worldVocab is the RWKV World tokenizer's vocabulary, shared by every released size.
const worldVocab = 65536

// v7Shape derives a v7 model's sizes from L and C. FFN is 4·C. The LoRA ranks follow
// the suggestion formula of the RWKV-7 training code (round(k·C^p / 32)·32, at least
// 32, with k·C^p = 1.8·√C for decay and in-context rate, 1.3·√C for value, 0.6·C^0.8
// for gate). It gives the documented ranks of the 0.1B model (64, 64, 32, 128);
// released checkpoints of other sizes may differ, which changes little of the cost.
func v7Shape(layers, embd int) Shape {
	rank := func(x float64) int { return max(32, int(math.Round(x/32))*32) }
	c := float64(embd)
	return Shape{
		Version: "7", Layers: layers, Embd: embd, HeadSize: 64, FFN: 4 * embd, Vocab: worldVocab,
		DecayLoRA: rank(1.8 * math.Sqrt(c)),
		AlphaLoRA: rank(1.8 * math.Sqrt(c)),
		ValueLoRA: rank(1.3 * math.Sqrt(c)),
		GateLoRA:  rank(0.6 * math.Pow(c, 0.8)),
	}
}

// v56FFN is the v5.2/v6 channel-mix size, int(3.5·C) rounded down to a multiple of 32.
func v56FFN(embd int) int { return embd * 7 / 2 / 32 * 32 }

// v5Shape and v6Shape derive v5.2 and v6 sizes from L and C. v6 uses the LoRA ranks of
// the RWKV-LM x060 code: 32 per token-shift mix, 64 for the decay.
func v5Shape(layers, embd int) Shape {
	return Shape{Version: "5.2", Layers: layers, Embd: embd, HeadSize: 64, FFN: v56FFN(embd), Vocab: worldVocab}
}

func v6Shape(layers, embd int) Shape {
	s := v5Shape(layers, embd)
	s.Version, s.MixLoRA, s.DecayLoRA = "6", 32, 64
	return s
}

// shapes are the released World model sizes (L, C from the RWKV-LM README and the
// released checkpoints).
var shapes = map[string]Shape{
	"v7-0.1b": v7Shape(12, 768),
	"v7-0.4b": v7Shape(24, 1024),
	"v7-1.5b": v7Shape(24, 2048),
	"v7-3b":   v7Shape(32, 2560),
	"v6-1.6b": v6Shape(24, 2048),
	"v6-3b":   v6Shape(32, 2560),
	"v6-7b":   v6Shape(32, 4096),
	"v5-0.4b": v5Shape(24, 1024),
	"v5-1.5b": v5Shape(24, 2048),
	"v5-3b":   v5Shape(32, 2560),
	"v5-7b":   v5Shape(32, 4096),
}

// Names returns the model names New accepts, sorted.
func Names() []string {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the shape of a named model.
func Lookup(name string) (Shape, error) {
	s, ok := shapes[name]
	if !ok {
		return Shape{}, fmt.Errorf("synthetic model %q: unknown; known: %s", name, strings.Join(Names(), ", "))
	}
	return s, nil
}

// PathPrefix marks a model path as synthetic: model.Load("synthetic:v7-0.1b").
const PathPrefix = "synthetic:"

// DefaultSeed is the seed New uses.
const DefaultSeed = 1

// New builds the named model (see Names) with DefaultSeed. The set's Path is
// "synthetic:<name>" and its Format "synthetic". v7-0.1b takes about 0.8 GB.
func New(name string) (*tensor.Set, error) {
	s, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return Build(PathPrefix+name, s, DefaultSeed)
}

// generatorVersion names the way Build fills tensors; Digest includes it, so it must
// change whenever the values Build produces for a name and seed do.
const generatorVersion = 1

// Digest identifies the weights New builds for name, as a file's SHA-256 identifies
// a checkpoint: results stores key models by it. It is the hex SHA-256 of the name,
// the shape, the seed and the generator version, so it is stable across machines
// and costs nothing to compute.
func Digest(name string) (string, error) {
	s, err := Lookup(name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "rwkvbench synthetic model\ngenerator %d\nname %s\nseed %d\nshape %+v\n",
		generatorVersion, name, DefaultSeed, s))
	return hex.EncodeToString(sum[:]), nil
}

// Params returns the number of parameters a model of this shape has (every tensor
// Build makes).
func (s Shape) Params() int64 {
	var n int64
	for _, spec := range s.specs() {
		n += int64(spec.len())
	}
	return n
}

// Build makes a checkpoint of any shape (for tests of shapes nobody released).
func Build(path string, s Shape, seed uint64) (*tensor.Set, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("synthetic %s: %w", path, err)
	}
	set := tensor.NewSet(path, "synthetic")
	specs := s.specs()
	tensors := make([]*tensor.Tensor, len(specs))
	for i, spec := range specs {
		tensors[i] = &tensor.Tensor{Name: spec.name, Shape: spec.shape, DType: tensor.F32, Data: make([]float32, spec.len())}
	}
	// Big tensors first so the workers finish together.
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return specs[b].len() - specs[a].len() })
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				specs[i].fill(tensors[i].Data, seed)
			}
		})
	}
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, t := range tensors {
		if err := set.Add(t); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func (s Shape) check() error {
	switch {
	case s.Version != "5.2" && s.Version != "6" && s.Version != "7":
		return fmt.Errorf("version %q: want 5.2, 6 or 7", s.Version)
	case s.Layers < 1 || s.Embd < 1 || s.Vocab < 1 || s.FFN < 1:
		return fmt.Errorf("layers %d, embd %d, vocab %d, ffn %d: all must be positive", s.Layers, s.Embd, s.Vocab, s.FFN)
	case s.HeadSize < 1 || s.Embd%s.HeadSize != 0:
		return fmt.Errorf("head size %d does not divide embd %d", s.HeadSize, s.Embd)
	case s.Version == "6" && (s.MixLoRA < 1 || s.DecayLoRA < 1):
		return fmt.Errorf("v6 LoRA ranks mix %d, decay %d: must be positive", s.MixLoRA, s.DecayLoRA)
	case s.Version == "7" && (s.DecayLoRA < 1 || s.AlphaLoRA < 1 || s.ValueLoRA < 1 || s.GateLoRA < 1):
		return fmt.Errorf("v7 LoRA ranks decay %d, alpha %d, value %d, gate %d: must be positive",
			s.DecayLoRA, s.AlphaLoRA, s.ValueLoRA, s.GateLoRA)
	}
	return nil
}

// spec is one tensor to make: uniform values in [lo, hi).
type spec struct {
	name   string
	shape  []int
	lo, hi float32
}

func (s spec) len() int {
	n := 1
	for _, d := range s.shape {
		n *= d
	}
	return n
}

// fill writes the tensor's values from a splitmix64 stream seeded by the name.
func (s spec) fill(dst []float32, seed uint64) {
	h := fnv.New64a()
	h.Write([]byte(s.name))
	state := h.Sum64() ^ seed*0x9e3779b97f4a7c15
	width := s.hi - s.lo
	for i := range dst {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		dst[i] = s.lo + width*float32(z>>40)*(1.0/(1<<24))
	}
}

// specs lists every tensor of the shape in the official key layout (rwkv-math.md §2).
func (s Shape) specs() []spec {
	c, n, f := s.Embd, s.HeadSize, s.FFN
	h := c / n
	var out []spec
	add := func(name string, lo, hi float32, shape ...int) {
		out = append(out, spec{name: name, shape: shape, lo: lo, hi: hi})
	}
	// linear is a projection applied to an input of width in: uniform with standard
	// deviation gain/sqrt(in) (a uniform [-a, a] has deviation a/sqrt(3)).
	linear := func(name string, gain float64, in int, shape ...int) {
		a := float32(gain * math.Sqrt(3/float64(in)))
		add(name, -a, a, shape...)
	}
	vec := func(name string, lo, hi float32) { add(name, lo, hi, 1, 1, c) }
	norm := func(prefix string) {
		add(prefix+".weight", 0.9, 1.1, c)
		add(prefix+".bias", -0.05, 0.05, c)
	}
	add("emb.weight", -1, 1, s.Vocab, c)
	norm("blocks.0.ln0")
	for i := range s.Layers {
		p := fmt.Sprintf("blocks.%d.", i)
		norm(p + "ln1")
		norm(p + "ln2")
		norm(p + "att.ln_x")
		for _, k := range []string{"receptance", "key", "value", "output"} {
			linear(p+"att."+k+".weight", 1, c, c, c)
		}
		linear(p+"ffn.key.weight", 1, c, f, c)
		linear(p+"ffn.value.weight", 1, f, c, f)
		switch s.Version {
		case "5.2":
			linear(p+"att.gate.weight", 1, c, c, c)
			for _, k := range []string{"k", "v", "r", "g"} {
				vec(p+"att.time_mix_"+k, 0, 1)
			}
			add(p+"att.time_decay", -3, 1, h, n)
			add(p+"att.time_faaaa", -0.5, 0.5, h, n)
			vec(p+"ffn.time_mix_k", 0, 1)
			vec(p+"ffn.time_mix_r", 0, 1)
			linear(p+"ffn.receptance.weight", 1, c, c, c)
		case "6":
			dm, dd := s.MixLoRA, s.DecayLoRA
			linear(p+"att.gate.weight", 1, c, c, c)
			for _, k := range []string{"x", "w", "k", "v", "r", "g"} {
				vec(p+"att.time_maa_"+k, 0, 1)
			}
			// LoRA factors are stored (in, out). The second factor's output is added
			// to mixing factors in [0, 1], so it is kept small.
			linear(p+"att.time_maa_w1", 1, c, c, 5*dm)
			linear(p+"att.time_maa_w2", 0.1, dm, 5, dm, c)
			vec(p+"att.time_decay", -3, 1)
			linear(p+"att.time_decay_w1", 1, c, c, dd)
			linear(p+"att.time_decay_w2", 0.1, dd, dd, c)
			add(p+"att.time_faaaa", -0.5, 0.5, h, n)
			vec(p+"ffn.time_maa_k", 0, 1)
			vec(p+"ffn.time_maa_r", 0, 1)
			linear(p+"ffn.receptance.weight", 1, c, c, c)
		case "7":
			for _, k := range []string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"} {
				vec(p+"att."+k, 0, 1)
			}
			vec(p+"att.w0", -2, 1)
			linear(p+"att.w1", 1, c, c, s.DecayLoRA)
			linear(p+"att.w2", 0.5, s.DecayLoRA, s.DecayLoRA, c)
			vec(p+"att.a0", -1, 1)
			linear(p+"att.a1", 1, c, c, s.AlphaLoRA)
			linear(p+"att.a2", 0.5, s.AlphaLoRA, s.AlphaLoRA, c)
			vec(p+"att.v0", -1, 1)
			linear(p+"att.v1", 1, c, c, s.ValueLoRA)
			linear(p+"att.v2", 0.5, s.ValueLoRA, s.ValueLoRA, c)
			linear(p+"att.g1", 1, c, c, s.GateLoRA)
			linear(p+"att.g2", 1, s.GateLoRA, s.GateLoRA, c)
			vec(p+"att.k_k", 0.5, 1.5)
			vec(p+"att.k_a", 0, 1)
			add(p+"att.r_k", -0.5, 0.5, h, n)
			vec(p+"ffn.x_k", 0, 1)
		}
	}
	norm("ln_out")
	linear("head.weight", 1, c, s.Vocab, c)
	return out
}
