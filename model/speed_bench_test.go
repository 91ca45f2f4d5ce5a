package model

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/model/kernel/simd"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
)

// Engine speed on real model shapes with synthetic weights (built in about a second
// for v7-0.1b), as `make bench` prints it (issue #8):
//
//	go test -run '^$' -bench 'Engine(TG128|PP512)' -benchtime 2x ./model/
//
// tg128 generates 128 tokens one at a time from a zero state, computing the logits of
// every token; pp512 prefills a 512-token prompt and computes the last logits. Both
// use 2 threads. The weights are random: the speed is real, the text would be noise.
// Besides tok/s (wall clock) they report cpu-ms/tok, the process's CPU time per
// token, which a busy shared machine disturbs less.

// speedModels are the synthetic shapes measured: v7-0.1b (the target shape)
// unless RWKVBENCH_SYNTHETIC lists others, comma separated (for example
// "v7-0.1b,v7-0.4b,v6-1.6b"; see synthetic.Names). Larger shapes need their full
// float32 size in memory (v7-1.5b about 6 GB).
func speedModels() []string {
	if env := os.Getenv("RWKVBENCH_SYNTHETIC"); env != "" {
		return strings.Split(env, ",")
	}
	return []string{"v7-0.1b"}
}

// reportSpeed records tok/s and, where the platform reports it, CPU ms per token.
func reportSpeed(b *testing.B, tokens int, cpuStart float64) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tok/s")
	if cpuStart >= 0 {
		b.ReportMetric((processCPU()-cpuStart)*1e3/float64(tokens), "cpu-ms/tok")
	}
}

// speedEngines runs fn on a 2-thread engine for every speed model and weight storage.
func speedEngines(b *testing.B, fn func(b *testing.B, e *Engine)) {
	b.Logf("synthetic weights (random values, real shapes); %s", simd.CPU())
	for _, name := range speedModels() {
		m, err := Load(synthetic.PathPrefix + strings.TrimSpace(name))
		if err != nil {
			b.Fatal(err)
		}
		for _, storage := range []string{"f32", "f16", "int8"} {
			b.Run("synthetic-"+name+"/"+storage+"/threads=2", func(b *testing.B) {
				e, err := NewEngine(m, Options{Threads: 2, WeightStorage: storage})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				fn(b, e)
			})
		}
	}
}

func BenchmarkEngineTG128(b *testing.B) {
	const n = 128
	speedEngines(b, func(b *testing.B, e *Engine) {
		logits := make([]float32, e.VocabSize())
		cpu := processCPU()
		for b.Loop() {
			e.Reset()
			tok := 0
			for range n {
				if err := e.Forward(context.Background(), []int{tok}, logits); err != nil {
					b.Fatal(err)
				}
				tok = argmax(logits)
			}
		}
		reportSpeed(b, n*b.N, cpu)
	})
}

func BenchmarkEnginePP512(b *testing.B) {
	const n = 512
	speedEngines(b, func(b *testing.B, e *Engine) {
		tokens := randomTokens(n, e.VocabSize(), 1)
		logits := make([]float32, e.VocabSize())
		cpu := processCPU()
		for b.Loop() {
			e.Reset()
			if err := e.Forward(context.Background(), tokens, logits); err != nil {
				b.Fatal(err)
			}
		}
		reportSpeed(b, n*b.N, cpu)
	})
}
