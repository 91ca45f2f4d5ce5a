package model_test

import (
	"context"
	"fmt"
	"log"

	"github.com/rwkvbench/rwkvbench/model"
)

// Load a checkpoint, run the bytes `"in` through it from a zero state, and read the
// most likely next byte: a space, for rwkv.cpp's tiny trained v7 model.
func Example() {
	m, err := model.Load("../testdata/rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	e, err := model.NewEngine(m, model.Options{Threads: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	logits := make([]float32, e.VocabSize())
	if err := e.Forward(context.Background(), []int{'"', 'i', 'n'}, logits); err != nil {
		log.Fatal(err)
	}
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	c := m.Config
	fmt.Printf("RWKV %s, L=%d C=%d H=%d, %d parameters\n", c.Version, c.Layers, c.Embd, c.Heads, c.Params)
	fmt.Printf("next byte %q, logit %.4f\n", rune(best), logits[best])
	// Output:
	// RWKV 7, L=12 C=64 H=1, 829888 parameters
	// next byte ' ', logit 2.6152
}

// A State can be saved and restored, for example to reuse a prompt's prefix.
func ExampleEngine_State() {
	m, err := model.Load("../testdata/rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	e, err := model.NewEngine(m, model.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	ctx := context.Background()
	if err := e.Forward(ctx, []int{'"', 'i'}, nil); err != nil {
		log.Fatal(err)
	}
	blob, err := e.State().MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	var saved model.State
	if err := saved.UnmarshalBinary(blob); err != nil {
		log.Fatal(err)
	}
	e.Reset()
	if err := e.SetState(&saved); err != nil {
		log.Fatal(err)
	}
	logits := make([]float32, e.VocabSize())
	if err := e.Forward(ctx, []int{'n'}, logits); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d-byte state; logit of ' ' %.4f\n", len(blob), logits[' '])
	// Output:
	// 202778-byte state; logit of ' ' 2.6152
}
