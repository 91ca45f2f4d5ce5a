package eval

import (
	"bytes"
	"context"
	"testing"

	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// worldFake is a World-vocabulary fake: logits are a fixed pseudo-random function
// of the last token, so every position has a different, full-width distribution.
type worldFake struct{ last int }

func (w *worldFake) VocabSize() int { return tokenizer.WorldVocabSize }
func (w *worldFake) Reset()         { w.last = -1 }
func (w *worldFake) Close() error   { return nil }
func (w *worldFake) Forward(ctx context.Context, tokens []int, logits []float32) error {
	w.last = tokens[len(tokens)-1]
	seed := uint32(w.last)*2654435761 + 1
	for i := range logits {
		seed = seed*1664525 + 1013904223
		logits[i] = float32(seed>>8) / float32(1<<24) * 8
	}
	return nil
}

// TestWorldVocabReference runs the full-width path: World tokenizer, 65536 logits,
// prefix 0, a K=32 reference saved and compared with itself.
func TestWorldVocabReference(t *testing.T) {
	w, err := tokenizer.World()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"I look at him, feeling stunned. But I don't care about signs", "今天是美好的一天。 Today is a beautiful day"}
	var ref bytes.Buffer
	res, err := Lambada(context.Background(), &worldFake{}, w, docs(texts...), Options{SaveReference: &ref})
	if err != nil {
		t.Fatal(err)
	}
	// " signs" and " day" are one World token each.
	if res.TargetTokens != 2 || res.Tokenizer != "world" || res.PrefixToken != 0 {
		t.Errorf("result %+v", res)
	}
	// 2 positions × (4+8 + 32×12 + 8) bytes plus headers, before compression.
	self, err := Lambada(context.Background(), &worldFake{}, w, docs(texts...), Options{Reference: &ref})
	if err != nil {
		t.Fatal(err)
	}
	if k := self.KLD; k.Mean != 0 || k.Top1Agreement != 1 || k.Positions != 2 {
		t.Errorf("self comparison %+v", k)
	}
}
