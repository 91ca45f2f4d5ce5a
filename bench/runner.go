package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rwkvbench/rwkvbench/model"
)

// Target is one model at one precision on one device: a way to open sessions, and
// the cell fields (everything but Test) that identify its results.
type Target struct {
	Cell Cell
	// Simulated marks every sample of the target (for example a fake-quantized
	// precision on the CPU engine).
	Simulated bool
	// Open loads the model and returns a ready session. Its duration is the load
	// time, so it should do everything a user waits for before the first token.
	Open func(ctx context.Context) (model.Session, error)
	// DropCaches, if set, evicts whatever earlier loads left cached (the model
	// file's page cache on the host; the device's caches where it allows), so
	// that every load-cold repetition is cold. When nil, load-cold has exactly one
	// sample: the target's first Open in this run.
	DropCaches func(ctx context.Context) error
	// Loaded says the caller has already loaded the model in this process (to
	// calibrate, say), so that without DropCaches no cold load is left to measure.
	Loaded bool
}

// Sink receives finished cells. A Sink backed by the results store writes a cell's
// samples and its done mark in one transaction, so that a crash leaves each cell
// either complete or absent and a resumed run measures no cell twice.
type Sink interface {
	// Done reports whether a cell of the run is already recorded.
	Done(ctx context.Context, c Cell) (bool, error)
	// Record stores all samples of a cell, warm-ups included, and marks it done.
	Record(ctx context.Context, c Cell, samples []Sample) error
	// Fail marks a cell that could not be measured, with the reason, so that the
	// table shows it as NA instead of dropping it. A later resume retries it.
	Fail(ctx context.Context, c Cell, reason string) error
}

// Runner measures targets test by test and hands each finished cell to Sink.
type Runner struct {
	RunID          string
	HarnessVersion string
	Tests          []Test
	// Repetitions is the number of measured runs per cell; Warmup runs come
	// first, are recorded with Warmup set and never enter statistics.
	Repetitions, Warmup int
	// Seed fixes the token inputs: the same seed gives every run, target and
	// device the same tokens.
	Seed uint64
	// Greedy feeds each generated token back (argmax of the logits) instead of
	// fixed-seed random tokens; the argmax is then part of the timed loop.
	Greedy   bool
	Cooldown Cooldown
	// Thermal tags samples with the device's state before and after each run and
	// gates the cool-down; nil when the device cannot tell.
	Thermal Thermal
	// Memory, when set, adds peak_rss_bytes and peak_pss_bytes samples to each
	// prefill/generation/TTFT cell.
	Memory Memory
	Sink   Sink
	// Log receives one line per cell; nil discards them.
	Log io.Writer
}

// Run measures every test of every target in order. A cell that fails is marked
// failed and the run goes on; Run returns an error only when it cannot continue
// (cancellation, a sink that cannot record).
func (r *Runner) Run(ctx context.Context, targets []Target) error {
	if r.Sink == nil {
		return errors.New("bench: runner has no sink")
	}
	if r.Repetitions < 1 {
		return fmt.Errorf("bench: %d repetitions, need at least 1", r.Repetitions)
	}
	if r.Warmup < 0 {
		return fmt.Errorf("bench: %d warm-up runs, need 0 or more", r.Warmup)
	}
	for i := range targets {
		if err := r.runTarget(ctx, &targets[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

func (r *Runner) runTarget(ctx context.Context, t *Target) error {
	if t.Open == nil {
		return fmt.Errorf("bench: target %s %s has no Open", t.Cell.Model, t.Cell.Precision)
	}
	// Load tests come first: without DropCaches the first Open is the only cold one.
	var tests []Test
	for _, k := range []TestKind{LoadCold, LoadWarm} {
		for _, test := range r.Tests {
			if test.Kind == k {
				tests = append(tests, test)
			}
		}
	}
	for _, test := range r.Tests {
		if test.Kind != LoadCold && test.Kind != LoadWarm {
			tests = append(tests, test)
		}
	}

	var sess model.Session
	var openErr error
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	opened := t.Loaded
	for _, test := range tests {
		cell := t.Cell
		cell.Test = test.String()
		done, err := r.Sink.Done(ctx, cell)
		if err != nil {
			return fmt.Errorf("cell %s %s %s: %w", cell.Model, cell.Precision, cell.Test, err)
		}
		if done {
			r.logf("%s %s %s: already recorded, skipped", cell.Model, cell.Precision, cell.Test)
			continue
		}
		var samples []Sample
		var runErr error
		switch test.Kind {
		case LoadCold, LoadWarm:
			samples, runErr = r.measureLoad(ctx, t, cell, test, opened)
			opened = true
		default:
			if sess == nil && openErr == nil {
				sess, openErr = t.Open(ctx)
				opened = true
			}
			if openErr != nil {
				runErr = fmt.Errorf("open: %w", openErr)
				break
			}
			samples, runErr = r.measureSession(ctx, t, cell, test, sess)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if runErr != nil {
			r.logf("%s %s %s: failed: %v", cell.Model, cell.Precision, cell.Test, runErr)
			if err := r.Sink.Fail(ctx, cell, runErr.Error()); err != nil {
				return fmt.Errorf("cell %s %s %s: mark failed: %w", cell.Model, cell.Precision, cell.Test, err)
			}
			continue
		}
		if err := r.Sink.Record(ctx, cell, samples); err != nil {
			return fmt.Errorf("cell %s %s %s: record: %w", cell.Model, cell.Precision, cell.Test, err)
		}
		r.logf("%s %s %s: %d samples", cell.Model, cell.Precision, cell.Test, len(samples))
	}
	return nil
}

// runs returns the rep numbers of a cell's runs in order: warm-ups count down
// from -1, measured runs up from 0.
func (r *Runner) runs(warmup int) []int {
	reps := make([]int, 0, warmup+r.Repetitions)
	for i := warmup; i >= 1; i-- {
		reps = append(reps, -i)
	}
	for i := 0; i < r.Repetitions; i++ {
		reps = append(reps, i)
	}
	return reps
}

// thermal reads the device state for a sample tag; "" when unknown.
func (r *Runner) thermal(ctx context.Context) string {
	if r.Thermal == nil {
		return ""
	}
	s, err := r.Thermal.ThermalState(ctx)
	if err != nil {
		return ""
	}
	return s.String()
}

// prepare waits out the cool-down and returns the thermal tag before a run.
func (r *Runner) prepare(ctx context.Context) (string, error) {
	err := r.Cooldown.wait(ctx, r.Thermal)
	if err != nil && !errors.Is(err, errCooldownTimeout) {
		return "", err
	}
	tag := r.thermal(ctx)
	if err != nil {
		tag = strings.TrimSpace(tag + " (cool-down timed out)")
	}
	return tag, nil
}

func (r *Runner) sample(t *Target, cell Cell, rep int, metric, unit string, value float64) Sample {
	return Sample{
		Cell:           cell,
		RunID:          r.RunID,
		HarnessVersion: r.HarnessVersion,
		Metric:         metric,
		Unit:           unit,
		Value:          value,
		Rep:            rep,
		Warmup:         rep < 0,
		Time:           time.Now().UTC(),
		Simulated:      t.Simulated,
	}
}

func (r *Runner) measureLoad(ctx context.Context, t *Target, cell Cell, test Test, opened bool) ([]Sample, error) {
	var reps []int
	switch {
	case test.Kind == LoadWarm:
		reps = r.runs(r.Warmup)
		if !opened {
			// The first load of the process is cold; it is a warm-up here.
			reps = r.runs(max(r.Warmup, 1))
		}
	case t.DropCaches != nil:
		reps = r.runs(0) // a warm-up would only warm what is then dropped
	case opened:
		return nil, errors.New("cold load not measurable: the model was already loaded and the device cannot drop caches")
	default:
		reps = []int{0}
	}
	var samples []Sample
	for _, rep := range reps {
		if test.Kind == LoadCold && t.DropCaches != nil {
			if err := t.DropCaches(ctx); err != nil {
				return nil, fmt.Errorf("drop caches: %w", err)
			}
		}
		before, err := r.prepare(ctx)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		sess, err := t.Open(ctx)
		elapsed := time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("open: %w", err)
		}
		if err := sess.Close(); err != nil {
			return nil, fmt.Errorf("close: %w", err)
		}
		s := r.sample(t, cell, rep, MetricLoadMillis, "ms", float64(elapsed)/float64(time.Millisecond))
		s.ThermalBefore, s.ThermalAfter = before, r.thermal(ctx)
		samples = append(samples, s)
	}
	return samples, nil
}

// inputs holds a cell's token inputs and output buffer, allocated once so that the
// timed loops allocate nothing.
type inputs struct {
	prompt []int     // prefill tokens
	gen    []int     // generation inputs: gen[0] starts, gen[i] is fed at step i
	logits []float32 // one row
	step   []int     // the one-token slice fed at each generation step
}

func (r *Runner) inputs(test Test, vocab int) *inputs {
	// One stream per test kind and length, so that adding a test does not change
	// the tokens of another.
	rng := rand.New(rand.NewPCG(r.Seed, uint64(test.Kind)<<40|uint64(test.Prompt)<<20|uint64(test.Generate)))
	in := &inputs{
		prompt: make([]int, test.Prompt),
		gen:    make([]int, test.Generate+1),
		logits: make([]float32, vocab),
		step:   make([]int, 1),
	}
	for i := range in.prompt {
		in.prompt[i] = rng.IntN(vocab)
	}
	for i := range in.gen {
		in.gen[i] = rng.IntN(vocab)
	}
	return in
}

func (r *Runner) measureSession(ctx context.Context, t *Target, cell Cell, test Test, sess model.Session) ([]Sample, error) {
	vocab := sess.VocabSize()
	if vocab < 1 {
		return nil, fmt.Errorf("session reports vocabulary size %d", vocab)
	}
	in := r.inputs(test, vocab)
	if r.Memory != nil {
		if err := r.Memory.ResetPeak(); err != nil {
			r.logf("%s %s %s: peak memory covers the whole process: %v", cell.Model, cell.Precision, cell.Test, err)
		}
	}
	var samples []Sample
	for _, rep := range r.runs(r.Warmup) {
		before, err := r.prepare(ctx)
		if err != nil {
			return nil, err
		}
		var got []Sample
		switch test.Kind {
		case Prefill:
			d, err := r.prefill(ctx, sess, in)
			if err != nil {
				return nil, err
			}
			got = append(got, r.sample(t, cell, rep, MetricPrefillTokensPerSecond, "tok/s", perSecond(test.Prompt, d)))
		case Generation:
			sess.Reset()
			d, err := r.generate(ctx, sess, in, true)
			if err != nil {
				return nil, err
			}
			got = append(got, r.sample(t, cell, rep, MetricGenerationTokensPerSecond, "tok/s", perSecond(test.Generate, d)))
		case PrefillGeneration:
			dp, err := r.prefill(ctx, sess, in)
			if err != nil {
				return nil, err
			}
			dg, err := r.generate(ctx, sess, in, false)
			if err != nil {
				return nil, err
			}
			got = append(got,
				r.sample(t, cell, rep, MetricTokensPerSecond, "tok/s", perSecond(test.Prompt+test.Generate, dp+dg)),
				r.sample(t, cell, rep, MetricPrefillTokensPerSecond, "tok/s", perSecond(test.Prompt, dp)),
				r.sample(t, cell, rep, MetricGenerationTokensPerSecond, "tok/s", perSecond(test.Generate, dg)))
		case TTFT:
			d, err := r.ttft(ctx, sess, in)
			if err != nil {
				return nil, err
			}
			got = append(got, r.sample(t, cell, rep, MetricTTFTMillis, "ms", float64(d)/float64(time.Millisecond)))
		default:
			return nil, fmt.Errorf("test %s cannot run on an open session", test)
		}
		after := r.thermal(ctx)
		for i := range got {
			got[i].ThermalBefore, got[i].ThermalAfter = before, after
		}
		samples = append(samples, got...)
	}
	if r.Memory != nil {
		u, err := r.Memory.Usage()
		if err != nil {
			r.logf("%s %s %s: no memory reading: %v", cell.Model, cell.Precision, cell.Test, err)
		}
		if u.PeakRSS >= 0 {
			samples = append(samples, r.sample(t, cell, 0, MetricPeakRSSBytes, "bytes", float64(u.PeakRSS)))
		}
		if u.PSS >= 0 {
			samples = append(samples, r.sample(t, cell, 0, MetricPeakPSSBytes, "bytes", float64(u.PSS)))
		}
	}
	return samples, nil
}

func perSecond(tokens int, d time.Duration) float64 {
	return float64(tokens) / d.Seconds()
}

// prefill times one Forward over the prompt from a fresh state, asking for the
// last position's logits as a generating caller would.
func (r *Runner) prefill(ctx context.Context, sess model.Session, in *inputs) (time.Duration, error) {
	sess.Reset()
	start := time.Now()
	if err := sess.Forward(ctx, in.prompt, in.logits); err != nil {
		return 0, fmt.Errorf("prefill %d tokens: %w", len(in.prompt), err)
	}
	return time.Since(start), nil
}

// generate times len(gen)-1 single-token steps from the session's current state.
// A tgM run starts from one untimed token (gen[0]) as llama-bench does; after a
// prefill the prompt is the start.
func (r *Runner) generate(ctx context.Context, sess model.Session, in *inputs, startToken bool) (time.Duration, error) {
	if startToken {
		in.step[0] = in.gen[0]
		if err := sess.Forward(ctx, in.step, in.logits); err != nil {
			return 0, fmt.Errorf("generation start token: %w", err)
		}
	}
	start := time.Now()
	if err := r.steps(ctx, sess, in); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// steps is the timed generation loop; it must not allocate (TestGenerationDoesNotAllocatePerToken).
func (r *Runner) steps(ctx context.Context, sess model.Session, in *inputs) error {
	for i := 1; i < len(in.gen); i++ {
		if r.Greedy {
			in.step[0] = argmax(in.logits)
		} else {
			in.step[0] = in.gen[i]
		}
		if err := sess.Forward(ctx, in.step, in.logits); err != nil {
			return fmt.Errorf("generation step %d: %w", i, err)
		}
	}
	return nil
}

// ttft times the prompt's prefill plus the first decode step, as the project
// defines time to first token (docs/harness-expectations.md): the prefill's logits
// pick the first token (argmax) and one decode step consumes it, so the leftover
// and per-step costs a prefill-only figure hides are included.
func (r *Runner) ttft(ctx context.Context, sess model.Session, in *inputs) (time.Duration, error) {
	sess.Reset()
	start := time.Now()
	if err := sess.Forward(ctx, in.prompt, in.logits); err != nil {
		return 0, fmt.Errorf("prefill %d tokens: %w", len(in.prompt), err)
	}
	in.step[0] = argmax(in.logits)
	if err := sess.Forward(ctx, in.step, in.logits); err != nil {
		return 0, fmt.Errorf("first decode step: %w", err)
	}
	return time.Since(start), nil
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
