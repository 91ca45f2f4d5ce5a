// Package eval measures how well a model predicts text: LAMBADA perplexity and
// accuracy, and the KL divergence of its next-token distributions from a reference
// run's.
//
// The protocol is the one lm-evaluation-harness (lambada_openai), ChatRWKV and
// rwkv-qualcomm share, so numbers compare across tools:
//
//   - each passage is split at its last space into a context and the target
//     " " + last word, and the two are tokenized separately;
//   - the model starts from a zero state, reads the prefix token (0, end-of-text,
//     by default; none with -1) and the context in one sequence-mode Forward call,
//     then the target tokens one at a time, teacher-forced (a session that returns
//     the logits of the last positions alone, as the CPU engine does, reads context
//     and target in one call: the same tokens in the same order);
//   - log-probabilities come from a float64 log-softmax of the float32 logits;
//   - ppl = exp(−Σ_docs Σ_target log p / n_docs), normalized per document, not per
//     token; acc is the share of documents whose every target token is the argmax.
//
// The package evaluates any model.Session, so the CPU engine and a device session
// are scored by the same code. It keeps O(vocab) memory per position; the only
// per-position storage is one float64 KL value for the median and 99th percentile.
//
// # Reference files
//
// Options.SaveReference writes, and Options.Reference reads while evaluating, a
// stream holding per scored position the reference run's top-K log-probabilities
// and the log of the mass outside them. The file is one gzip stream: a line of JSON
// (the header: "format": "rwkvbench-kld-reference", "version": 1, "task", "vocab",
// "top_k", "prefix_token", "tokenizer"), then binary little-endian records:
//
//	'D' uint32 doc-index uint32 target-tokens          a document begins
//	    per target token, in order:
//	    uint32 target-id float64 target-logprob
//	    top_k × (uint32 id, float64 logprob)           largest first, ties by lower id
//	    float64 log of the probability mass outside the top_k (−Inf if none)
//	'E' uint32 documents                               end of file
//
// Log-probabilities are stored as float64, the precision they are computed in, so a
// model compared with its own reference gives exactly zero. A K = 32 reference
// takes about 400 bytes per target token before compression. A reader refuses a
// header for another vocab, tokenizer or prefix token, and any document index,
// target length or token id that differs from the run's, naming the file and the
// position.
package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// Defaults for Options.
const (
	DefaultTopK               = 32
	DefaultBootstrapResamples = 1000
	// BootstrapSeed makes the perplexity stderr reproducible run to run.
	BootstrapSeed = 20230424
)

// NoPrefix is the PrefixToken that feeds the context without a leading token.
const NoPrefix = -1

// Options tunes a LAMBADA run. The zero value is the standard protocol: prefix
// token 0, no logs, no reference.
type Options struct {
	// PrefixToken is fed before each context: 0 (World end-of-text) by default,
	// NoPrefix for none. For byte-level models id 0 is the NUL byte, which such
	// models were not trained to read as a separator; the protocol is still
	// applied as given, and the result records the choice.
	PrefixToken int

	// Progress, if set, is called after every document.
	Progress func(Progress)

	// Samples, if set, receives one JSON line per document (see Sample).
	Samples io.Writer

	// SaveReference, if set, receives this run's top-K log-probabilities per scored
	// position in the reference format (see reference.go), for a later run's
	// Reference.
	SaveReference io.Writer
	// TopK is the number of log-probabilities SaveReference stores per position;
	// DefaultTopK if zero.
	TopK int

	// Reference, if set, is a reference file to compare against while evaluating;
	// ReferenceName names it in errors.
	Reference     io.Reader
	ReferenceName string

	// BootstrapResamples is the number of resamples for the perplexity stderr;
	// DefaultBootstrapResamples if zero.
	BootstrapResamples int
}

// Progress reports a run in flight.
type Progress struct {
	Done, Total int
	PPL, Acc    float64 // over the documents done
	Elapsed     time.Duration
	ETA         time.Duration // remaining, extrapolated from the mean time per document
}

// Result is a run's outcome. The JSON form has exactly the fields the CLI
// documents; the KL fields appear only when a reference was given.
type Result struct {
	Task        string  `json:"task"`
	Docs        int     `json:"docs"` // documents scored (fewer than asked if cancelled)
	PPL         float64 `json:"ppl"`
	PPLStderr   float64 `json:"ppl_stderr"`
	Acc         float64 `json:"acc"`
	AccStderr   float64 `json:"acc_stderr"`
	PrefixToken int     `json:"prefix_token"`
	Tokenizer   string  `json:"tokenizer"`
	*KLD

	// Not in the JSON: context for reports and logs.
	TargetTokens       int `json:"-"` // target tokens scored
	ContextTokens      int `json:"-"` // context tokens fed, prefix included
	BootstrapResamples int `json:"-"`
}

// KLD compares a run with a reference run over the same scored positions.
//
// The divergence per position is KL(reference ‖ model) over the reference's top-K
// tokens plus one bucket for all other tokens. Merging tokens never increases a
// KL divergence, so this is a lower bound of the full-vocabulary value, exact when
// the reference's top K carry all its mass; with K = 32 the bucket rarely holds
// much. Mean and max are streamed; median and p99 come from one stored float64
// per position (linear interpolation between order statistics).
type KLD struct {
	Mean          float64 `json:"kld_mean"`
	Median        float64 `json:"kld_median"`
	P99           float64 `json:"kld_p99"`
	Max           float64 `json:"kld_max"`
	Top1Agreement float64 `json:"top1_agreement"` // share of positions where the argmaxes agree
	DeltaPPL      float64 `json:"delta_ppl"`      // this run's ppl minus the reference's, same documents

	ReferencePPL float64 `json:"-"`
	Positions    int     `json:"-"`
}

// Sample is the --log-samples record of one document.
type Sample struct {
	Doc           int       `json:"doc"`         // index in the data file
	TextSHA256    string    `json:"text_sha256"` // of the passage, to match logs across runs
	Target        string    `json:"target"`
	ContextTokens int       `json:"context_tokens"` // prefix included
	TargetTokens  int       `json:"target_tokens"`
	TargetIDs     []int     `json:"target_ids"`
	GreedyIDs     []int     `json:"greedy_ids"` // argmax at each target position
	TokenLogprobs []float64 `json:"token_logprobs"`
	Logprob       float64   `json:"logprob"` // sum over the target
	Correct       bool      `json:"greedy_correct"`
}

// SplitLambada splits a passage as the protocol does: the context is the text
// before the last space and the target is " " + the last word.
func SplitLambada(text string) (context, target string, err error) {
	i := strings.LastIndexByte(text, ' ')
	if i < 0 {
		return "", "", errors.New("passage has no space to split at")
	}
	return text[:i], text[i:], nil
}

// Lambada evaluates s on docs. On cancellation, or on a failure part way, it
// returns the result over the documents completed so far together with the error.
func Lambada(ctx context.Context, s model.Session, tok tokenizer.Tokenizer, docs []datasets.Doc, opts Options) (*Result, error) {
	vocab := s.VocabSize()
	if tok.VocabSize() > vocab {
		return nil, fmt.Errorf("lambada: tokenizer %s has %d ids but the model only %d logits", tok.Name(), tok.VocabSize(), vocab)
	}
	if opts.PrefixToken < NoPrefix || opts.PrefixToken >= vocab {
		return nil, fmt.Errorf("lambada: prefix token %d is outside the model's vocabulary 0..%d (-1 for none)", opts.PrefixToken, vocab-1)
	}
	topK := opts.TopK
	if topK == 0 {
		topK = DefaultTopK
	}
	if topK < 1 {
		return nil, fmt.Errorf("lambada: top-K %d must be positive", topK)
	}
	topK = min(topK, vocab)
	resamples := opts.BootstrapResamples
	if resamples == 0 {
		resamples = DefaultBootstrapResamples
	}

	r := &run{
		s: s, tok: tok, opts: opts, vocab: vocab,
		logits: make([]float32, vocab),
		lp:     make([]float64, vocab),
		prob:   make([]float64, vocab),
		inTop:  make([]bool, vocab),
	}
	header := referenceHeader{
		Format: referenceFormat, Version: referenceVersion, Task: "lambada",
		Vocab: vocab, TopK: topK, PrefixToken: opts.PrefixToken, Tokenizer: tok.Name(),
	}
	if opts.SaveReference != nil {
		w, err := newReferenceWriter(opts.SaveReference, header)
		if err != nil {
			return nil, err
		}
		r.save = w
	}
	if opts.Reference != nil {
		name := opts.ReferenceName
		if name == "" {
			name = "reference"
		}
		ref, err := openReference(opts.Reference, name)
		if err != nil {
			return nil, err
		}
		if err := ref.check(header); err != nil {
			return nil, err
		}
		r.ref = ref
		r.kld = &kldStats{}
	}

	start := time.Now()
	var runErr error
	for i, d := range docs {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if err := r.doc(ctx, d); err != nil {
			runErr = err
			break
		}
		if opts.Progress != nil {
			done := i + 1
			elapsed := time.Since(start)
			opts.Progress(Progress{
				Done: done, Total: len(docs),
				PPL: math.Exp(-r.sumLogprob / float64(done)), Acc: float64(r.correct) / float64(done),
				Elapsed: elapsed,
				ETA:     time.Duration(float64(elapsed) / float64(done) * float64(len(docs)-done)),
			})
		}
	}
	completed := runErr == nil
	if completed && r.save != nil {
		if err := r.save.close(len(r.docLogprobs)); err != nil {
			runErr = err
		}
	}
	if completed && runErr == nil && r.ref != nil {
		if err := r.ref.finish(len(r.docLogprobs)); err != nil {
			runErr = err
		}
	}
	return r.result(resamples), runErr
}

// run is one evaluation's working state: O(vocab) buffers reused per position.
type run struct {
	s     model.Session
	tok   tokenizer.Tokenizer
	opts  Options
	vocab int

	logits []float32
	tail   []float32 // the target positions' logits, when the session batches them
	seq    []int     // context and target, when the session batches them
	lp     []float64 // log-softmax of logits
	prob   []float64 // softmax of logits
	inTop  []bool    // scratch for the rest-mass bucket
	top    []tokenLogprob

	save *referenceWriter
	ref  *referenceReader
	kld  *kldStats

	docLogprobs   []float64 // per document, for the bootstrap
	refLogprobs   []float64 // the reference's, same documents
	sumLogprob    float64
	correct       int
	targetTokens  int
	contextTokens int
}

// tailForwarder is a session that can return the logits of only the last positions
// of a sequence (len(logits) = k·vocab); the CPU engine is one (model.Engine.
// ForwardTail).
type tailForwarder interface {
	ForwardTail(ctx context.Context, tokens []int, logits []float32) error
}

// doc scores one document.
func (r *run) doc(ctx context.Context, d datasets.Doc) error {
	contextText, targetText, err := SplitLambada(d.Text)
	if err != nil {
		return fmt.Errorf("lambada: doc %d: %w", d.Index, err)
	}
	var src []int
	if r.opts.PrefixToken != NoPrefix {
		src = append(src, r.opts.PrefixToken)
	}
	src = append(src, r.tok.Encode([]byte(contextText))...)
	target := r.tok.Encode([]byte(targetText))
	if len(src) == 0 {
		return fmt.Errorf("lambada: doc %d: empty context and no prefix token: nothing predicts the first target token", d.Index)
	}
	for _, ids := range [][]int{src, target} {
		for _, id := range ids {
			if id < 0 || id >= r.vocab {
				return fmt.Errorf("lambada: doc %d: token %d is outside the model's vocabulary of %d", d.Index, id, r.vocab)
			}
		}
	}

	if r.save != nil {
		if err := r.save.beginDoc(d.Index, len(target)); err != nil {
			return err
		}
	}
	if r.ref != nil {
		if err := r.ref.beginDoc(d.Index, len(target)); err != nil {
			return err
		}
	}

	r.s.Reset()
	// A session that can return the logits of the last positions only reads the
	// context and the target (but its last token) in one call; any other reads the
	// context, then the target tokens one at a time. Both feed the same tokens.
	tail, batched := r.s.(tailForwarder)
	batched = batched && len(target) > 0
	if batched {
		seq := append(append(r.seq[:0], src...), target[:len(target)-1]...)
		r.seq = seq
		if need := len(target) * r.vocab; cap(r.tail) < need {
			r.tail = make([]float32, need)
		}
		if err := tail.ForwardTail(ctx, seq, r.tail[:len(target)*r.vocab]); err != nil {
			return fmt.Errorf("lambada: doc %d: context and target: %w", d.Index, err)
		}
	} else if err := r.s.Forward(ctx, src, r.logits); err != nil {
		return fmt.Errorf("lambada: doc %d: context: %w", d.Index, err)
	}
	sample := Sample{
		Doc: d.Index, TextSHA256: textHash(d.Text), Target: targetText,
		ContextTokens: len(src), TargetTokens: len(target), TargetIDs: target,
	}
	var docLogprob, refDocLogprob float64
	correct := true
	for j, id := range target {
		logits := r.logits
		switch {
		case batched:
			logits = r.tail[j*r.vocab : (j+1)*r.vocab]
		case j > 0:
			if err := r.s.Forward(ctx, target[j-1:j], r.logits); err != nil {
				return fmt.Errorf("lambada: doc %d: target token %d: %w", d.Index, j, err)
			}
		}
		argmax, err := logSoftmax(logits, r.lp, r.prob)
		if err != nil {
			return fmt.Errorf("lambada: doc %d: target token %d: %w", d.Index, j, err)
		}
		docLogprob += r.lp[id]
		correct = correct && argmax == id
		sample.GreedyIDs = append(sample.GreedyIDs, argmax)
		sample.TokenLogprobs = append(sample.TokenLogprobs, r.lp[id])

		if r.save != nil {
			r.top = topK(r.lp, r.save.header.TopK, r.top)
			rest := restLogMass(r.prob, r.top, r.inTop)
			if err := r.save.position(id, r.lp[id], r.top, rest); err != nil {
				return err
			}
		}
		if r.ref != nil {
			pos, err := r.ref.position(d.Index, j, id)
			if err != nil {
				return err
			}
			r.kld.add(kl(pos, r.lp, r.prob, r.inTop), pos.top[0].id == argmax)
			refDocLogprob += pos.targetLogprob
		}
	}
	if r.opts.Samples != nil {
		sample.Logprob, sample.Correct = docLogprob, correct
		line, err := json.Marshal(sample)
		if err != nil {
			return fmt.Errorf("lambada: doc %d: sample log: %w", d.Index, err)
		}
		if _, err := r.opts.Samples.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("lambada: sample log: %w", err)
		}
	}

	// Only a fully scored document counts.
	r.docLogprobs = append(r.docLogprobs, docLogprob)
	r.refLogprobs = append(r.refLogprobs, refDocLogprob)
	r.sumLogprob += docLogprob
	if correct {
		r.correct++
	}
	r.targetTokens += len(target)
	r.contextTokens += len(src)
	return nil
}

func (r *run) result(resamples int) *Result {
	n := len(r.docLogprobs)
	res := &Result{
		Task: "lambada", Docs: n, PrefixToken: r.opts.PrefixToken, Tokenizer: r.tok.Name(),
		TargetTokens: r.targetTokens, ContextTokens: r.contextTokens, BootstrapResamples: resamples,
	}
	if n == 0 {
		return res // no documents: every statistic is left at zero, and Docs says why
	}
	res.PPL = perplexity(r.docLogprobs)
	res.Acc = float64(r.correct) / float64(n)
	res.AccStderr = accStderr(r.correct, n)
	res.PPLStderr = bootstrapPPLStderr(r.docLogprobs, resamples, BootstrapSeed)
	if r.kld != nil {
		res.KLD = r.kld.summary()
		res.KLD.ReferencePPL = perplexity(r.refLogprobs)
		res.KLD.DeltaPPL = res.PPL - res.KLD.ReferencePPL
	}
	return res
}
