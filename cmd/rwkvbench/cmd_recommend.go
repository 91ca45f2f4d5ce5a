package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/reports"
)

func runRecommend(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "recommend", "", `Name, per model and chip (SoC), the fastest precision whose LAMBADA accuracy loss
against the reference precision on the same chip stays within the bounds: Δacc in
percentage points and ΔKLD (mean KL divergence over the reference's). Every rejected
precision is listed with its reason; a chip where none qualifies says so.`)
	storePath := fs.String("store", "", "results `file` (SQLite); default: the one rwkvbench bench writes")
	run := fs.String("run", "latest", "which run: an `ID`, latest, or all")
	jsonl := fs.String("jsonl", "", "read samples from this JSONL `file` instead of the store")
	maxAccDrop := fs.Float64("max-acc-drop", 1.0, "largest accepted LAMBADA accuracy loss, in percentage `points`")
	maxKLD := fs.Float64("max-kld", 0.05, "largest accepted ΔKLD (`nats`); negative skips the check")
	reference := fs.String("reference", "fp16", "the `precision` losses are measured against: fp16 or fp32")
	output := fs.StringP("output", "o", "md", "`format`: md or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *reference != "fp16" && *reference != "fp32" {
		return fmt.Errorf("--reference %q: want fp16 or fp32", *reference)
	}
	if *output != "md" && *output != "json" {
		return fmt.Errorf("-o %q: want md or json", *output)
	}
	if *jsonl != "" && fs.Changed("run") {
		return errors.New("--jsonl reads a file, not the store: it cannot be combined with --run")
	}
	var samples []bench.Sample
	var err error
	if *jsonl != "" {
		samples, err = readJSONLFile(*jsonl)
	} else {
		samples, _, _, err = loadRun(ctx, *storePath, *run, "", false)
	}
	if err != nil {
		return err
	}
	opt := reports.RecommendOptions{Reference: *reference, MaxAccDrop: *maxAccDrop, MaxKLD: *maxKLD}
	recs, err := reports.Recommend(samples, opt)
	if err != nil {
		return err
	}
	if *output == "json" {
		return reports.WriteRecommendationsJSON(e.stdout, recs, opt)
	}
	return reports.WriteRecommendationsMarkdown(e.stdout, recs, opt)
}
