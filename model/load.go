package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/model/kernel"
	"github.com/rwkvbench/rwkvbench/model/pth"
	"github.com/rwkvbench/rwkvbench/model/rwkvcpp"
	"github.com/rwkvbench/rwkvbench/model/safetensors"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Model is a checked checkpoint in the layout the engine runs: ln0 folded into the
// embedding, v5.2 decays precomputed, LoRA factors transposed to (out, in). It is
// read-only and may back any number of engines at once.
type Model struct {
	Config Config
	Path   string // the file it came from
	Format string // "pth", "safetensors" or "rwkv.cpp"

	set    *tensor.Set
	emb    []float32 // V×C, LayerNorm(ln0) already applied to every row
	blocks []block
	lnOutW []float32
	lnOutB []float32
	head   linear
}

// linear is a matrix product with the names of its hook points, built once so that
// running the hook costs no allocation.
type linear struct {
	m       *kernel.Matrix
	in, out Point
}

// block holds one layer's weights. Fields a version does not use stay nil.
type block struct {
	ln1W, ln1B, ln2W, ln2B []float32
	lnxW, lnxB             []float32 // att.ln_x, the per-head GroupNorm

	receptance, key, value, output, gate linear

	// v5.2
	mixK, mixV, mixR, mixG []float32
	decay                  []float32 // exp(-exp(time_decay)), H·N
	bonus                  []float32 // time_faaaa, used raw, H·N

	// v6
	maaX, maaW, maaK, maaV, maaR, maaG []float32
	maaW1                              linear    // (5·Dm, C)
	maaW2                              [5]linear // (C, Dm) each, in the order w, k, v, r, g
	decayBase                          []float32 // time_decay, C, log-log form
	decayW1, decayW2                   linear

	// v7
	xR, xW, xK, xV, xA, xG []float32
	w0, a0, v0             []float32
	w1, w2, a1, a2         linear
	v1, v2, g1, g2         linear
	kK, kA, rK             []float32

	// Channel mix. v5.2 keeps time_mix_k/r here, v6 time_maa_k/r, v7 x_k (no r).
	ffnMixK, ffnMixR                []float32
	ffnKey, ffnValue, ffnReceptance linear
}

// Load reads a checkpoint, recognizing its container by its first bytes: a zip
// archive is a PyTorch .pth, "fmgg" an rwkv.cpp .bin, and an 8-byte length followed by
// '{' a safetensors file. A path "synthetic:<name>" (for example synthetic:v7-0.1b)
// builds random weights of a released model's shape instead (package synthetic), for
// speed measurements without a download.
func Load(path string) (*Model, error) {
	if name, ok := strings.CutPrefix(path, synthetic.PathPrefix); ok {
		set, err := synthetic.New(name)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		return FromSet(set)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	head := make([]byte, 9)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	head = head[:n]
	var read func(string) (*tensor.Set, error)
	switch {
	case bytes.HasPrefix(head, []byte("PK")):
		read = pth.Read
	case len(head) >= 4 && binary.LittleEndian.Uint32(head) == rwkvcpp.Magic:
		read = rwkvcpp.Read
	case len(head) == 9 && head[8] == '{':
		read = safetensors.Read
	default:
		return nil, fmt.Errorf("load %s: not a PyTorch .pth (zip), safetensors or rwkv.cpp .bin file (first bytes % x)", path, head)
	}
	set, err := read(path)
	if err != nil {
		return nil, err
	}
	m, err := FromSet(set)
	if err != nil {
		set.Close()
		return nil, err
	}
	return m, nil
}

// withStorage returns m itself for float32 storage, otherwise a model sharing
// everything with m except the large projection matrices, which are converted
// copies (see Options.WeightStorage).
func (m *Model) withStorage(s kernel.Storage) (*Model, error) {
	if s == kernel.F32 {
		return m, nil
	}
	out := *m
	out.blocks = slices.Clone(m.blocks)
	convert := func(l *linear) error {
		if l.m == nil {
			return nil
		}
		c, err := l.m.Convert(s)
		if err != nil {
			return fmt.Errorf("%s: layer %d %s: %w", m.Path, l.in.Layer, strings.TrimSuffix(l.in.Name, ".in"), err)
		}
		l.m = c
		return nil
	}
	for i := range out.blocks {
		b := &out.blocks[i]
		for _, l := range []*linear{&b.receptance, &b.key, &b.value, &b.output, &b.gate,
			&b.ffnKey, &b.ffnValue, &b.ffnReceptance} {
			if err := convert(l); err != nil {
				return nil, err
			}
		}
	}
	if err := convert(&out.head); err != nil {
		return nil, err
	}
	return &out, nil
}

// Close releases the checkpoint's storage (a memory mapping, if the reader made one).
// Engines built on the model must not be used afterwards.
func (m *Model) Close() error {
	if m.set == nil {
		return nil
	}
	return m.set.Close()
}

// FromSet checks a tensor set and prepares it to run. It detects the version, reads
// every size from tensor shapes, and refuses unsupported variants with an error
// naming the key that identified them. The model shares storage with set.
func FromSet(set *tensor.Set) (*Model, error) {
	for _, name := range set.Names() {
		if err := set.Tensors[name].CheckFinite(); err != nil {
			return nil, fmt.Errorf("%s: %w", set.Path, err)
		}
	}
	cfg, err := inferConfig(set)
	if err != nil {
		return nil, err
	}
	l := &loader{set: set, cfg: cfg}
	m := &Model{Config: cfg, Path: set.Path, Format: set.Format, set: set}
	m.blocks = make([]block, cfg.Layers)
	for i := range cfg.Layers {
		m.blocks[i] = l.block(i)
	}
	c, v := cfg.Embd, cfg.Vocab
	emb := l.vec("emb.weight", v, c)
	ln0W := l.vec("blocks.0.ln0.weight", c)
	ln0B := l.vec("blocks.0.ln0.bias", c)
	m.lnOutW = l.vec("ln_out.weight", c)
	m.lnOutB = l.vec("ln_out.bias", c)
	m.head = l.linear("head.weight", -1, "head", v, c)
	if l.err != nil {
		return nil, l.err
	}
	m.emb = make([]float32, len(emb))
	for t := range v {
		layerNorm(m.emb[t*c:(t+1)*c], emb[t*c:(t+1)*c], ln0W, ln0B, layerNormEps)
	}
	m.Config.Params = l.params
	m.Config.DType = bulkDType(set)
	m.Config.GroupNormEps = OfficialGroupNormEps
	if set.GroupNormEps != 0 {
		m.Config.GroupNormEps = set.GroupNormEps
	}
	return m, nil
}

// bulkDType is the storage type holding the most parameters.
func bulkDType(set *tensor.Set) tensor.DType {
	count := map[tensor.DType]int{}
	for _, t := range set.Tensors {
		count[t.DType] += len(t.Data)
	}
	var best tensor.DType
	for _, d := range slices.Sorted(maps.Keys(count)) {
		if best == "" || count[d] > count[best] {
			best = d
		}
	}
	return best
}

// inferConfig detects the version and reads every hyper-parameter from shapes.
func inferConfig(set *tensor.Set) (Config, error) {
	var cfg Config
	fail := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("%s: "+format, append([]any{set.Path}, a...)...)
	}
	for _, key := range []string{"_strategy", "_version", "_rescale_layer"} {
		if set.Has(key) {
			return fail("key %s marks a ChatRWKV pre-converted file (weights transposed and rescaled); load the original checkpoint instead", key)
		}
	}
	layers := -1
	for _, name := range set.Names() {
		if isDeepEmbedKey(name) {
			return fail("key %s marks the DeepEmbed RWKV-7 variant, which is not supported", name)
		}
		rest, ok := strings.CutPrefix(name, "blocks.")
		if !ok {
			continue
		}
		idx, _, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i > 1<<16 {
			return fail("key %s: malformed block index", name)
		}
		layers = max(layers, i+1)
	}
	if layers < 1 {
		return fail("no blocks.{i}.* tensors: not an RWKV checkpoint")
	}
	cfg.Layers = layers

	emb, err := set.Get("emb.weight")
	if err != nil {
		return Config{}, err
	}
	if len(emb.Shape) != 2 {
		return fail("tensor emb.weight: shape %v, want (vocab, embd)", emb.Shape)
	}
	cfg.Vocab, cfg.Embd = emb.Shape[0], emb.Shape[1]

	const b0 = "blocks.0.att."
	switch {
	case set.Has(b0+"k_k") || set.Has(b0+"r_k") || set.Has(b0+"x_r"):
		cfg.Version = V7
	case set.Has(b0 + "time_maa_x"):
		cfg.Version = V6
	case !set.Has(b0 + "ln_x.weight"):
		return fail("no %sln_x.weight: an RWKV-4 checkpoint, which is not supported (v5.2, v6 and v7 are)", b0)
	case set.Has(b0 + "time_first"):
		return fail("key %stime_first marks an RWKV-5.0/5.1 checkpoint, which is not supported (v5.2 is)", b0)
	case set.VersionHint == "5.1" || set.VersionHint == "5.0" || set.VersionHint == "5":
		return fail("the file states version %s (key %stime_decay is per head), which is not supported (v5.2 is)", set.VersionHint, b0)
	case !set.Has(b0 + "gate.weight"):
		return fail("no %sgate.weight: an RWKV-5.0 checkpoint, which is not supported (v5.2 is)", b0)
	default:
		td, err := set.Get(b0 + "time_decay")
		if err != nil {
			return Config{}, err
		}
		sh := td.Shape
		for len(sh) > 0 && sh[len(sh)-1] == 1 {
			sh = sh[:len(sh)-1]
		}
		if len(sh) < 2 {
			return fail("key %stime_decay has shape %v (one decay per head): an RWKV-5.0/5.1 checkpoint, which is not supported (v5.2 is)", b0, td.Shape)
		}
		cfg.Version = V5_2
	}

	dim := func(name string, axis, rank int) (int, error) {
		t, err := set.Get(name)
		if err != nil {
			return 0, err
		}
		// Trailing 1s carry no layout: rwkv.cpp-style (H,N,1) is (H,N).
		sh := t.Shape
		for len(sh) > rank && sh[len(sh)-1] == 1 {
			sh = sh[:len(sh)-1]
		}
		if len(sh) != rank {
			return 0, fmt.Errorf("%s: tensor %s: shape %v, want %d dimensions", set.Path, name, t.Shape, rank)
		}
		return sh[axis], nil
	}
	headKey := map[Version]string{V5_2: b0 + "time_decay", V6: b0 + "time_faaaa", V7: b0 + "r_k"}[cfg.Version]
	if cfg.Heads, err = dim(headKey, 0, 2); err != nil {
		return Config{}, err
	}
	if cfg.Heads < 1 || cfg.Embd%cfg.Heads != 0 {
		return fail("tensor %s: %d heads do not divide n_embd %d", headKey, cfg.Heads, cfg.Embd)
	}
	cfg.HeadSize = cfg.Embd / cfg.Heads
	att, err := dim(b0+"key.weight", 0, 2)
	if err != nil {
		return Config{}, err
	}
	if att != cfg.Embd {
		return fail("tensor %skey.weight: dim_att %d != n_embd %d, which the engine does not support", b0, att, cfg.Embd)
	}
	if cfg.FFN, err = dim("blocks.0.ffn.key.weight", 0, 2); err != nil {
		return Config{}, err
	}
	switch cfg.Version {
	case V6:
		w1, err := dim(b0+"time_maa_w1", 1, 2)
		if err != nil {
			return Config{}, err
		}
		if w1%5 != 0 {
			return fail("tensor %stime_maa_w1: %d columns is not 5 mixes × rank", b0, w1)
		}
		cfg.MixLoRA = w1 / 5
		if cfg.DecayLoRA, err = dim(b0+"time_decay_w1", 1, 2); err != nil {
			return Config{}, err
		}
	case V7:
		for _, d := range []struct {
			key string
			dst *int
		}{{b0 + "w1", &cfg.DecayLoRA}, {b0 + "a1", &cfg.AlphaLoRA}, {b0 + "g1", &cfg.GateLoRA}} {
			if *d.dst, err = dim(d.key, 1, 2); err != nil {
				return Config{}, err
			}
		}
		// Block 0 does not use the value-residual LoRA and some files omit it there.
		if cfg.Layers > 1 {
			if cfg.ValueLoRA, err = dim("blocks.1.att.v1", 1, 2); err != nil {
				return Config{}, err
			}
		}
	}
	for _, d := range []struct {
		name string
		size int
	}{{"vocabulary (emb.weight rows)", cfg.Vocab}, {"n_embd (emb.weight columns)", cfg.Embd}, {"dim_ffn (ffn.key.weight rows)", cfg.FFN}} {
		if d.size < 1 {
			return fail("%s is %d", d.name, d.size)
		}
	}
	lora := map[Version][]int{V6: {cfg.MixLoRA, cfg.DecayLoRA}, V7: {cfg.DecayLoRA, cfg.AlphaLoRA, cfg.GateLoRA}}[cfg.Version]
	if cfg.Version == V7 && cfg.Layers > 1 {
		lora = append(lora, cfg.ValueLoRA)
	}
	for _, r := range lora {
		if r < 1 {
			return fail("a LoRA factor of block 0 has rank %d", r)
		}
	}
	return cfg, nil
}

func isDeepEmbedKey(name string) bool {
	if strings.Contains(name, "s_emb") {
		return true
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if p == "s0" || p == "s1" || p == "s2" {
			return true
		}
	}
	return false
}

// loader fetches tensors with their expected shapes, keeps the first error and
// counts the parameters it hands out.
type loader struct {
	set    *tensor.Set
	cfg    Config
	err    error
	params int64
}

// vec returns the data of a tensor whose shape, ignoring dimensions of size 1, is
// shape: (1,1,C) and (C) are the same vector, and the row-major data is identical.
func (l *loader) vec(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	t, err := l.set.Get(name)
	if err != nil {
		l.err = fmt.Errorf("%w (required by RWKV %s)", err, l.cfg.Version)
		return nil
	}
	if !slices.Equal(squeeze(t.Shape), squeeze(shape)) || len(t.Data) != product(shape) {
		l.err = fmt.Errorf("%s: tensor %s: shape %v, want %v", l.set.Path, name, t.Shape, shape)
		return nil
	}
	l.params += int64(len(t.Data))
	return t.Data
}

// linear returns an (out, in) weight as a product with hook points named after the
// key without "blocks.{i}." and ".weight".
func (l *loader) linear(name string, layer int, point string, out, in int) linear {
	data := l.vec(name, out, in)
	if data == nil {
		return linear{}
	}
	m, err := kernel.NewMatrix(out, in, data)
	if err != nil {
		l.err = fmt.Errorf("%s: tensor %s: %w", l.set.Path, name, err)
		return linear{}
	}
	return linear{m: m, in: Point{layer, point + ".in"}, out: Point{layer, point + ".out"}}
}

// lora returns a factor stored (in, out), as checkpoints keep LoRA and mixing
// matrices, transposed so it runs through the same (out, in) kernel.
func (l *loader) lora(name string, layer int, point string, in, out int) linear {
	data := l.vec(name, in, out)
	if data == nil {
		return linear{}
	}
	m, err := kernel.Transposed(in, out, data)
	if err != nil {
		l.err = fmt.Errorf("%s: tensor %s: %w", l.set.Path, name, err)
		return linear{}
	}
	return linear{m: m, in: Point{layer, point + ".in"}, out: Point{layer, point + ".out"}}
}

func (l *loader) block(i int) block {
	c, h, n, f := l.cfg.Embd, l.cfg.Heads, l.cfg.HeadSize, l.cfg.FFN
	p := fmt.Sprintf("blocks.%d.", i)
	var b block
	b.ln1W, b.ln1B = l.vec(p+"ln1.weight", c), l.vec(p+"ln1.bias", c)
	b.ln2W, b.ln2B = l.vec(p+"ln2.weight", c), l.vec(p+"ln2.bias", c)
	b.lnxW, b.lnxB = l.vec(p+"att.ln_x.weight", c), l.vec(p+"att.ln_x.bias", c)
	b.receptance = l.linear(p+"att.receptance.weight", i, "att.receptance", c, c)
	b.key = l.linear(p+"att.key.weight", i, "att.key", c, c)
	b.value = l.linear(p+"att.value.weight", i, "att.value", c, c)
	b.output = l.linear(p+"att.output.weight", i, "att.output", c, c)
	b.ffnKey = l.linear(p+"ffn.key.weight", i, "ffn.key", f, c)
	b.ffnValue = l.linear(p+"ffn.value.weight", i, "ffn.value", c, f)
	switch l.cfg.Version {
	case V5_2:
		b.gate = l.linear(p+"att.gate.weight", i, "att.gate", c, c)
		b.mixK, b.mixV = l.vec(p+"att.time_mix_k", c), l.vec(p+"att.time_mix_v", c)
		b.mixR, b.mixG = l.vec(p+"att.time_mix_r", c), l.vec(p+"att.time_mix_g", c)
		if td := l.vec(p+"att.time_decay", h, n); td != nil {
			b.decay = make([]float32, len(td))
			for j, v := range td {
				b.decay[j] = float32(math.Exp(-math.Exp(float64(v))))
			}
		}
		b.bonus = l.vec(p+"att.time_faaaa", h, n)
		b.ffnMixK, b.ffnMixR = l.vec(p+"ffn.time_mix_k", c), l.vec(p+"ffn.time_mix_r", c)
		b.ffnReceptance = l.linear(p+"ffn.receptance.weight", i, "ffn.receptance", c, c)
	case V6:
		dm, dd := l.cfg.MixLoRA, l.cfg.DecayLoRA
		b.gate = l.linear(p+"att.gate.weight", i, "att.gate", c, c)
		b.maaX, b.maaW = l.vec(p+"att.time_maa_x", c), l.vec(p+"att.time_maa_w", c)
		b.maaK, b.maaV = l.vec(p+"att.time_maa_k", c), l.vec(p+"att.time_maa_v", c)
		b.maaR, b.maaG = l.vec(p+"att.time_maa_r", c), l.vec(p+"att.time_maa_g", c)
		b.maaW1 = l.lora(p+"att.time_maa_w1", i, "att.time_maa_w1", c, 5*dm)
		if w2 := l.vec(p+"att.time_maa_w2", 5, dm, c); w2 != nil {
			for j := range 5 {
				m, err := kernel.Transposed(dm, c, w2[j*dm*c:(j+1)*dm*c])
				if err != nil {
					l.err = fmt.Errorf("%s: tensor %satt.time_maa_w2: %w", l.set.Path, p, err)
					break
				}
				// The five products are observed together as one 5·C-wide row.
				b.maaW2[j] = linear{m: m, in: Point{i, "att.time_maa_w2.in"}, out: Point{i, "att.time_maa_w2.out"}}
			}
		}
		b.decayBase = l.vec(p+"att.time_decay", c)
		b.decayW1 = l.lora(p+"att.time_decay_w1", i, "att.time_decay_w1", c, dd)
		b.decayW2 = l.lora(p+"att.time_decay_w2", i, "att.time_decay_w2", dd, c)
		b.bonus = l.vec(p+"att.time_faaaa", h, n)
		b.ffnMixK, b.ffnMixR = l.vec(p+"ffn.time_maa_k", c), l.vec(p+"ffn.time_maa_r", c)
		b.ffnReceptance = l.linear(p+"ffn.receptance.weight", i, "ffn.receptance", c, c)
	case V7:
		cf := l.cfg
		b.xR, b.xW, b.xK = l.vec(p+"att.x_r", c), l.vec(p+"att.x_w", c), l.vec(p+"att.x_k", c)
		b.xV, b.xA, b.xG = l.vec(p+"att.x_v", c), l.vec(p+"att.x_a", c), l.vec(p+"att.x_g", c)
		b.w0, b.a0 = l.vec(p+"att.w0", c), l.vec(p+"att.a0", c)
		b.w1 = l.lora(p+"att.w1", i, "att.w1", c, cf.DecayLoRA)
		b.w2 = l.lora(p+"att.w2", i, "att.w2", cf.DecayLoRA, c)
		b.a1 = l.lora(p+"att.a1", i, "att.a1", c, cf.AlphaLoRA)
		b.a2 = l.lora(p+"att.a2", i, "att.a2", cf.AlphaLoRA, c)
		if i > 0 {
			b.v0 = l.vec(p+"att.v0", c)
			b.v1 = l.lora(p+"att.v1", i, "att.v1", c, cf.ValueLoRA)
			b.v2 = l.lora(p+"att.v2", i, "att.v2", cf.ValueLoRA, c)
		}
		b.g1 = l.lora(p+"att.g1", i, "att.g1", c, cf.GateLoRA)
		b.g2 = l.lora(p+"att.g2", i, "att.g2", cf.GateLoRA, c)
		b.kK, b.kA = l.vec(p+"att.k_k", c), l.vec(p+"att.k_a", c)
		b.rK = l.vec(p+"att.r_k", h, n)
		b.ffnMixK = l.vec(p+"ffn.x_k", c)
	}
	return b
}

func squeeze(shape []int) []int {
	var s []int
	for _, d := range shape {
		if d != 1 {
			s = append(s, d)
		}
	}
	return s
}

func product(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
