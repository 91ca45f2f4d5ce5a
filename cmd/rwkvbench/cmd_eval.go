package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/eval"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/kernel"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

func runEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", "", "Evaluate a model on LAMBADA (OpenAI's test set, as lm-eval lambada_openai) on the CPU\n"+
		"reference engine (float32). Each passage is split at its last space; the context runs in\n"+
		"sequence mode after the prefix token, the target \" \"+last word is scored teacher-forced.\n"+
		"ppl = exp(-mean over documents of the target log-likelihood); acc = share of documents whose\n"+
		"every target token is the argmax. acc stderr: sample sd/sqrt(n); ppl stderr: bootstrap.\n"+
		"With --reference, also the KL divergence KL(reference||model) per scored position over the\n"+
		"reference's top-K tokens plus the rest, top-1 agreement and the perplexity difference.\n"+
		"--weights f16 or int8 runs the engine with its projection weights in that storage (a speed\n"+
		"mode, not the f32 reference); the description line and the JSON (weight_storage) name it.\n"+
		"Ctrl-C stops early and prints the result over the documents done.")
	path := fs.String("model", "", "checkpoint `file`: PyTorch .pth, safetensors or rwkv.cpp .bin (required)")
	task := fs.String("task", "lambada", "evaluation `task`; lambada is the only one")
	data := fs.String("data", "", "LAMBADA `file` (.jsonl of {\"text\": ...} or |-terminated text); default: download once into the user cache")
	dataURL := fs.String("data-url", datasets.LambadaURL, "`URL` to download LAMBADA from when --data is not given")
	dataSHA := fs.String("data-sha256", datasets.LambadaSHA256, "expected SHA-256 `hex` of the download")
	limit := fs.Int("limit", 0, "evaluate at most `N` documents (0: all)")
	start := fs.Int("start", 0, "skip the first `K` documents")
	prefix := fs.Int("prefix-token", 0, "token `id` fed before each context (0: World end-of-text; for byte models the NUL byte); -1 for none")
	tokName := fs.String("tokenizer", "auto", "`name`: auto (by the model's vocab size), world or bytes")
	format := fs.String("format", "md", "output `format`: md or json")
	logSamples := fs.String("log-samples", "", "write one JSON line per document to `file`")
	saveRef := fs.String("save-reference", "", "save this run's top-K log-probabilities per scored position to `file` (gzip) for a later --reference")
	refPath := fs.String("reference", "", "compare with a reference `file` from --save-reference: KL divergence, top-1 agreement, delta ppl")
	topK := fs.Int("top-k", eval.DefaultTopK, "log-probabilities per position that --save-reference stores")
	threads := fs.Int("threads", runtime.NumCPU(), "`goroutines` for the matrix products")
	weights := weightsFlag(fs)
	progress := fs.Bool("progress", false, "show the progress line even when stderr is not a terminal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *path == "":
		return errors.New("--model is required")
	case *task != "lambada":
		return fmt.Errorf("--task %q: only lambada is supported", *task)
	case *format != "md" && *format != "json":
		return fmt.Errorf("--format %q: want md or json", *format)
	case *limit < 0:
		return fmt.Errorf("--limit %d: must not be negative", *limit)
	case *start < 0:
		return fmt.Errorf("--start %d: must not be negative", *start)
	case *prefix < eval.NoPrefix:
		return fmt.Errorf("--prefix-token %d: want a token id, or -1 for none", *prefix)
	case *topK < 1:
		return fmt.Errorf("--top-k %d: must be positive", *topK)
	case *refPath != "" && *refPath == *saveRef:
		return fmt.Errorf("--reference and --save-reference are the same file %s", *refPath)
	}
	storage, err := parseWeights(*weights)
	if err != nil {
		return err
	}

	sess, desc, err := openSession(*path, *threads, storage)
	if err != nil {
		return err
	}
	defer sess.Close()
	tok, err := evalTokenizer(*tokName, sess.VocabSize())
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	ds, err := datasets.Open(ctx, datasets.Options{Path: *data, URL: *dataURL, SHA256: *dataSHA, Start: *start, Limit: *limit})
	if err != nil {
		return err
	}
	if len(ds.Docs) == 0 {
		return fmt.Errorf("--start %d leaves no documents to evaluate in %s (it has %d)", *start, ds.Path, ds.Total)
	}

	opts := eval.Options{PrefixToken: *prefix, TopK: *topK}
	if *logSamples != "" {
		f, err := os.Create(*logSamples)
		if err != nil {
			return fmt.Errorf("--log-samples: %w", err)
		}
		defer f.Close()
		opts.Samples = f
	}
	if *refPath != "" {
		f, err := os.Open(*refPath)
		if err != nil {
			return fmt.Errorf("--reference: %w", err)
		}
		defer f.Close()
		opts.Reference, opts.ReferenceName = f, *refPath
	}
	var saved *atomicFile
	if *saveRef != "" {
		if saved, err = createAtomic(*saveRef); err != nil {
			return fmt.Errorf("--save-reference: %w", err)
		}
		defer saved.abort() // no-op after commit
		opts.SaveReference = saved
	}
	if *progress || isTerminal(e.stderr) {
		opts.Progress = progressLine(e.stderr, isTerminal(e.stderr))
	}

	res, runErr := eval.Lambada(ctx, sess, tok, ds.Docs, opts)
	if opts.Progress != nil && isTerminal(e.stderr) {
		fmt.Fprintln(e.stderr)
	}
	interrupted := runErr != nil && ctx.Err() != nil && errors.Is(runErr, ctx.Err())
	if runErr != nil && !interrupted {
		return runErr
	}
	if runErr == nil && saved != nil {
		if err := saved.commit(); err != nil {
			return fmt.Errorf("--save-reference: %w", err)
		}
	}
	if err := writeEvalResult(e.stdout, *format, res, ds, desc, storage); err != nil {
		return err
	}
	if interrupted {
		return fmt.Errorf("interrupted after %d of %d documents; the result above covers those only: %w", res.Docs, len(ds.Docs), runErr)
	}
	return nil
}

// openSession opens the model to evaluate, with the engine's weights in storage, and
// describes it for the report. It is the one place a precision or device choice will
// slot in.
func openSession(path string, threads int, storage kernel.Storage) (model.Session, string, error) {
	sess, err := openEngine(path, model.Options{Threads: threads, WeightStorage: string(storage)})
	if err != nil {
		return nil, "", err
	}
	cfg := sess.m.Config
	desc := fmt.Sprintf("RWKV %s, %s weights computed in float32 on the CPU reference engine", cfg.Version, cfg.DType)
	if note := weightsNote(storage); note != "" {
		desc = fmt.Sprintf("RWKV %s, %s weights %s, computed in float32 on the CPU reference engine", cfg.Version, cfg.DType, note)
	}
	return sess, desc, nil
}

// closeBoth closes the engine, then the model it runs.
type closeBoth struct {
	*model.Engine
	m *model.Model
}

func (c closeBoth) Close() error {
	return errors.Join(c.Engine.Close(), c.m.Close())
}

func evalTokenizer(name string, vocab int) (tokenizer.Tokenizer, error) {
	if name == "auto" {
		return tokenizer.ForVocab(vocab)
	}
	tok, err := tokenizer.ByName(name)
	if err != nil {
		return nil, fmt.Errorf("--tokenizer: %w", err)
	}
	if tok.VocabSize() > vocab {
		return nil, fmt.Errorf("--tokenizer %s has %d ids but the model has %d logits", name, tok.VocabSize(), vocab)
	}
	return tok, nil
}

func writeEvalResult(w io.Writer, format string, res *eval.Result, ds *datasets.Dataset, desc string, storage kernel.Storage) error {
	if format == "json" {
		var v any = res
		if storage != kernel.F32 {
			// Only then, so that the reference run's JSON stays what it always was.
			v = struct {
				*eval.Result
				WeightStorage kernel.Storage `json:"weight_storage"`
			}{res, storage}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("result: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var b strings.Builder
	prefix := "none"
	if res.PrefixToken != eval.NoPrefix {
		prefix = fmt.Sprint(res.PrefixToken)
	}
	fmt.Fprintf(&b, "LAMBADA (OpenAI test set, lm-eval lambada_openai protocol), %s form, sha256 %.16s…, documents %d–%d of %d.\n",
		ds.Format, ds.SHA256, firstIndex(ds), firstIndex(ds)+res.Docs-1, ds.Total)
	fmt.Fprintf(&b, "%s. ppl per document; stderr: acc sample sd/√n, ppl bootstrap (%d resamples, fixed seed).\n\n", desc, res.BootstrapResamples)
	fmt.Fprintln(&b, "| task | docs | ppl | acc | prefix token | tokenizer | target tokens |")
	fmt.Fprintln(&b, "|---|--:|--:|--:|--:|---|--:|")
	fmt.Fprintf(&b, "| %s | %d | %s ± %s | %.2f%% ± %.2f%% | %s | %s | %d |\n",
		res.Task, res.Docs, fmtPPL(res.PPL), fmtPPL(res.PPLStderr), 100*res.Acc, 100*res.AccStderr, prefix, res.Tokenizer, res.TargetTokens)
	if k := res.KLD; k != nil {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "| KLD mean | KLD median | KLD p99 | KLD max | top-1 agreement | Δppl | reference ppl | positions |")
		fmt.Fprintln(&b, "|--:|--:|--:|--:|--:|--:|--:|--:|")
		fmt.Fprintf(&b, "| %.6g | %.6g | %.6g | %.6g | %.2f%% | %+.4g | %s | %d |\n",
			k.Mean, k.Median, k.P99, k.Max, 100*k.Top1Agreement, k.DeltaPPL, fmtPPL(k.ReferencePPL), k.Positions)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtPPL prints a perplexity with four decimals, as results are usually quoted,
// unless it is too large for that to be readable (an untrained or broken model).
func fmtPPL(v float64) string {
	if v >= 1e6 {
		return fmt.Sprintf("%.4g", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func firstIndex(ds *datasets.Dataset) int {
	if len(ds.Docs) == 0 {
		return 0
	}
	return ds.Docs[0].Index
}

// progressLine returns a progress callback. On a terminal it redraws one line at
// most ten times a second; elsewhere (--progress into a log) it writes a full line
// every few seconds and at the end.
func progressLine(w io.Writer, terminal bool) func(eval.Progress) {
	var last time.Time
	return func(p eval.Progress) {
		every := 5 * time.Second
		if terminal {
			every = 100 * time.Millisecond
		}
		if p.Done != p.Total && time.Since(last) < every {
			return
		}
		last = time.Now()
		line := fmt.Sprintf("eval: %d/%d documents, ppl %s, acc %.2f%%, elapsed %v, ETA %v",
			p.Done, p.Total, fmtPPL(p.PPL), 100*p.Acc, p.Elapsed.Round(time.Second), p.ETA.Round(time.Second))
		if terminal {
			fmt.Fprintf(w, "\r%-100s", line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
}

// atomicFile is written under a temporary name beside its final one and renamed
// into place only by commit, so an interrupted run never leaves a file that looks
// complete.
type atomicFile struct {
	*os.File
	final string
	done  bool
}

func createAtomic(path string) (*atomicFile, error) {
	f, err := os.Create(path + ".partial")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, final: path}, nil
}

func (a *atomicFile) commit() error {
	if err := a.File.Close(); err != nil {
		return err
	}
	a.done = true
	return os.Rename(a.File.Name(), a.final)
}

func (a *atomicFile) abort() {
	if !a.done {
		a.File.Close()
		os.Remove(a.File.Name())
	}
}
