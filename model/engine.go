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
const chunkTokens = 128

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

	// The operands of the loop in flight, and the loops themselves as method values
	// bound once in NewEngine, so that a token step allocates nothing.
	scan                    scanArgs
	scan56Heads, scan7Heads func(lo, hi int) // scan56Range and scan7Range
	cur                     current
	rows                    func(lo, hi int) // stageRows
	observeRows             func(lo, hi int) // observeRange
	seen                    observation
	rowwise                 bool // the hook is a RowwiseHook
	products                [8]kernel.Product
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
	e.scan56Heads, e.scan7Heads, e.rows, e.observeRows = e.scan56Range, e.scan7Range, e.stageRows, e.observeRange
	_, e.rowwise = opts.Hook.(RowwiseHook)
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
	switch len(logits) {
	case 0, v, len(tokens) * v:
	default:
		return fmt.Errorf("forward: logits buffer has %d values; want 0, %d (last position) or %d (%d positions × %d)",
			len(logits), v, len(tokens)*v, len(tokens), v)
	}
	return e.forward(ctx, tokens, logits)
}

// ForwardTail is Forward returning the logits of the last k positions, row by row,
// where len(logits) = k·VocabSize and 1 ≤ k ≤ len(tokens). Scoring a continuation
// needs the logits at its own positions only: the context and the continuation then
// go through sequence mode together, and the head runs over k rows rather than all.
func (e *Engine) ForwardTail(ctx context.Context, tokens []int, logits []float32) error {
	v := e.cfg.Vocab
	if len(logits) == 0 || len(logits)%v != 0 || len(logits)/v > len(tokens) {
		return fmt.Errorf("forward: logits buffer has %d values; want k×%d for the last k of %d positions, k ≥ 1",
			len(logits), v, len(tokens))
	}
	return e.forward(ctx, tokens, logits)
}

// forward feeds tokens and writes the logits of the last len(logits)/V positions.
func (e *Engine) forward(ctx context.Context, tokens []int, logits []float32) error {
	v := e.cfg.Vocab
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
	firstLogit := len(tokens) - len(logits)/v // first position whose logits are wanted
	for start := 0; start < len(tokens); start += chunkTokens {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("forward: stopped after %d of %d tokens: %w", start, len(tokens), err)
		}
		end := min(start+chunkTokens, len(tokens))
		from := max(firstLogit, start)
		var out []float32
		if from < end {
			out = logits[(from-firstLogit)*v : (end-firstLogit)*v]
		}
		e.run(tokens[start:end], out, from-start)
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
	first  []float32    // v7 v_first, T×C
	hidden []float32    // channel-mix hidden layer, T×F
	lora   [4][]float32 // LoRA hidden layers (v7: w, a, g, v), T×max LoRA width
	loraIn []float32    // T×max LoRA input width
	wide   []float32    // v6 mixing LoRA output, T×5C
	head   []float32    // ln_out rows, T×C
	prev   []float32    // the state's token shift before this chunk, C
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
		kk: mk(c), y: mk(c), out: mk(c), first: mk(c), hidden: mk(f), loraIn: mk(lora),
		wide: mk(5 * c), head: mk(c), prev: make([]float32, c)}
	for i := range s.mix {
		s.mix[i] = mk(c)
	}
	for i := range s.lora {
		s.lora[i] = mk(lora)
	}
	return s
}

// run pushes one chunk through the model. out receives the logits of rows first and
// after, when it is not empty.
func (e *Engine) run(tokens []int, out []float32, first int) {
	n, c := len(tokens), e.cfg.Embd
	s := e.scratchFor(n)
	for t, tok := range tokens {
		copy(s.x[t*c:(t+1)*c], e.model.emb[tok*c:(tok+1)*c])
	}
	e.cur = current{s: s, n: n}
	for i := range e.model.blocks {
		b := &e.model.blocks[i]
		e.cur.layer, e.cur.b = i, b
		switch e.cfg.Version {
		case V5_2, V6:
			e.timeMix56(i, b, s, n)
		case V7:
			e.timeMix7(i, b, s, n)
		}
		e.channelMix(i, b, s, n)
	}
	if len(out) != 0 {
		rows := n - first
		for t := range rows {
			layerNorm(s.head[t*c:(t+1)*c], s.x[(first+t)*c:(first+t+1)*c], e.model.lnOutW, e.model.lnOutB, layerNormEps)
		}
		e.mul(e.model.head, out, s.head, rows)
	}
	e.cur = current{}
}

// current is the layer and chunk the per-token stages work on.
type current struct {
	s      *scratch
	n      int
	layer  int
	b      *block
	stage  stage
	lnW    []float32 // stageNorm's LayerNorm
	lnB    []float32
	square []float32 // stageSquare's rows
}

// stage is one per-token loop of a layer. In sequence mode the pool's threads share
// its rows; one row (decode) runs on the caller.
type stage uint8

const (
	stageNorm     stage = iota // s.norm = LN(s.x)
	stageMix7                  // v7 token-shift mixes into s.mix
	stageDecay7                // v7 LoRA activations, decay, a, kk, k, v residual
	stageOut7                  // v7 GroupNorm, bonus and gate into s.y
	stageMix56                 // v5.2 token-shift mixes
	stageDecay6                // v6 decay exp(-exp(·))
	stageOut56                 // v5.2/v6 SiLU gate, GroupNorm and gate into s.y
	stageMixFFN                // channel-mix token shift
	stageSquare                // relu² of cur.square
	stageFFNOut                // v5.2/v6 receptance gate of the channel mix
	stageResidual              // s.x += s.out
)

// forRows runs st over the chunk's tokens.
func (e *Engine) forRows(st stage) {
	e.cur.stage = st
	n := e.cur.n
	if n < 4 {
		e.stageRows(0, n)
		return
	}
	e.pool.Run(n, e.pool.Threads(), e.rows)
}

// stageRows runs the current stage over tokens [lo, hi).
func (e *Engine) stageRows(lo, hi int) {
	c, cur := e.cfg.Embd, &e.cur
	s, b := cur.s, cur.b
	for t := lo; t < hi; t++ {
		row := func(v []float32) []float32 { return v[t*c : (t+1)*c] }
		switch cur.stage {
		case stageNorm:
			layerNorm(row(s.norm), row(s.x), cur.lnW, cur.lnB, layerNormEps)
		case stageMix7:
			e.mix7(b, s, t)
		case stageDecay7:
			e.decay7(b, s, t)
		case stageOut7:
			e.out7(b, s, t)
		case stageMix56:
			e.mix5(b, s, t)
		case stageDecay6:
			w := row(s.w)
			for j, base := range b.decayBase {
				w[j] += base
			}
			simd.Exp(w)
			for j := range w {
				w[j] = -w[j]
			}
			simd.Exp(w)
		case stageOut56:
			e.out56(b, s, t)
		case stageMixFFN:
			e.mixFFN(b, s, t)
		case stageSquare:
			f := len(cur.square) / cur.n
			for j, v := range cur.square[t*f : (t+1)*f] {
				v = max(v, 0)
				cur.square[t*f+j] = v * v
			}
		case stageResidual:
			x := row(s.x)
			for j, o := range row(s.out) {
				x[j] += o
			}
		case stageFFNOut:
			out, r := row(s.out), row(s.r)
			simd.Sigmoid(r)
			for j := range out {
				out[j] *= r[j]
			}
		}
	}
}

// observe passes n rows of activations at point p to the hook, if any. A row-wise
// hook (RowwiseHook) gets them in parts, on the pool's threads.
func (e *Engine) observe(p Point, x []float32, n int) {
	if e.hook == nil {
		return
	}
	if !e.rowwise || n < 4 {
		e.hook.Activation(p, x)
		return
	}
	e.seen = observation{point: p, x: x, width: len(x) / n}
	e.pool.Run(n, e.pool.Threads(), e.observeRows)
	e.seen = observation{}
}

// observation is the argument of the row-wise hook call in flight.
type observation struct {
	point Point
	x     []float32
	width int
}

func (e *Engine) observeRange(lo, hi int) {
	o := &e.seen
	e.hook.Activation(o.point, o.x[lo*o.width:hi*o.width])
}

// mul is dst = W·src for n rows, with the hook around it.
func (e *Engine) mul(l linear, dst, src []float32, n int) {
	e.observe(l.in, src[:n*l.m.Cols], n)
	l.m.MulMat(e.pool, dst, src, n)
	e.observe(l.out, dst[:n*l.m.Rows], n)
}

// projection is one entry of mulAll.
type projection struct {
	l        linear
	dst, src []float32
}

// mulAll computes products that do not depend on one another over n rows as one
// pool job. With a hook they run one at a time, in order, each observed before and
// after, because a hook may rewrite an input that a later product shares.
func (e *Engine) mulAll(n int, products ...projection) {
	if e.hook != nil || len(products) > len(e.products) {
		for _, p := range products {
			e.mul(p.l, p.dst, p.src, n)
		}
		return
	}
	for i, p := range products {
		e.products[i] = kernel.Product{M: p.l.m, Dst: p.dst, X: p.src, N: n}
	}
	e.pool.Mul(e.products[:len(products)]...)
	clear(e.products[:len(products)])
}

// normalize writes LN(x) of every row into s.norm, keeps the mixer's previous
// token-shift vector in s.prev for row 0 (see shifted), and stores the last row in
// prev for the next chunk. The hook sees the normalized rows at point before they
// become the token-shift state: on the device the state is this tensor's encoding.
func (e *Engine) normalize(s *scratch, n int, w, b, prev []float32, point Point) {
	c := e.cfg.Embd
	e.cur.lnW, e.cur.lnB = w, b
	e.forRows(stageNorm)
	e.observe(point, s.norm[:n*c], n)
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
		e.forRows(stageMix56)
	} else {
		e.mixV6(layer, b, s, n)
	}
	e.mulAll(n,
		projection{b.receptance, s.r, xr},
		projection{b.key, s.k, xk},
		projection{b.value, s.v, xv},
		projection{b.gate, s.g, xg})
	decay, decayStride := b.decay, 0
	if e.cfg.Version == V6 {
		decay, decayStride = s.w, c
	}
	e.scan56(st.WKV[layer], s, n, decay, decayStride, b.bonus)
	e.forRows(stageOut56)
	e.mul(b.output, s.out, s.y, n)
	e.forRows(stageResidual)
}

// mix5 is v5.2's token-shift mixes of row t.
func (e *Engine) mix5(b *block, s *scratch, t int) {
	c := e.cfg.Embd
	cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
	xr, xk, xv, xg := s.mix[0][t*c:], s.mix[1][t*c:], s.mix[2][t*c:], s.mix[3][t*c:]
	for j := range c {
		x, p := cur[j], prev[j]
		xk[j] = x*b.mixK[j] + p*(1-b.mixK[j])
		xv[j] = x*b.mixV[j] + p*(1-b.mixV[j])
		xr[j] = x*b.mixR[j] + p*(1-b.mixR[j])
		xg[j] = x*b.mixG[j] + p*(1-b.mixG[j])
	}
}

// out56 applies SiLU to row t's gate, normalizes the row's heads and gates them.
func (e *Engine) out56(b *block, s *scratch, t int) {
	c := e.cfg.Embd
	g, y := s.g[t*c:(t+1)*c], s.y[t*c:(t+1)*c]
	e.groupNorm(y, b.lnxW, b.lnxB)
	for j, v := range g {
		y[j] *= v * sigmoid(v)
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
	h5 := s.lora[0][:n*5*dm]
	e.mul(b.maaW1, h5, xxx, n)
	for j, v := range h5 {
		h5[j] = tanh(v)
	}
	// time_maa_w2 is five (Dm → C) products; they are observed as one T×5C block.
	e.observe(b.maaW2[0].in, h5, n)
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
	e.observe(b.maaW2[0].out, s.wide[:n*5*c], n)
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
	hid := s.lora[1][:n*dd]
	e.mul(b.decayW1, hid, xw, n)
	for j, v := range hid {
		hid[j] = tanh(v)
	}
	e.mul(b.decayW2, s.w, hid, n)
	e.forRows(stageDecay6)
}

// scan56 runs the v5/v6 WKV recurrence over n tokens, head by head, writing s.y.
// S is [h][key i][value j]; the decay belongs to the key channel. decay holds one
// row per token (stride C) or a single row for all tokens (stride 0).
func (e *Engine) scan56(state []float32, s *scratch, n int, decay []float32, stride int, bonus []float32) {
	e.scan = scanArgs{state: state, s: s, n: n, decay: decay, stride: stride, bonus: bonus}
	e.pool.Run(e.cfg.Heads, n*e.cfg.Embd*e.cfg.HeadSize/(1<<14), e.scan56Heads)
	e.scan = scanArgs{}
}

// scanArgs are the operands of the WKV scan in flight.
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
	st := e.state
	e.normalize(s, n, b.ln1W, b.ln1B, st.AttX[layer], Point{layer, "ln1.out"})
	e.forRows(stageMix7)
	xr, xw, xk, xv, xa, xg := s.mix[0], s.mix[1], s.mix[2], s.mix[3], s.mix[4], s.mix[5]
	hw, ha, hg, hv := s.lora[0], s.lora[1], s.lora[2], s.lora[3]
	// The projections and the first LoRA factors all read the mixes: one job. The
	// value residual's LoRA exists from layer 1 on (layer 0's v is v_first).
	first := []projection{
		{b.receptance, s.r, xr},
		{b.key, s.k, xk},
		{b.value, s.v, xv},
		{b.w1, hw, xw},
		{b.a1, ha, xa},
		{b.g1, hg, xg},
		{b.v1, hv, xv},
	}
	second := []projection{
		{b.w2, s.w, hw},
		{b.a2, s.a, ha},
		{b.g2, s.g, hg},
		{b.v2, s.out, hv},
	}
	if layer == 0 {
		first, second = first[:6], second[:3]
	}
	e.mulAll(n, first...)
	// Activations between the LoRA factors: tanh for the decay, σ for the gate.
	for j, v := range hw[:n*b.w1.m.Rows] {
		hw[j] = tanh(v)
	}
	simd.Sigmoid(hg[:n*b.g1.m.Rows])
	e.mulAll(n, second...)
	e.forRows(stageDecay7)
	e.scan7(st.WKV[layer], s, n)
	e.forRows(stageOut7)
	e.mul(b.output, s.out, s.y, n)
	e.forRows(stageResidual)
}

// mix7 is v7's token-shift mixes of row t.
func (e *Engine) mix7(b *block, s *scratch, t int) {
	c := e.cfg.Embd
	cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
	xr, xw, xk := s.mix[0][t*c:(t+1)*c], s.mix[1][t*c:(t+1)*c], s.mix[2][t*c:(t+1)*c]
	xv, xa, xg := s.mix[3][t*c:(t+1)*c], s.mix[4][t*c:(t+1)*c], s.mix[5][t*c:(t+1)*c]
	for j := range c {
		x := cur[j]
		d := prev[j] - x
		xr[j] = x + d*b.xR[j]
		xw[j] = x + d*b.xW[j]
		xk[j] = x + d*b.xK[j]
		xv[j] = x + d*b.xV[j]
		xa[j] = x + d*b.xA[j]
		xg[j] = x + d*b.xG[j]
	}
}

// decay7 finishes row t's inputs to the scan from the LoRA outputs:
// w = exp(-e^-0.5·σ(w0 + ·)), a = σ(a0 + ·), kk = normalize(k⊙k_k) per head,
// k ← k·(1 + (a-1)·k_a), the value residual, and b = kk⊙a into s.mix[0] (xr is used
// up by then).
func (e *Engine) decay7(b *block, s *scratch, t int) {
	c, hs := e.cfg.Embd, e.cfg.HeadSize
	o := t * c
	w, a, k, kk := s.w[o:o+c], s.a[o:o+c], s.k[o:o+c], s.kk[o:o+c]
	for j := range w {
		w[j] += b.w0[j]
		a[j] += b.a0[j]
	}
	simd.Sigmoid(w)
	simd.Sigmoid(a)
	for j := range w {
		w[j] *= -v7DecayScale
	}
	simd.Exp(w)
	for h := range e.cfg.Heads {
		var sum float64
		for j := h * hs; j < (h+1)*hs; j++ {
			kk[j] = k[j] * b.kK[j]
			sum += float64(kk[j]) * float64(kk[j])
		}
		inv := float32(1 / max(math.Sqrt(sum), 1e-12))
		for j := h * hs; j < (h+1)*hs; j++ {
			kk[j] *= inv
		}
	}
	for j := range k {
		k[j] *= 1 + (a[j]-1)*b.kA[j]
	}
	v, first := s.v[o:o+c], s.first[o:o+c]
	if e.cur.layer == 0 {
		copy(first, v)
	} else {
		mixV := s.out[o : o+c]
		for j := range mixV {
			mixV[j] += b.v0[j]
		}
		simd.Sigmoid(mixV)
		for j := range v {
			v[j] += (first[j] - v[j]) * mixV[j]
		}
	}
	bv := s.mix[0][o : o+c]
	for j := range bv {
		bv[j] = kk[j] * a[j]
	}
}

// out7 normalizes row t's heads, adds the bonus (r·(k⊙r_k))·v per head, and gates.
func (e *Engine) out7(b *block, s *scratch, t int) {
	c, hs := e.cfg.Embd, e.cfg.HeadSize
	o := t * c
	y, r, k, v, g := s.y[o:o+c], s.r[o:o+c], s.k[o:o+c], s.v[o:o+c], s.g[o:o+c]
	e.groupNorm(y, b.lnxW, b.lnxB)
	for h := range e.cfg.Heads {
		var bonus float32
		for j := h * hs; j < (h+1)*hs; j++ {
			bonus += r[j] * k[j] * b.rK[j]
		}
		for j := h * hs; j < (h+1)*hs; j++ {
			y[j] += bonus * v[j]
		}
	}
	for j := range y {
		y[j] *= g[j]
	}
}

// scan7 runs the v7 generalized delta rule over n tokens, head by head, writing s.y.
// S is [h][value i][key j]. The rank-one update's second vector kk⊙a is in s.mix[0].
func (e *Engine) scan7(state []float32, s *scratch, n int) {
	c, hs := e.cfg.Embd, e.cfg.HeadSize
	e.scan = scanArgs{state: state, s: s, n: n, b: s.mix[0]}
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
	e.normalize(s, n, b.ln2W, b.ln2B, e.state.FFNX[layer], Point{layer, "ln2.out"})
	e.forRows(stageMixFFN)
	xk, xr := s.mix[0], s.mix[1]
	hid := s.hidden[:n*e.cfg.FFN]
	if e.cfg.Version == V7 {
		e.mul(b.ffnKey, hid, xk, n)
	} else {
		e.mulAll(n, projection{b.ffnKey, hid, xk}, projection{b.ffnReceptance, s.r, xr})
	}
	e.cur.square = hid
	e.forRows(stageSquare)
	e.cur.square = nil
	e.mul(b.ffnValue, s.out, hid, n)
	if e.cfg.Version != V7 {
		e.forRows(stageFFNOut)
	}
	e.forRows(stageResidual)
}

// mixFFN is the channel mix's token shift of row t.
func (e *Engine) mixFFN(b *block, s *scratch, t int) {
	c := e.cfg.Embd
	cur, prev := s.norm[t*c:(t+1)*c], s.shifted(t, c)
	xk, xr := s.mix[0][t*c:(t+1)*c], s.mix[1][t*c:(t+1)*c]
	for j := range c {
		x, p := cur[j], prev[j]
		switch e.cfg.Version {
		case V5_2:
			xk[j] = x*b.ffnMixK[j] + p*(1-b.ffnMixK[j])
			xr[j] = x*b.ffnMixR[j] + p*(1-b.ffnMixR[j])
		case V6:
			xk[j] = x + (p-x)*b.ffnMixK[j]
			xr[j] = x + (p-x)*b.ffnMixR[j]
		case V7:
			xk[j] = x + (p-x)*b.ffnMixK[j]
		}
	}
}

// groupNorm normalizes each head's N channels of one row of y in place, then
// applies the per-channel affine ln_x.
func (e *Engine) groupNorm(y, w, b []float32) {
	hs := e.cfg.HeadSize
	for h := range e.cfg.Heads {
		o := h * hs
		normalizeInto(y[o:o+hs], y[o:o+hs], w[o:o+hs], b[o:o+hs], e.cfg.GroupNormEps)
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

// sigmoid is 1/(1+e^-x) with simd's float32 exponential, as simd.Sigmoid computes it
// for whole rows.
func sigmoid(x float32) float32 { return 1 / (1 + simd.Exp32(-x)) }

func tanh(x float32) float32 { return float32(math.Tanh(float64(x))) }
