package eval_test

import (
	"context"
	"fmt"
	"log"

	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/eval"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// uniform is a stand-in model that knows nothing: every byte is equally likely.
type uniform struct{}

func (uniform) VocabSize() int { return 256 }
func (uniform) Reset()         {}
func (uniform) Close() error   { return nil }
func (uniform) Forward(ctx context.Context, tokens []int, logits []float32) error {
	clear(logits)
	return nil
}

func ExampleLambada() {
	docs := []datasets.Doc{{Index: 0, Text: "The cat sat on the mat"}}
	res, err := eval.Lambada(context.Background(), uniform{}, tokenizer.Bytes{}, docs, eval.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// The target " mat" is 4 bytes at probability 1/256 each: ppl = 256⁴.
	fmt.Printf("docs %d, ppl %.0f, acc %.0f\n", res.Docs, res.PPL, res.Acc)
	// Output: docs 1, ppl 4294967296, acc 0
}

func ExampleSplitLambada() {
	context, target, _ := eval.SplitLambada("He looked at the clock. It was late")
	fmt.Printf("%q %q\n", context, target)
	// Output: "He looked at the clock. It was" " late"
}
