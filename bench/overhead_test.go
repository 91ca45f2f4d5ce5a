package bench_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model"
)

// keepSink keeps recorded samples in memory.
type keepSink struct{ samples []bench.Sample }

func (k *keepSink) Done(context.Context, bench.Cell) (bool, error) { return false, nil }
func (k *keepSink) Record(_ context.Context, _ bench.Cell, s []bench.Sample) error {
	k.samples = append(k.samples, s...)
	return nil
}
func (k *keepSink) Fail(context.Context, bench.Cell, string) error { return nil }

const overheadTokens = 128

func tinyEngine(b *testing.B) *model.Engine {
	b.Helper()
	m, err := model.Load(fixtures.Path(b, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	e, err := model.NewEngine(m, model.Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// BenchmarkTGHarness measures tg128 on the tiny v7 model through the Runner and
// reports the rate the harness records ("harness-tok/s") beside the rate the Go
// benchmark clock sees over the same timed steps ("tok/s"). Compare with
// BenchmarkTGBareLoop: the harness's figure should be within 1% of the bare loop's.
func BenchmarkTGHarness(b *testing.B) {
	e := tinyEngine(b)
	sink := &keepSink{}
	r := &bench.Runner{
		RunID: "bench", Repetitions: 1, Seed: 1, Sink: sink,
		Tests: []bench.Test{{Kind: bench.Generation, Generate: overheadTokens}},
	}
	target := bench.Target{
		Cell: bench.Cell{Model: "tiny-v7", Precision: "fp32"},
		Open: func(context.Context) (model.Session, error) { return nopClose{e}, nil },
	}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := r.Run(ctx, []bench.Target{target}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	rates := bench.Values(sink.samples, bench.MetricGenerationTokensPerSecond)
	b.ReportMetric(bench.Summarize(rates, 0.95).Median, "harness-tok/s")
}

// BenchmarkTGBareLoop is the same generation as tg128 written directly against the
// engine: one untimed start token, then 128 single-token Forward calls.
func BenchmarkTGBareLoop(b *testing.B) {
	e := tinyEngine(b)
	ctx := context.Background()
	logits := make([]float32, e.VocabSize())
	step := []int{0}
	var timed time.Duration
	b.ResetTimer()
	for range b.N {
		e.Reset()
		step[0] = 1
		if err := e.Forward(ctx, step, logits); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := range overheadTokens {
			step[0] = (i*7 + 3) % 256
			if err := e.Forward(ctx, step, logits); err != nil {
				b.Fatal(err)
			}
		}
		timed += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(overheadTokens*b.N)/timed.Seconds(), "bare-tok/s")
}

// nopClose lets one engine serve every Open of a benchmark.
type nopClose struct{ *model.Engine }

func (nopClose) Close() error { return nil }
