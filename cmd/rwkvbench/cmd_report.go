package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/reports"
)

func runReport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "report", "", `Render stored results as a table: cells show generation tok/s | LAMBADA ppl, acc
with their spread (median [95% CI] by default, or mean ± sd with --stat mean). A metric
that was not run shows as —; simulated numbers are marked * with a footnote.
Optionally writes plots (throughput per chip × precision, accuracy against speed with
the Pareto frontier) as SVG and PNG, and imports or exports samples as JSONL.`)
	storePath := fs.String("store", "", "results `file` (SQLite); default: the one rwkvbench bench writes")
	run := fs.String("run", "latest", "which run: an `ID`, latest, or all")
	jsonl := fs.String("jsonl", "", "read samples from this JSONL `file` instead of the store")
	rows := fs.String("rows", "model,precision", "row `fields`, comma-separated: model, precision, chip (soc), backend, device, htp_arch, runtime, perf_profile, test, model_hash")
	cols := fs.String("cols", "soc", "column `fields`, comma-separated, as --rows")
	output := fs.StringP("output", "o", "md", "table `format`: md, csv or json; or benchfmt, the raw samples for benchstat")
	stat := fs.String("stat", "median", "cell `statistic`: median (with a distribution-free CI) or mean (± sample sd)")
	confidence := fs.Float64("confidence", 0.95, "confidence `level` of the median's interval")
	plots := fs.String("plots", "", "also write throughput and Pareto plots (SVG and PNG) into this `dir`")
	importPath := fs.String("import", "", "first import this JSONL `file` into the store (idempotent)")
	exportPath := fs.String("export", "", "also write the selected samples, warm-ups included, to this JSONL `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	rowFields, err := reports.ParseFields(*rows)
	if err != nil {
		return fmt.Errorf("--rows: %w", err)
	}
	colFields, err := reports.ParseFields(*cols)
	if err != nil {
		return fmt.Errorf("--cols: %w", err)
	}
	if *output != "md" && *output != "csv" && *output != "json" && *output != "benchfmt" {
		return fmt.Errorf("-o %q: want md, csv, json or benchfmt", *output)
	}
	if *jsonl != "" && (*importPath != "" || fs.Changed("run")) {
		return errors.New("--jsonl reads a file, not the store: it cannot be combined with --run or --import")
	}

	var samples []bench.Sample
	var failed []store.CellState
	var runs []store.Run
	if *jsonl != "" {
		samples, err = readJSONLFile(*jsonl)
	} else {
		samples, failed, runs, err = loadRun(ctx, *storePath, *run, *importPath, true)
	}
	if err != nil {
		return err
	}
	if len(samples) == 0 {
		return fmt.Errorf("no samples selected (--run %s)", *run)
	}
	if *exportPath != "" {
		if err := writeJSONLFile(*exportPath, samples); err != nil {
			return err
		}
	}

	tbl, err := reports.Build(samples, failed, reports.Options{Rows: rowFields, Cols: colFields,
		Statistic: reports.Statistic(*stat), Confidence: *confidence})
	if err != nil {
		return err
	}
	switch *output {
	case "md":
		writeRunHeader(e.stdout, runs)
		err = tbl.Markdown(e.stdout)
	case "csv":
		err = tbl.CSV(e.stdout)
	case "json":
		err = tbl.JSON(e.stdout)
	case "benchfmt":
		err = reports.WriteBenchfmt(e.stdout, samples)
	}
	if err != nil {
		return err
	}
	if *plots != "" {
		written, skipped, err := reports.WritePlots(*plots, samples)
		if err != nil {
			return err
		}
		for _, p := range written {
			fmt.Fprintf(e.stderr, "wrote %s\n", p)
		}
		for _, reason := range skipped {
			fmt.Fprintf(e.stderr, "skipped a plot: %s\n", reason)
		}
	}
	return nil
}

// openExistingStore opens the results store for reading; unlike store.Open it
// refuses to create an empty database where the user expected results.
func openExistingStore(path string) (*store.Store, error) {
	if path == "" {
		path = defaultStorePath()
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store %s does not exist: run rwkvbench bench first, or pass --store", path)
		}
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return store.Open(path)
}

// writeRunHeader says which runs a table comes from and how they were measured, so a
// table pasted elsewhere keeps its provenance.
func writeRunHeader(w io.Writer, runs []store.Run) {
	for _, r := range runs {
		fmt.Fprintf(w, "Run %s: harness %s, started %s", r.ID, r.HarnessVersion, r.Started.UTC().Format(time.RFC3339))
		var settings []string
		for _, k := range []string{"prompt_tokens", "generate_tokens", "repetitions", "warmup", "seed", "threads", "cooldown"} {
			if v, ok := r.Meta[k]; ok {
				settings = append(settings, k+"="+v)
			}
		}
		if len(settings) > 0 {
			fmt.Fprintf(w, "; %s", strings.Join(settings, " "))
		}
		fmt.Fprintln(w, ".")
	}
	if len(runs) > 0 {
		fmt.Fprintln(w)
	}
}

// loadRun returns the samples of a run (an ID, latest, previous or all), warm-ups
// included, the run records and, when withFailures is set, the cells that failed.
func loadRun(ctx context.Context, storePath, run, importPath string, withFailures bool) ([]bench.Sample, []store.CellState, []store.Run, error) {
	var st *store.Store
	var err error
	if importPath != "" {
		// Importing may create the store: that is what the user asked for.
		if storePath == "" {
			storePath = defaultStorePath()
		}
		if st, err = store.Open(storePath); err != nil {
			return nil, nil, nil, err
		}
		f, err := os.Open(importPath)
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("--import: %w", err)
		}
		_, err = st.ImportJSONL(ctx, f)
		f.Close()
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("--import %s: %w", importPath, err)
		}
	} else if st, err = openExistingStore(storePath); err != nil {
		return nil, nil, nil, err
	}
	defer st.Close()
	ids, err := resolveRun(ctx, st, run)
	if err != nil {
		return nil, nil, nil, err
	}
	samples, err := st.Samples(ctx, store.Filter{Runs: ids})
	if err != nil {
		return nil, nil, nil, err
	}
	var failed []store.CellState
	if withFailures {
		if failed, err = st.Cells(ctx, ids...); err != nil {
			return nil, nil, nil, err
		}
	}
	all, err := st.Runs(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var runs []store.Run
	for _, r := range all {
		if ids == nil || slices.Contains(ids, r.ID) {
			runs = append(runs, r)
		}
	}
	return samples, failed, runs, nil
}

// resolveRun turns a run selector into run IDs: nil for all, else one ID.
func resolveRun(ctx context.Context, st *store.Store, run string) ([]string, error) {
	run = strings.TrimSpace(run)
	if run == "all" {
		return nil, nil
	}
	runs, err := st.Runs(ctx)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("store %s has no runs", st.Path())
	}
	switch run {
	case "latest", "":
		return []string{runs[len(runs)-1].ID}, nil
	case "previous":
		if len(runs) < 2 {
			return nil, fmt.Errorf("store %s has one run, no previous one", st.Path())
		}
		return []string{runs[len(runs)-2].ID}, nil
	}
	for _, r := range runs {
		if r.ID == run {
			return []string{run}, nil
		}
	}
	return nil, fmt.Errorf("store %s has no run %q (it has %d runs; the latest is %s)", st.Path(), run, len(runs), runs[len(runs)-1].ID)
}

func readJSONLFile(path string) ([]bench.Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	samples, err := store.ReadJSONL(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return samples, nil
}

func writeJSONLFile(path string, samples []bench.Sample) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := store.WriteJSONL(f, samples); err != nil {
		f.Close()
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
