package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/eval"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// LambadaSpec says how to evaluate a target on LAMBADA.
type LambadaSpec struct {
	Docs        []datasets.Doc
	PrefixToken int
	// Reference is a KL-divergence reference file. With SaveReference the run
	// writes it (under a temporary name, renamed once complete: the reference run
	// is fp32); otherwise the run compares against it when it exists.
	Reference     string
	SaveReference bool
	Progress      func(eval.Progress)
}

// LambadaCell evaluates t on LAMBADA as one cell (Test TestLAMBADA) and returns its
// samples: perplexity and accuracy, plus KL divergence and top-1 agreement when a
// reference was read. The bench command and the device agent both score through
// it, so a LAMBADA number means the same on the host and on a phone.
func LambadaCell(ctx context.Context, t Target, runID, harnessVersion string, spec LambadaSpec) ([]Sample, error) {
	sess, err := t.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	tok, err := tokenizer.ForVocab(sess.VocabSize())
	if err != nil {
		return nil, err
	}
	opts := eval.Options{PrefixToken: spec.PrefixToken, Progress: spec.Progress}
	var saved *os.File
	if spec.Reference != "" {
		if spec.SaveReference {
			if err := os.MkdirAll(filepath.Dir(spec.Reference), 0o755); err != nil {
				return nil, fmt.Errorf("reference: %w", err)
			}
			if saved, err = os.CreateTemp(filepath.Dir(spec.Reference), ".ref-*"); err != nil {
				return nil, fmt.Errorf("reference: %w", err)
			}
			defer os.Remove(saved.Name()) // fails harmlessly once renamed
			defer saved.Close()
			opts.SaveReference = saved
		} else if f, err := os.Open(spec.Reference); err == nil {
			defer f.Close()
			opts.Reference, opts.ReferenceName = f, spec.Reference
		}
	}
	res, err := eval.Lambada(ctx, sess, tok, spec.Docs, opts)
	if err != nil {
		return nil, err
	}
	if saved != nil {
		if err := saved.Close(); err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		if err := os.Rename(saved.Name(), spec.Reference); err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
	}
	cell := t.Cell
	cell.Test = TestLAMBADA
	now := time.Now().UTC()
	sample := func(metric string, v float64) Sample {
		return Sample{Cell: cell, RunID: runID, HarnessVersion: harnessVersion, Metric: metric, Value: v, Time: now, Simulated: t.Simulated}
	}
	out := []Sample{sample(MetricPerplexity, res.PPL), sample(MetricAccuracy, res.Acc)}
	if res.KLD != nil {
		out = append(out, sample(MetricKLDMean, res.KLD.Mean), sample(MetricTop1Agreement, res.KLD.Top1Agreement))
	}
	return out, nil
}
