package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/reports"
)

func runCompare(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "compare", "", `Compare two sets of samples cell by cell, as benchstat does: base and new medians
with their confidence intervals, the change, and the Mann–Whitney U test's p-value
("~" when not significant). Exits 3 when any cell changed significantly in the bad
direction by more than --threshold (lower tok/s, higher ms, bytes or ppl), for CI.

A selection SEL is a JSONL file path, or comma-separated field=value pairs:
  run=ID | run=latest | run=previous    a run in --store
  file=PATH                             a JSONL file instead of the store
  precision=fp16, chip=SM8650, ...      any sample field (model, backend, test, ...)
for example --base run=previous --new run=latest, or --base run=R,precision=fp16
--new run=R,precision=a16w8. Fields that take one value in base and another in
new (precision above) are the comparison's axis and are ignored when matching cells.`)
	storePath := fs.String("store", "", "results `file` (SQLite); default: the one rwkvbench bench writes")
	baseSel := fs.String("base", "", "the baseline `SEL`")
	newSel := fs.String("new", "", "the candidate `SEL`")
	threshold := fs.String("threshold", "3%", "smallest significant change in the bad direction that fails (`pct`, e.g. 3% or 0.03)")
	metrics := fs.String("metric", bench.MetricGenerationTokensPerSecond, "`metrics` to compare, comma-separated")
	alpha := fs.Float64("alpha", 0.05, "significance `level` of the U test")
	output := fs.StringP("output", "o", "md", "`format`: md or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *baseSel == "" || *newSel == "" {
		return fmt.Errorf("both --base and --new are required")
	}
	if *output != "md" && *output != "json" {
		return fmt.Errorf("-o %q: want md or json", *output)
	}
	th, err := parseThreshold(*threshold)
	if err != nil {
		return err
	}
	base, err := selectSamples(ctx, *storePath, *baseSel)
	if err != nil {
		return fmt.Errorf("--base %s: %w", *baseSel, err)
	}
	newer, err := selectSamples(ctx, *storePath, *newSel)
	if err != nil {
		return fmt.Errorf("--new %s: %w", *newSel, err)
	}
	var metricList []string
	for _, m := range strings.Split(*metrics, ",") {
		if m = strings.TrimSpace(m); m != "" {
			metricList = append(metricList, m)
		}
	}
	c, err := reports.Compare(base, newer, reports.CompareOptions{Metrics: metricList, Alpha: *alpha, Threshold: th})
	if err != nil {
		return err
	}
	if *output == "json" {
		err = c.JSON(e.stdout)
	} else {
		err = c.Markdown(e.stdout)
	}
	if err != nil {
		return err
	}
	if regs := c.Regressions(); len(regs) > 0 {
		return fmt.Errorf("%w: %d cell(s) worse by more than %s (first: %s %s %+.1f%%)",
			errRegression, len(regs), *threshold, regs[0].Label, regs[0].Metric, regs[0].Test.Change*100)
	}
	return nil
}

// parseThreshold reads "3%" or "0.03" as 0.03. A bare number above 1 is refused
// rather than guessed at: "3" might mean 3% or 300%.
func parseThreshold(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("--threshold %q: want a percentage such as 3%% or a fraction such as 0.03", s)
	}
	if pct {
		return v / 100, nil
	}
	if v > 1 {
		return 0, fmt.Errorf("--threshold %q: ambiguous; write %s%% or %g", s, s, v/100)
	}
	return v, nil
}

// selectSamples returns the samples a SEL names; see runCompare's help.
func selectSamples(ctx context.Context, storePath, sel string) ([]bench.Sample, error) {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		return nil, fmt.Errorf("empty selection")
	}
	if !strings.Contains(sel, "=") {
		return readJSONLFile(sel)
	}
	var file, run string
	match := map[string]string{}
	for _, part := range strings.Split(sel, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key == "" {
			return nil, fmt.Errorf("%q: want field=value", part)
		}
		switch key {
		case "file":
			file = value
		case "run", "run_id":
			run = value
		case "chip":
			match["soc"] = value
		default:
			match[key] = value
		}
	}
	if file != "" && run != "" {
		return nil, fmt.Errorf("a selection reads either file= or run=, not both")
	}
	var st *store.Store
	var err error
	if file != "" {
		// The file goes through a scratch store so that field matching means exactly
		// what it means on the results store.
		dir, err := os.MkdirTemp("", "rwkvbench-compare")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if st, err = store.Open(filepath.Join(dir, "selection.db")); err != nil {
			return nil, err
		}
		f, err := os.Open(file)
		if err != nil {
			st.Close()
			return nil, err
		}
		_, err = st.ImportJSONL(ctx, f)
		f.Close()
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	} else if st, err = openExistingStore(storePath); err != nil {
		return nil, err
	}
	defer st.Close()
	var ids []string
	if file == "" {
		if run == "" {
			run = "all"
		}
		if ids, err = resolveRun(ctx, st, run); err != nil {
			return nil, err
		}
	}
	samples, err := st.Samples(ctx, store.Filter{Runs: ids, Match: match, ExcludeWarmup: true})
	if err != nil {
		return nil, err
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("selects no samples")
	}
	return samples, nil
}
