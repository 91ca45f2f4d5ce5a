package model

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/rwkvbench/rwkvbench/model/kernel"
	"github.com/rwkvbench/rwkvbench/model/kernel/simd"
)

// layerNormEps is the epsilon of every LayerNorm (ln0, ln1, ln2, ln_out) in all
// versions; only the ln_x GroupNorm differs (Config.GroupNormEps).
const layerNormEps = 1e-5

// v7DecayScale is e^-0.5 as the official one-token path and rwkv.cpp write it.
const v7DecayScale = 0.606531

// chunkTokens bounds how many tokens sequence mode pushes through the layers at once,
// which bounds scratch memory and the time between cancellation checks.
const chunkTokens = 64

// Options configures an Engine.
type Options struct {
	// Threads is the number of goroutines matrix products and the WKV scan are split
	// over; values below 1 mean 1.
	Threads int
	// Hook, if non-nil, sees the input and output of every matrix product (see the
	// package documentation for the point names).
	Hook ActivationHook
	// GroupNormEps, if positive, replaces the model's ln_x epsilon. It exists for
	// fixtures made by runtimes that use another value (rwkv.cpp's v5 uses 1e-5).
	GroupNormEps float32
	// WeightStorage is how the engine keeps the large projection weights (receptance,
	// key, value, output, gate, channel mix, head): "f32" (or empty) uses the model's
	// float32 weights and is the reference; "f16" and "int8" (one scale per row) keep
	// converted copies owned by the engine, which halve or quarter decode's memory
	// traffic at the cost of rounding the weights (not the activations). LoRA and
	// mixing factors, under 1% of the bytes, stay float32.
	WeightStorage string
}

// Engine runs a Model on the host CPU in float32. It implements Session. An Engine is
// not safe for concurrent use; make one per goroutine (they can share the Model).
type Engine struct {
	model *Model
	cfg   Config // the model's, with the effective GroupNormEps
	hook  ActivationHook
	pool  *kernel.Pool
	state *State
	buf   scratch

	scan                    scanArgs
	scan56Heads, scan7Heads func(lo, hi int) // scan56Range and scan7Range, bound once
}

var _ Session = (*Engine)(nil)

// NewEngine returns an engine for m at the zero state.
func NewEngine(m *Model, opts Options) (*Engine, error) {
	if m == nil || len(m.blocks) == 0 {
		return nil, errors.New("new engine: no model")
	}
	if opts.GroupNormEps < 0 || math.IsNaN(float64(opts.GroupNormEps)) {
		return nil, fmt.Errorf("new engine: group-norm eps %v must be positive", opts.GroupNormEps)
	}
	cfg := m.Config
	if opts.GroupNormEps > 0 {
		cfg.GroupNormEps = opts.GroupNormEps
	}
	storage, err := kernel.ParseStorage(opts.WeightStorage)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	if m, err = m.withStorage(storage); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	e := &Engine{
		model: m,
		cfg:   cfg,
		hook:  opts.Hook,
		pool:  kernel.NewPool(opts.Threads),
		state: NewState(cfg),
	}
	e.scan56Heads, e.scan7Heads = e.scan56Range, e.scan7Range
	return e, nil
}

// Config returns the model configuration the engine runs, with the group-norm
// epsilon in effect.
func (e *Engine) Config() Config { return e.cfg }

// VocabSize is the number of logits per position.
func (e *Engine) VocabSize() int { return e.cfg.Vocab }

// Reset returns the state to zero.
func (e *Engine) Reset() { e.state.Reset() }

// Close stops the engine's worker goroutines.
func (e *Engine) Close() error {
	e.pool.Close()
	return nil
}

// State returns a copy of the current recurrent state.
func (e *Engine) State() *State { return e.state.Clone() }

// SetState replaces the current state by a copy of s, which must be for a model of
// the same version and shape.
func (e *Engine) SetState(s *State) error {
	if s == nil {
		return errors.New("set state: nil state")
	}
	if err := e.state.sameShape(s); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	e.state.copyFrom(s)
	return nil
}

// Forward feeds tokens from the current state; see Session. One token runs as
// matrix-vector products; more run in sequence mode, where each chunk of tokens goes
// through every projection as one matrix-matrix product and only the WKV recurrence
// steps token by token. Both compute the same function. The context is checked
// between chunks; after a cancellation the state holds the tokens of the chunks that
// completed.
func (e *Engine) Forward(ctx context.Context, tokens []int, logits []float32) error {
	v := e.cfg.Vocab
	all := false
	switch len(logits) {
	case 0:
	case v:
	case len(tokens) * v:
		all = true
	default:
		return fmt.Errorf("forward: logits buffer has %d values; want 0, %d (last position) or %d (%d positions × %d)",
			len(logits), v, len(tokens)*v, len(tokens), v)
	}
	if len(tokens) == 0 {
		if len(logits) != 0 {
			return errors.New("forward: logits requested for an empty token sequence")
		}
		return nil
	}
	for i, t := range tokens {
		if t < 0 || t >= v {
			return fmt.Errorf("forward: token %d at position %d is outside the vocabulary [0, %d)", t, i, v)
		}
	}
	for start := 0; start < len(tokens); start += chunkTokens {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("forward: stopped after %d of %d tokens: %w", start, len(tokens), err)
		}
		end := min(start+chunkTokens, len(tokens))
		var out []float32
		switch {
		case all:
			out = logits[start*v : end*v]
		case len(logits) == v && end == len(tokens):
			out = logits
		}
		e.run(tokens[start:end], out, all)
	}
	return nil
}

// scratch holds the activations of one chunk, allocated for the largest chunk seen.
type scratch struct {
	tokens int
	x      []float32 // residual stream, T×C
	norm   []float32 // LayerNorm output of the mixer being run, T×C
	mix    [6][]float32
	r, k   []float32
	v, g   []float32
	w, a   []float32
	kk, y  []float32
	out    []float32
	first  []float32 // v7 v_first, T×C
	hidden []float32 // channel-mix hidden layer, T×F
	loraIn []float32 // T×max LoRA input width
	loraHi []float32 // T×max LoRA hidden width
	wide   []float32 // v6 mixing LoRA output, T×5C
	head   []float32 // ln_out rows, T×C
	prev   []float32 // the state's token shift before this chunk, C
}

func (e *Engine) scratchFor(n int) *scratch {
	s := &e.buf
	if s.tokens >= n {
		return s
	}
	c, f := e.cfg.Embd, e.cfg.FFN
	lora := max(5*e.cfg.MixLoRA, e.cfg.DecayLoRA, e.cfg.AlphaLoRA, e.cfg.ValueLoRA, e.cfg.GateLoRA, 1)
	mk := func(width int) []float32 { return make([]float32, n*width) }
	*s = scratch{tokens: n, x: mk(c), norm: mk(c), r: mk(c), k: mk(c), v: mk(c), g: mk(c), w: mk(c), a: mk(c),
		kk: mk(c), y: mk(c), out: mk(c), first: mk(c), hidden: mk(f), loraIn: mk(lora), loraHi: mk(lora),
		wide: mk(5 * c), head: mk(c), prev: make([]float32, c)}
	for i := range s.mix {
		s.mix[i] = mk(c)
	}
	return s
}

// run pushes one chunk through the model. out receives every row's logits (all) or
// the last row's (len(out) == V), or nothing.
func (e *Engine) run(tokens []int, out []float32, all bool) {
	n, c := len(tokens), e.cfg.Embd
	s := e.scratchFor(n)
	for t, tok := range tokens {
		copy(s.x[t*c:(t+1)*c], e.model.emb[tok*c:(tok+1)*c])
	}
	for i := range e.model.blocks {
		b := &e.model.blocks[i]
		switch e.cfg.Version {
		case V5_2, V6:
			e.timeMix56(i, b, s, n)
		case V7:
			e.timeMix7(i, b, s, n)
		}
		e.channelMix(i, b, s, n)
	}
	if len(out) == 0 {
		return
	}
	first := 0
	if !all {
		first = n - 1
	}
	rows := n - first
	for t := range rows {
		layerNorm(s.head[t*c:(t+1)*c], s.x[(first+t)*c:(first+t+1)*c], e.model.lnOutW, e.model.lnOutB, layerNormEps)
	}
	e.mul(e.model.head, out, s.head, rows)
}

// mul is dst = W·src for n rows, with the hook around it.
func (e *Engine) mul(l linear, dst, src []float32, n int) {
	if e.hook != nil {
		e.hook.Activation(l.in, src[:n*l.m.Cols])
	}
	if n == 1 {
		l.m.MulVec(e.pool, dst, src)
	} else {
		l.m.MulMat(e.pool, dst, src, n)
	}
	if e.hook != nil {
		e.hook.Activation(l.out, dst[:n*l.m.Rows])
	}
}

// normalize writes LN(x) of every row into s.norm, keeps the mixer's previous
// token-shift vector in s.prev for row 0 (see shifted), and stores the last row in
// prev for the next chunk. The hook sees the normalized rows at point before they
// become the token-shift state: on the device the state is this tensor's encoding.
func (e *Engine) normalize(s *scratch, n int, w, b, prev []float32, point Point) {
	c := e.cfg.Embd
	for t := range n {
		layerNorm(s.norm[t*c:(t+1)*c], s.x[t*c:(t+1)*c], w, b, layerNormEps)
	}
	if e.hook != nil {
		e.hook.Activation(point, s.norm[:n*c])
	}
	copy(s.prev, prev)
	copy(prev, s.norm[(n-1)*c:n*c])
}

// shifted is the normalized input of the token before row t: the state's for row 0,
// the previous row's otherwise.
func (s *scratch) shifted(t, c int) []float32 {
	if t == 0 {
		return s.prev
	}
	return s.norm[(t-1)*c : t*c]
}

// timeMix56 is the v5.2 and v6 attention block (§4.1 and §4.2 of the shared reference rwkv-math.md).
func (e *Engine) timeMix56(layer int, b *block, s *scratch, n int) {
	c := e.cfg.Embd
	st := e.state
	e.normalize(s, n, b.ln1W, b.ln1B, st.AttX[layer], Point{layer, "ln1.out"})
	xr, xk, xv, xg := s.mix[0], s.mix[1], s.mix[2], s.mix[3]
	if e.cfg.Version == V5_2 {
		for t := range n {
			cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
			for j := range c {
				x, p := cur[j], prev[j]
				xk[t*c+j] = x*b.mixK[j] + p*(1-b.mixK[j])
				xv[t*c+j] = x*b.mixV[j] + p*(1-b.mixV[j])
				xr[t*c+j] = x*b.mixR[j] + p*(1-b.mixR[j])
				xg[t*c+j] = x*b.mixG[j] + p*(1-b.mixG[j])
			}
		}
	} else {
		e.mixV6(layer, b, s, n)
	}
	e.mul(b.receptance, s.r, xr, n)
	e.mul(b.key, s.k, xk, n)
	e.mul(b.value, s.v, xv, n)
	e.mul(b.gate, s.g, xg, n)
	for j, g := range s.g[:n*c] {
		s.g[j] = g * sigmoid(g)
	}
	decay, decayStride := b.decay, 0
	if e.cfg.Version == V6 {
		decay, decayStride = s.w, c
	}
	e.scan56(st.WKV[layer], s, n, decay, decayStride, b.bonus)
	e.groupNorm(s.y, n, b.lnxW, b.lnxB)
	for j := range s.y[:n*c] {
		s.y[j] *= s.g[j]
	}
	e.mul(b.output, s.out, s.y, n)
	for j, o := range s.out[:n*c] {
		s.x[j] += o
	}
}

// mixV6 computes v6's data-dependent token-shift mixes into s.mix (r, k, v, g) and
// the per-token decay into s.w.
func (e *Engine) mixV6(layer int, b *block, s *scratch, n int) {
	c, dm := e.cfg.Embd, e.cfg.MixLoRA
	xxx := s.mix[4]
	diff := s.mix[5]
	for t := range n {
		cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
		for j := range c {
			d := prev[j] - cur[j]
			diff[t*c+j] = d
			xxx[t*c+j] = cur[j] + d*b.maaX[j]
		}
	}
	h5 := s.loraHi[:n*5*dm]
	e.mul(b.maaW1, h5, xxx, n)
	for j, v := range h5 {
		h5[j] = tanh(v)
	}
	// time_maa_w2 is five (Dm → C) products; they are observed as one T×5C block.
	if e.hook != nil {
		e.hook.Activation(b.maaW2[0].in, h5)
	}
	in := s.loraIn[:n*dm]
	for k := range 5 {
		for t := range n {
			copy(in[t*dm:(t+1)*dm], h5[t*5*dm+k*dm:t*5*dm+(k+1)*dm])
		}
		b.maaW2[k].m.MulMat(e.pool, s.out, in, n)
		for t := range n {
			copy(s.wide[t*5*c+k*c:t*5*c+(k+1)*c], s.out[t*c:(t+1)*c])
		}
	}
	if e.hook != nil {
		e.hook.Activation(b.maaW2[0].out, s.wide[:n*5*c])
	}
	// Order of the five mixes in time_maa_w2: w, k, v, r, g.
	xw := s.mix[4] // xxx is no longer needed
	xr, xk, xv, xg := s.mix[0], s.mix[1], s.mix[2], s.mix[3]
	for t := range n {
		cur, m := s.norm[t*c:(t+1)*c], s.wide[t*5*c:(t+1)*5*c]
		for j := range c {
			d, x := diff[t*c+j], cur[j]
			xw[t*c+j] = x + d*(b.maaW[j]+m[j])
			xk[t*c+j] = x + d*(b.maaK[j]+m[c+j])
			xv[t*c+j] = x + d*(b.maaV[j]+m[2*c+j])
			xr[t*c+j] = x + d*(b.maaR[j]+m[3*c+j])
			xg[t*c+j] = x + d*(b.maaG[j]+m[4*c+j])
		}
	}
	dd := e.cfg.DecayLoRA
	hid := s.loraHi[:n*dd]
	e.mul(b.decayW1, hid, xw, n)
	for j, v := range hid {
		hid[j] = tanh(v)
	}
	e.mul(b.decayW2, s.w, hid, n)
	for t := range n {
		for j := range c {
			z := float64(b.decayBase[j] + s.w[t*c+j])
			s.w[t*c+j] = float32(math.Exp(-math.Exp(z)))
		}
	}
}

// scan56 runs the v5/v6 WKV recurrence over n tokens, head by head, writing s.y.
// S is [h][key i][value j]; the decay belongs to the key channel. decay holds one
// row per token (stride C) or a single row for all tokens (stride 0).
func (e *Engine) scan56(state []float32, s *scratch, n int, decay []float32, stride int, bonus []float32) {
	e.scan = scanArgs{state: state, s: s, n: n, decay: decay, stride: stride, bonus: bonus}
	e.pool.Run(e.cfg.Heads, n*e.cfg.Embd*e.cfg.HeadSize/(1<<14), e.scan56Heads)
	e.scan = scanArgs{}
}

// scanArgs are the operands of the WKV scan in flight. They live in the Engine, and
// the per-head loops are method values bound once in NewEngine, so that a token
// step allocates nothing.
type scanArgs struct {
	state  []float32
	s      *scratch
	n      int
	decay  []float32 // v5.2/v6
	stride int       // v5.2/v6
	bonus  []float32 // v5.2/v6
	b      []float32 // v7: kk⊙a
}

func (e *Engine) scan56Range(lo, hi int) {
	a, c, hs := &e.scan, e.cfg.Embd, e.cfg.HeadSize
	s := a.s
	for h := lo; h < hi; h++ {
		S := a.state[h*hs*hs : (h+1)*hs*hs]
		u := a.bonus[h*hs : (h+1)*hs]
		for t := range a.n {
			o := t*c + h*hs
			w := a.decay[t*a.stride+h*hs : t*a.stride+(h+1)*hs]
			simd.WKV5(S, s.r[o:o+hs], s.k[o:o+hs], s.v[o:o+hs], w, u, s.y[o:o+hs])
		}
	}
}

// timeMix7 is the v7 attention block (rwkv-math.md §4.3).
func (e *Engine) timeMix7(layer int, b *block, s *scratch, n int) {
	c, hs := e.cfg.Embd, e.cfg.HeadSize
	st := e.state
	e.normalize(s, n, b.ln1W, b.ln1B, st.AttX[layer], Point{layer, "ln1.out"})
	xr, xw, xk, xv, xa, xg := s.mix[0], s.mix[1], s.mix[2], s.mix[3], s.mix[4], s.mix[5]
	for t := range n {
		cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
		for j := range c {
			x := cur[j]
			d := prev[j] - x
			xr[t*c+j] = x + d*b.xR[j]
			xw[t*c+j] = x + d*b.xW[j]
			xk[t*c+j] = x + d*b.xK[j]
			xv[t*c+j] = x + d*b.xV[j]
			xa[t*c+j] = x + d*b.xA[j]
			xg[t*c+j] = x + d*b.xG[j]
		}
	}
	e.mul(b.receptance, s.r, xr, n)
	// Decay: w = exp(-e^-0.5·σ(w0 + tanh(xw·w1)·w2)).
	e.lora(b.w1, b.w2, s.w, xw, n, tanh)
	for t := range n {
		for j := range c {
			z := b.w0[j] + s.w[t*c+j]
			s.w[t*c+j] = float32(math.Exp(-v7DecayScale * float64(sigmoid(z))))
		}
	}
	e.mul(b.key, s.k, xk, n)
	e.mul(b.value, s.v, xv, n)
	// In-context learning rate: a = σ(a0 + (xa·a1)·a2).
	e.lora(b.a1, b.a2, s.a, xa, n, nil)
	for t := range n {
		for j := range c {
			s.a[t*c+j] = sigmoid(b.a0[j] + s.a[t*c+j])
		}
	}
	// Output gate: g = σ(xg·g1)·g2.
	e.lora(b.g1, b.g2, s.g, xg, n, sigmoid)
	// kk is the per-head unit-length copy of k⊙k_k, taken before k is rescaled.
	for t := range n {
		for h := range e.cfg.Heads {
			o := t*c + h*hs
			var sum float64
			for j := o; j < o+hs; j++ {
				kk := s.k[j] * b.kK[j-t*c]
				s.kk[j] = kk
				sum += float64(kk) * float64(kk)
			}
			inv := float32(1 / max(math.Sqrt(sum), 1e-12))
			for j := o; j < o+hs; j++ {
				s.kk[j] *= inv
			}
		}
		for j := range c {
			s.k[t*c+j] *= 1 + (s.a[t*c+j]-1)*b.kA[j]
		}
	}
	// Value residual: layer 0's v is mixed into every later layer's.
	if layer == 0 {
		copy(s.first[:n*c], s.v[:n*c])
	} else {
		mixV := s.out
		e.lora(b.v1, b.v2, mixV, xv, n, nil)
		for t := range n {
			for j := range c {
				i := t*c + j
				s.v[i] += (s.first[i] - s.v[i]) * sigmoid(b.v0[j]+mixV[i])
			}
		}
	}
	e.scan7(st.WKV[layer], s, n)
	e.groupNorm(s.y, n, b.lnxW, b.lnxB)
	for t := range n {
		for h := range e.cfg.Heads {
			o := t*c + h*hs
			var bonus float32
			for j := range hs {
				bonus += s.r[o+j] * s.k[o+j] * b.rK[h*hs+j]
			}
			for j := range hs {
				s.y[o+j] += bonus * s.v[o+j]
			}
		}
	}
	for j := range s.y[:n*c] {
		s.y[j] *= s.g[j]
	}
	e.mul(b.output, s.out, s.y, n)
	for j, o := range s.out[:n*c] {
		s.x[j] += o
	}
}

// lora computes dst = act(src·A)·B, with act applied between the two factors when
// non-nil, both products observed by the hook.
func (e *Engine) lora(first, second linear, dst, src []float32, n int, act func(float32) float32) {
	hid := e.buf.loraHi[:n*first.m.Rows]
	e.mul(first, hid, src, n)
	if act != nil {
		for j, v := range hid {
			hid[j] = act(v)
		}
	}
	e.mul(second, dst, hid, n)
}

// scan7 runs the v7 generalized delta rule over n tokens, head by head, writing s.y.
// S is [h][value i][key j].
func (e *Engine) scan7(state []float32, s *scratch, n int) {
	c, hs := e.cfg.Embd, e.cfg.HeadSize
	// b = kk⊙a, the rank-one update's second vector; kept in s.mix[0] (xr is used up).
	bv := s.mix[0]
	for j := range s.kk[:n*c] {
		bv[j] = s.kk[j] * s.a[j]
	}
	e.scan = scanArgs{state: state, s: s, n: n, b: bv}
	e.pool.Run(e.cfg.Heads, n*c*hs/(1<<14), e.scan7Heads)
	e.scan = scanArgs{}
}

func (e *Engine) scan7Range(lo, hi int) {
	a, c, hs := &e.scan, e.cfg.Embd, e.cfg.HeadSize
	s := a.s
	for h := lo; h < hi; h++ {
		S := a.state[h*hs*hs : (h+1)*hs*hs]
		for t := range a.n {
			o := t*c + h*hs
			simd.WKV7(S, s.r[o:o+hs], s.w[o:o+hs], s.k[o:o+hs], s.v[o:o+hs], s.kk[o:o+hs], a.b[o:o+hs], s.y[o:o+hs])
		}
	}
}

// channelMix is the feed-forward block (rwkv-math.md §5).
func (e *Engine) channelMix(layer int, b *block, s *scratch, n int) {
	c := e.cfg.Embd
	e.normalize(s, n, b.ln2W, b.ln2B, e.state.FFNX[layer], Point{layer, "ln2.out"})
	xk, xr := s.mix[0], s.mix[1]
	for t := range n {
		cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
		for j := range c {
			x, p := cur[j], prev[j]
			switch e.cfg.Version {
			case V5_2:
				xk[t*c+j] = x*b.ffnMixK[j] + p*(1-b.ffnMixK[j])
				xr[t*c+j] = x*b.ffnMixR[j] + p*(1-b.ffnMixR[j])
			case V6:
				xk[t*c+j] = x + (p-x)*b.ffnMixK[j]
				xr[t*c+j] = x + (p-x)*b.ffnMixR[j]
			case V7:
				xk[t*c+j] = x + (p-x)*b.ffnMixK[j]
			}
		}
	}
	hid := s.hidden[:n*e.cfg.FFN]
	e.mul(b.ffnKey, hid, xk, n)
	for j, v := range hid {
		v = max(v, 0)
		hid[j] = v * v
	}
	e.mul(b.ffnValue, s.out, hid, n)
	if e.cfg.Version != V7 {
		e.mul(b.ffnReceptance, s.r, xr, n)
		for j := range s.out[:n*c] {
			s.out[j] *= sigmoid(s.r[j])
		}
	}
	for j, o := range s.out[:n*c] {
		s.x[j] += o
	}
}

// groupNorm normalizes each head's N channels of every row of y in place, then
// applies the per-channel affine ln_x.
func (e *Engine) groupNorm(y []float32, n int, w, b []float32) {
	c, hs := e.cfg.Embd, e.cfg.HeadSize
	for t := range n {
		for h := range e.cfg.Heads {
			o := t*c + h*hs
			normalizeInto(y[o:o+hs], y[o:o+hs], w[h*hs:(h+1)*hs], b[h*hs:(h+1)*hs], e.cfg.GroupNormEps)
		}
	}
}

// layerNorm writes LN(src; w, b) to dst, with biased variance.
func layerNorm(dst, src, w, b []float32, eps float32) {
	normalizeInto(dst, src, w, b, eps)
}

// normalizeInto is LayerNorm over the whole of src. Mean and variance are summed in
// float64 so the result does not drift with width; dst may alias src.
func normalizeInto(dst, src, w, b []float32, eps float32) {
	var sum float64
	for _, v := range src {
		sum += float64(v)
	}
	mean := sum / float64(len(src))
	var sq float64
	for _, v := range src {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(src))+float64(eps))
	for i, v := range src {
		dst[i] = float32((float64(v)-mean)*inv)*w[i] + b[i]
	}
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

func tanh(x float32) float32 { return float32(math.Tanh(float64(x))) }
