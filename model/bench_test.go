package model

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

// Engine speed. Timing targets live here, never in tests: run with
// go test -run '^$' -bench . ./model/

func benchModels(b *testing.B) map[string]*Model {
	tiny, err := Load(fixtures.Path(b, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tiny.Close() })
	// One layer of the 0.1B World v7 shape (C=768, H=12, F=3072) with a small vocab:
	// per-layer cost of a real model without its 200 MB embedding and head.
	wide := shape{layers: 1, embd: 768, heads: 12, vocab: 1024, ffn: 3072, decay: 64, alpha: 64, value: 32, gate: 128}
	return map[string]*Model{
		"tiny-7v0":        tiny,
		"v7-C768-layer":   randomModel(b, V7, wide, 1),
		"v6-C768-layer":   randomModel(b, V6, shape{layers: 1, embd: 768, heads: 12, vocab: 1024, ffn: 2688, mix: 32, decay: 64}, 1),
		"v5.2-C768-layer": randomModel(b, V5_2, shape{layers: 1, embd: 768, heads: 12, vocab: 1024, ffn: 2688}, 1),
	}
}

// BenchmarkDecode is one token at a time with the logits computed, as in generation.
func BenchmarkDecode(b *testing.B) {
	for name, m := range benchModels(b) {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(b *testing.B) {
				e, err := NewEngine(m, Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				logits := make([]float32, e.VocabSize())
				tok := 0
				for b.Loop() {
					if err := e.Forward(context.Background(), []int{tok}, logits); err != nil {
						b.Fatal(err)
					}
					tok = argmax(logits)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

// BenchmarkPrefill feeds a 64-token prompt from a zero state and computes the last
// position's logits, as before the first generated token.
func BenchmarkPrefill(b *testing.B) {
	const n = 64
	for name, m := range benchModels(b) {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(b *testing.B) {
				e, err := NewEngine(m, Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				tokens := randomTokens(n, m.Config.Vocab, 1)
				logits := make([]float32, e.VocabSize())
				for b.Loop() {
					e.Reset()
					if err := e.Forward(context.Background(), tokens, logits); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
