package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/sample"
	"github.com/rwkvbench/rwkvbench/model/tensor"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

func runGenerate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "generate", "", "Generate text from a prompt on the CPU reference engine (float32). The prompt and the\n"+
		"generated text stream to stdout; a speed line (prefill and generation tokens/s) follows\n"+
		"on stderr. The tokenizer follows the vocabulary: bytes for 256, World for 65536.\n"+
		"--weights f16 or int8 keeps the projection weights in that storage (faster decode, less\n"+
		"memory traffic); the speed line names it.")
	path := fs.String("model", "", "checkpoint `file`: PyTorch .pth, safetensors or rwkv.cpp .bin (required)")
	prompt := fs.String("prompt", "", "the `text` to continue (required)")
	count := fs.IntP("tokens", "n", 64, "`count` of tokens to generate")
	temperature := fs.Float64("temperature", 1.0, "sampling temperature `t`; 0 always picks the most likely token")
	topP := fs.Float64("top-p", 0.85, "sample only among the most likely tokens whose probabilities add up to `p` (1 = all)")
	seed := fs.Uint64("seed", 1, "random `seed`; the same seed, model and prompt give the same text")
	threads := fs.Int("threads", runtime.NumCPU(), "`goroutines` for the matrix products")
	gnEps := fs.Float32("gn-eps", 0, "override the ln_x group-norm `epsilon` (0 keeps the model's)")
	storageFlag := weightsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (quote the prompt and pass it with --prompt)", fs.Arg(0))
	}
	switch {
	case *path == "":
		return errors.New("--model is required")
	case *prompt == "":
		return errors.New("--prompt is required and must not be empty")
	case *count < 1:
		return fmt.Errorf("-n %d: must generate at least one token", *count)
	case *gnEps < 0:
		return fmt.Errorf("--gn-eps %v: must be positive (or 0 for the model's own)", *gnEps)
	}
	storage, err := parseWeights(*storageFlag)
	if err != nil {
		return err
	}
	m, err := model.Load(*path)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.ForVocab(m.Config.Vocab)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	var ban []int
	if tok.Name() == "world" {
		ban = []int{0} // end of text: a document boundary, never part of a continuation
	}
	sampler, err := sample.New(sample.Options{Temperature: *temperature, TopP: *topP, Seed: *seed, Ban: ban})
	if err != nil {
		return err
	}
	eng, err := model.NewEngine(m, model.Options{Threads: *threads, GroupNormEps: *gnEps, WeightStorage: string(storage)})
	if err != nil {
		return err
	}
	defer eng.Close()

	input := tok.Encode([]byte(*prompt))
	logits := make([]float32, eng.VocabSize())
	fmt.Fprint(e.stdout, *prompt)
	start := time.Now()
	if err := eng.Forward(ctx, input, logits); err != nil {
		return err
	}
	prefill := time.Since(start)

	start = time.Now()
	steps := 0
	for i := range *count {
		next, err := sampler.Next(logits)
		if err != nil {
			return err
		}
		text, err := tok.Decode([]int{next})
		if err != nil {
			return err
		}
		if _, err := e.stdout.Write(text); err != nil {
			return err
		}
		if i == *count-1 {
			break // the last token's successor is not wanted
		}
		if err := eng.Forward(ctx, []int{next}, logits); err != nil {
			return err
		}
		steps++
	}
	decode := time.Since(start)
	fmt.Fprintln(e.stdout)
	weights := "float32 weights"
	if m.Config.DType != tensor.F32 {
		weights = fmt.Sprintf("%s weights dequantized to float32", m.Config.DType)
	}
	if note := weightsNote(storage); note != "" {
		weights += " " + note
	}
	fmt.Fprintf(e.stderr, "prefill %d tokens in %v (%.1f tok/s); generation %d tokens in %v (%.1f tok/s); RWKV %s, %s, %d thread(s), CPU reference engine\n",
		len(input), prefill.Round(time.Microsecond), rate(len(input), prefill),
		steps, decode.Round(time.Microsecond), rate(steps, decode),
		m.Config.Version, weights, *threads)
	return nil
}

// rate is n per second, 0 when nothing was timed.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
