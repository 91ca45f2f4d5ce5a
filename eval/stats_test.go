package eval

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkScorePositionWorld measures the per-position cost of scoring against
// a World-size vocabulary with a reference being saved: log-softmax, top-32 and
// the rest mass. It is the evaluator's overhead on top of the model.
func BenchmarkScorePositionWorld(b *testing.B) {
	const vocab = 65536
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, vocab)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	lp := make([]float64, vocab)
	prob := make([]float64, vocab)
	mark := make([]bool, vocab)
	var top []tokenLogprob
	for b.Loop() {
		if _, err := logSoftmax(logits, lp, prob); err != nil {
			b.Fatal(err)
		}
		top = topK(lp, DefaultTopK, top)
		restLogMass(prob, top, mark)
	}
}
