package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rwkvbench/rwkvbench/runner/plan"
)

func runPlan(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "", `Run a plan: every model × precision × device × test it names is measured on its
device through the agent (models and data deployed first, unchanged files not pushed
again), stored cell by cell, and rendered as a report (Markdown, recommendation and
plots) in the plan's report_dir.

Running a plan again continues its latest run: recorded cells are skipped, failed
cells retried. --force starts a fresh run. See README.md for the plan format.`)
	planPath := fs.String("plan", "", "plan `file`: TOML, or YAML (.yaml, .yml) with the same keys")
	force := fs.Bool("force", false, "measure every cell again, in a new run")
	source := fs.String("source", "", "rwkvbench source `dir` the agent is built from (default: the module around the working directory)")
	adbPath := fs.String("adb", "", "adb `binary` (default: adb on PATH)")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *planPath == "" {
		return errors.New("--plan is required")
	}
	p, err := plan.Read(*planPath)
	if err != nil {
		return err
	}
	if *source == "" {
		if *source, err = moduleRoot("."); err != nil {
			return fmt.Errorf("cannot find the rwkvbench source to build the agent from (use --source): %w", err)
		}
	}
	opts := plan.Options{Force: *force, ModuleDir: *source, HarnessVersion: harnessVersion, ADB: *adbPath}
	if !*quiet {
		if isTerminal(e.stderr) {
			opts.Live = newLiveView(ctx, e.stderr)
		} else {
			opts.Log = e.stderr
		}
	}
	res, err := plan.Run(ctx, p, opts)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, res.Report)
	fmt.Fprintf(e.stdout, "\nRun %s: %d cells measured, %d failed, %d already recorded before; %d retries after device drops.\n",
		res.RunID, res.Summary.CellsDone, res.Summary.CellsFailed, res.Skipped, res.Summary.Retries)
	fmt.Fprintf(e.stdout, "Report: %s\nRecommendation: %s\n", res.ReportPath, res.RecommendPath)
	for _, p := range res.Plots {
		fmt.Fprintf(e.stdout, "Plot: %s\n", p)
	}
	return nil
}

// liveView shows one progress line per device: its current cell, the count of
// cells done and an ETA from the average cell time.
type liveView struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*deviceBar
}

type deviceBar struct {
	bar     *mpb.Bar
	current string
	started time.Time
}

func newLiveView(ctx context.Context, w io.Writer) *liveView {
	return &liveView{p: mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(24)), bars: map[string]*deviceBar{}}
}

func (v *liveView) Device(serial string, cells int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	db := &deviceBar{started: time.Now()}
	db.bar = v.p.AddBar(int64(cells),
		mpb.PrependDecorators(
			decor.Name(serial, decor.WCSyncSpaceR),
			decor.CountersNoUnit("%d/%d cells", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				v.mu.Lock()
				defer v.mu.Unlock()
				return db.current
			}, decor.WCSyncSpaceR),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), "done"),
		))
	v.bars[serial] = db
}

func (v *liveView) Cell(serial, cell string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if db, ok := v.bars[serial]; ok {
		db.current = cell
	}
}

func (v *liveView) Done(serial string) {
	v.mu.Lock()
	db, ok := v.bars[serial]
	v.mu.Unlock()
	if ok {
		db.bar.Increment()
	}
}

func (v *liveView) Wait() {
	v.mu.Lock()
	for _, db := range v.bars {
		if !db.bar.Completed() {
			db.bar.Abort(false)
		}
	}
	v.mu.Unlock()
	v.p.Wait()
}
