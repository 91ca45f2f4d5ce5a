package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/kernel"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
	"github.com/rwkvbench/rwkvbench/qnn"
	"github.com/rwkvbench/rwkvbench/runner"
)

const benchDescription = `Benchmark a model as llama-bench names its tests — ppN (prefill N tokens from a fresh
state), tgN (generate N tokens one at a time after a one-token start), ppN+tgM — plus ttft
(prefill of -p tokens and the first decode step, ms), load-cold and load-warm (ms) and
peak memory (peak RSS = VmHWM, reset per cell; PSS from smaps_rollup right after the
runs). Token inputs are random with a fixed seed. Warm-up runs are stored but never
enter the statistics; every raw sample is stored with its timestamp and thermal state.

Precisions other than fp32 are SIMULATED on the CPU engine (fp16 rounding, fake-quantized
a16w8/a16w4 with activation ranges calibrated on a built-in text) and marked so in every
table; their speed is the CPU engine's, not the NPU's.

--weights f16 or int8 is not a precision: it is how the CPU engine itself stores the
projection weights (rounded once, dequantized in the kernel), a speed mode of the host
engine. It runs fp32 only (the simulations need the float32 weights), with --backend cpu
only; the cells' runtime reads "cpu-engine f16-weights" (or int8), every row carries
weight_storage, and the Markdown table marks the precision "(f16 weights)". Its load
times include the conversion.

On --device local, load-cold means the model file's page cache was dropped
(posix_fadvise DONTNEED) before each load, so the file is read from storage; where that
is not possible only the first load of the process counts as cold. A synthetic model
(synthetic:v7-0.1b, ...) has no file: it is built anew at every load, so load-cold and
load-warm both time that build.

Results go to a SQLite store cell by cell; an interrupted run continues with
--resume RUNID (the same flags), measuring only the cells not yet recorded.
Tables show median [CI] (distribution-free, from order statistics) and mean ± sample sd.`

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "", benchDescription)
	path := fs.String("model", "", "checkpoint `file`: PyTorch .pth, safetensors or rwkv.cpp .bin (required)")
	name := fs.String("name", "", "model display `name` in tables (default: the file name without extension)")
	device := fs.String("device", "local", "`device` to run on; only local (this host) for now — plans (rwkvbench run) reach phones")
	backend := fs.String("backend", "cpu", "`backend`: cpu (the reference engine), or qnn-htp, qnn-cpu, qnn-gpu with --model a QNN context binary")
	perf := fs.String("perf", "", "QNN HTP perf `profile`: burst, sustained_high_performance or balanced (recorded with every sample)")
	qnnLib := fs.String("qnn-lib", "", "QNN backend library `path` (default: the standard name on the library path)")
	qnnSystemLib := fs.String("qnn-system-lib", "", "QNN system library `path` (default: libQnnSystem.so on the library path)")
	prompt := fs.IntP("prompt", "p", 512, "prompt `tokens` of the ppN, ppN+tgM and ttft tests")
	gen := fs.IntP("gen", "n", 128, "generated `tokens` of the tgN and ppN+tgM tests")
	testList := fs.String("tests", "", "comma-separated `tests` (default: ppP,tgN,ppP+tgN,ttft,load-cold,load-warm)")
	reps := fs.IntP("repetitions", "r", 5, "measured `runs` per cell")
	warmup := fs.Int("warmup", 1, "warm-up `runs` per cell, stored but not in the statistics")
	precList := fs.String("precision", "fp32,fp16,a16w8,a16w4", "comma-separated `precisions`; all but fp32 are simulated on the CPU (default with --weights f16 or int8: fp32)")
	weights := weightsFlag(fs)
	format := fs.StringP("output", "o", "md", "table `format`: md, json or csv")
	storePath := fs.String("store", "", "results `file` (SQLite); default: <user cache dir>/rwkvbench/results.db, or ./rwkvbench.db without a cache dir")
	resume := fs.String("resume", "", "continue the run with this `ID`, skipping its recorded cells")
	threads := fs.Int("threads", runtime.NumCPU(), "`goroutines` for the matrix products")
	seed := fs.Uint64("seed", 1, "`seed` of the token inputs")
	greedy := fs.Bool("greedy", false, "generate by feeding back the argmax instead of seeded random tokens")
	confidence := fs.Float64("confidence", 0.95, "`level` of the median's confidence interval")
	cooldown := fs.Duration("cooldown", 0, "fixed `pause` before every run")
	untilTemp := fs.Float64("cooldown-until-temp", 0, "before every run, wait until the hottest sensor is at most `C` degrees (0: off)")
	untilStatus := fs.Int("cooldown-until-status", -1, "before every run, wait until the thermal status is at most `N` (-1: off)")
	coolTimeout := fs.Duration("cooldown-timeout", time.Minute, "longest `wait` for the thermal gate; the run then goes ahead, tagged")
	evalLimit := fs.Int("eval-limit", 0, "also run LAMBADA on the first `N` documents per precision (0: no)")
	prefixToken := fs.Int("prefix-token", 0, "LAMBADA: `token` fed before each context (0 = World end-of-text; -1 = none, usual for byte-level models)")
	data := fs.String("data", "", "LAMBADA `file` for --eval-limit; default: $RWKVBENCH_SHARED_DATA/lambada/lambada_test.jsonl if present, else download once into the user cache")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *path == "":
		return errors.New("--model is required")
	case *prompt < 1 || *gen < 1:
		return fmt.Errorf("-p %d -n %d: both must be at least 1", *prompt, *gen)
	case *reps < 1:
		return fmt.Errorf("-r %d: need at least one repetition", *reps)
	case *warmup < 0:
		return fmt.Errorf("--warmup %d: must not be negative", *warmup)
	case *threads < 1:
		return fmt.Errorf("--threads %d: must be at least 1", *threads)
	case *format != "md" && *format != "json" && *format != "csv":
		return fmt.Errorf("-o %q: want md, json or csv", *format)
	case !(*confidence > 0 && *confidence < 1):
		return fmt.Errorf("--confidence %v: want a level between 0 and 1", *confidence)
	case *untilStatus < -1 || *untilStatus > 6:
		return fmt.Errorf("--cooldown-until-status %d: want -1 (off) or a thermal status 0..6", *untilStatus)
	case *untilTemp < 0 || math.IsNaN(*untilTemp):
		return fmt.Errorf("--cooldown-until-temp %v: must not be negative", *untilTemp)
	case *cooldown < 0 || *coolTimeout < 0:
		return errors.New("--cooldown and --cooldown-timeout must not be negative")
	case *evalLimit < 0:
		return fmt.Errorf("--eval-limit %d: must not be negative", *evalLimit)
	}
	tests, err := benchTests(*testList, *prompt, *gen)
	if err != nil {
		return err
	}
	storage, err := parseWeights(*weights)
	if err != nil {
		return err
	}
	if storage != kernel.F32 {
		if *backend != "cpu" {
			return fmt.Errorf("--weights %s applies only to the CPU engine (--backend cpu), not to --backend %s, whose context binary holds its own weights", storage, *backend)
		}
		if !fs.Changed("precision") {
			*precList = precision.FP32
		}
	}
	precisions, err := benchPrecisions(*precList)
	if err != nil {
		return err
	}
	if storage != kernel.F32 {
		for _, p := range precisions {
			if p != precision.FP32 {
				return fmt.Errorf("--weights %s with --precision %s: the simulated precisions fake-quantize the float32 weights, so they run only with --weights f32; give --precision fp32 with --weights %s", storage, p, storage)
			}
		}
	}
	dev, err := selectBenchDevice(*device, *threads, storage)
	if err != nil {
		return err
	}
	if *storePath == "" {
		*storePath = defaultStorePath()
	}
	if dir := filepath.Dir(*storePath); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--store %s: %w", *storePath, err)
		}
	}
	st, err := store.Open(*storePath)
	if err != nil {
		return err
	}
	defer st.Close()

	runID := *resume
	if runID == "" {
		runID = newBenchRunID()
	} else if err := benchRunExists(ctx, st, runID); err != nil {
		return err
	}

	hash, err := runner.ModelSHA256(*path)
	if err != nil {
		return err
	}
	display := *name
	if display == "" {
		display = benchModelName(*path)
	}
	fmt.Fprintf(e.stderr, "run %s → %s (continue an interrupted run with --resume %s)\n", runID, *storePath, runID)
	if storage != kernel.F32 {
		fmt.Fprintf(e.stderr, "CPU engine weights stored as %s (--weights %s): cells are recorded with runtime %q\n", storage, storage, dev.cell.Runtime)
	}

	sink := benchSink{st: st, runID: runID}
	cellTests := make([]string, 0, len(tests)+1)
	for _, t := range tests {
		cellTests = append(cellTests, t.String())
	}
	if *evalLimit > 0 {
		cellTests = append(cellTests, bench.TestLAMBADA)
	}
	var cfg model.Config
	var targets []bench.Target
	simulatedNote := "precisions other than fp32 are simulated on the CPU engine (fp16 rounding, fake quantization)"
	if *backend == "cpu" {
		// Calibrating the simulated precisions needs the model loaded once; the timed
		// loads come later, after the page cache is dropped.
		m, err := model.Load(*path)
		if err != nil {
			return err
		}
		cfg = m.Config
		targets, err = benchTargets(ctx, e, m, *path, display, hash, precisions, storage, dev, func(c bench.Cell) bool {
			return sink.allDone(ctx, c, cellTests)
		})
		m.Close()
		if err != nil {
			return err
		}
	} else {
		if len(precisions) != 1 {
			return fmt.Errorf("--backend %s runs a context binary, which holds one precision: give it with --precision (for example --precision a16w4)", *backend)
		}
		t, err := benchQNNTarget(ctx, *backend, *perf, *qnnLib, *qnnSystemLib, *path, display, hash, precisions[0], dev)
		if err != nil {
			return err
		}
		targets = []bench.Target{t}
		simulatedNote = "nothing simulated: measured on the QNN " + *backend + " backend (" + t.Cell.Runtime + ")"
	}
	if storage != kernel.F32 {
		simulatedNote = "nothing simulated: fp32 on the CPU engine with its projection weights stored as " + string(storage) + " (--weights), a speed mode, not the f32 reference"
	}

	meta := map[string]string{
		"model_path":        *path,
		"model_params":      strconv.FormatInt(cfg.Params, 10),
		"model_version":     string(cfg.Version),
		"prompt_tokens":     strconv.Itoa(*prompt),
		"generate_tokens":   strconv.Itoa(*gen),
		"repetitions":       strconv.Itoa(*reps),
		"warmup":            strconv.Itoa(*warmup),
		"seed":              strconv.FormatUint(*seed, 10),
		"greedy":            strconv.FormatBool(*greedy),
		"threads":           strconv.Itoa(*threads),
		"weight_storage":    benchCellWeights(dev.cell),
		"load_cold":         dev.coldMeaning,
		"simulated":         simulatedNote,
		"calibration":       "built-in calibration text (precision.CalibrationText), activation min/max",
		"thermal":           dev.thermalNote,
		"memory":            "peak_rss_bytes: VmHWM reset per cell via clear_refs; peak_pss_bytes: smaps_rollup Pss after the runs",
		"cooldown":          cooldown.String(),
		"cooldown_gate":     fmt.Sprintf("status<=%d temp<=%vC timeout %v", *untilStatus, *untilTemp, *coolTimeout),
		"median_confidence": strconv.FormatFloat(*confidence, 'g', -1, 64),
	}
	if *evalLimit > 0 {
		meta["lambada_docs"] = strconv.Itoa(*evalLimit)
		meta["lambada_prefix_token"] = strconv.Itoa(*prefixToken)
	}
	if err := st.BeginRun(ctx, store.Run{ID: runID, HarnessVersion: harnessVersion, Command: "rwkvbench bench " + strings.Join(args, " "), Started: time.Now().UTC(), Meta: meta}); err != nil {
		return err
	}
	runner := &bench.Runner{
		RunID:          runID,
		HarnessVersion: harnessVersion,
		Tests:          tests,
		Repetitions:    *reps,
		Warmup:         *warmup,
		Seed:           *seed,
		Greedy:         *greedy,
		Cooldown: bench.Cooldown{
			Delay:      *cooldown,
			GateStatus: *untilStatus >= 0, MaxStatus: *untilStatus,
			MaxTempC: *untilTemp,
			Timeout:  *coolTimeout,
		},
		Thermal: dev.thermal,
		Memory:  dev.memory,
		Sink:    sink,
		Log:     e.stderr,
	}
	runErr := runner.Run(ctx, targets)
	if runErr == nil && *evalLimit > 0 {
		runErr = benchLambada(ctx, e, sink, targets, *data, *evalLimit, *prefixToken, *storePath, hash, storage)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(e.stderr, "interrupted; continue with --resume %s\n", runID)
	}
	// What was recorded is shown even after an interrupt.
	failed, tableErr := benchPrintTable(context.WithoutCancel(ctx), e.stdout, st, runID, *format, *confidence, precisions, tests, dev, cfg)
	switch {
	case runErr != nil:
		return runErr
	case tableErr != nil:
		return tableErr
	case failed > 0:
		return fmt.Errorf("%d cell(s) failed; their reasons are in the table", failed)
	}
	return nil
}

// benchTests parses --tests, or builds the standard set from -p and -n.
func benchTests(list string, prompt, gen int) ([]bench.Test, error) {
	if list == "" {
		list = fmt.Sprintf("pp%d,tg%d,pp%d+tg%d,ttft,load-cold,load-warm", prompt, gen, prompt, gen)
	}
	var tests []bench.Test
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		t, err := bench.ParseTest(name, prompt)
		if err != nil {
			return nil, fmt.Errorf("--tests: %w", err)
		}
		if seen[t.String()] {
			return nil, fmt.Errorf("--tests: %s given twice", t)
		}
		seen[t.String()] = true
		tests = append(tests, t)
	}
	return tests, nil
}

func benchPrecisions(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(precision.Names(), p) {
			return nil, fmt.Errorf("--precision %q: want some of %s", p, strings.Join(precision.Names(), ","))
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("--precision: %s given twice", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// benchDevice is where cells run and what it can tell about itself.
type benchDevice struct {
	cell        bench.Cell // the device fields: Backend, Device, SoC, HTPArch, Runtime, PerfProfile
	thermal     bench.Thermal
	memory      bench.Memory
	dropCaches  func(path string) error // nil when the device cannot drop caches
	threads     int
	coldMeaning string
	thermalNote string
}

// selectBenchDevice is the one place that maps --device to a device; the device
// fleet adds its kinds here. The CPU engine's weight storage is part of its runtime,
// so that cells of different storages never count as repetitions of each other.
func selectBenchDevice(name string, threads int, storage kernel.Storage) (*benchDevice, error) {
	if name != "local" {
		return nil, fmt.Errorf("--device %q: only local (this host's CPU) is supported yet", name)
	}
	d := &benchDevice{
		cell: bench.Cell{
			Backend: "cpu",
			Device:  "local",
			SoC:     bench.HostCPUName(),
			Runtime: benchCPURuntime(storage),
			// The CPU engine's only performance knob is its thread count.
			PerfProfile: "threads=" + strconv.Itoa(threads),
		},
		threads:     threads,
		thermalNote: "not readable on this host",
	}
	th := bench.HostThermal{Root: "/sys/class/thermal"}
	if s, err := th.ThermalState(context.Background()); err == nil {
		d.thermal = th
		d.thermalNote = "hottest of /sys/class/thermal zones, at start " + s.String()
	}
	if _, err := os.Stat("/proc/self/status"); err == nil {
		d.memory = bench.ProcessMemory{Dir: "/proc/self"}
	}
	d.coldMeaning = "first load of the process (this OS cannot drop a file's page cache)"
	if runtime.GOOS == "linux" || runtime.GOOS == "android" {
		d.dropCaches = bench.DropFileCache
		d.coldMeaning = "model file's page cache dropped with posix_fadvise(DONTNEED) before each load"
	}
	return d, nil
}

// benchCPURuntime is the Cell.Runtime of the CPU engine: "go1.26 cpu-engine" with the
// reference f32 weights (as before --weights existed, so stored runs stay comparable),
// "go1.26 cpu-engine f16-weights" or "... int8-weights" otherwise.
func benchCPURuntime(storage kernel.Storage) string {
	r := runtime.Version() + " cpu-engine"
	if storage != kernel.F32 && storage != "" {
		r += " " + string(storage) + benchWeightsSuffix
	}
	return r
}

const benchWeightsSuffix = "-weights"

// benchCellWeights reads a cell's CPU engine weight storage back from its runtime:
// f32 for a CPU cell without a storage word, "" for other backends, where it does not
// apply.
func benchCellWeights(c bench.Cell) string {
	if c.Backend != "cpu" {
		return ""
	}
	for _, f := range strings.Fields(c.Runtime) {
		if s, ok := strings.CutSuffix(f, benchWeightsSuffix); ok && s != "" {
			return s
		}
	}
	return string(kernel.F32)
}

// benchTargets prepares one target per precision: simulated precisions are planned
// and calibrated now, on m, so that their load time covers loading the checkpoint
// and applying the encodings, not calibrating. A precision whose cells are all
// recorded (a resumed run) is not prepared, since it will not be opened.
// benchQNNTarget is the one target of a QNN run: the context binary at path on the
// QNN backend, described by what the backend reports.
func benchQNNTarget(ctx context.Context, backend, perf, lib, systemLib, path, display, hash, prec string, dev *benchDevice) (bench.Target, error) {
	b, err := qnn.ParseBackend(backend)
	if err != nil {
		return bench.Target{}, err
	}
	cfg := qnn.SessionConfig{Runtime: qnn.Config{Backend: b, BackendLib: lib, SystemLib: systemLib}, ContextFiles: []string{path}}
	if perf != "" {
		if cfg.Runtime.Perf, err = qnn.ParsePerfProfile(perf); err != nil {
			return bench.Target{}, err
		}
	}
	probe, err := qnn.OpenSession(ctx, cfg)
	if err != nil {
		return bench.Target{}, err
	}
	cell := dev.cell
	cell.Model, cell.ModelHash, cell.Precision, cell.Backend = display, hash, prec, backend
	cell.Runtime = probe.Runtime().Describe()
	cell.PerfProfile = string(probe.Runtime().PerfProfile())
	if err := probe.Close(); err != nil {
		return bench.Target{}, err
	}
	t := bench.Target{Cell: cell, Open: func(ctx context.Context) (model.Session, error) { return qnn.OpenSession(ctx, cfg) }}
	if dev.dropCaches != nil {
		t.DropCaches = func(context.Context) error { return dev.dropCaches(path) }
	}
	return t, nil
}

func benchTargets(ctx context.Context, e *env, m *model.Model, path, display, hash string, precisions []string, storage kernel.Storage, dev *benchDevice, recorded func(bench.Cell) bool) ([]bench.Target, error) {
	var calib []int
	var targets []bench.Target
	for _, name := range precisions {
		cell := dev.cell
		cell.Model, cell.ModelHash, cell.Precision = display, hash, name
		enc := precision.Encodings{Precision: name}
		if name != precision.FP32 && !recorded(cell) {
			if calib == nil {
				var err error
				if calib, err = precision.CalibrationTokens(m.Config.Vocab); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
			}
			if name == precision.A16W8 || name == precision.A16W4 {
				fmt.Fprintf(e.stderr, "preparing %s (simulated): calibrating activation ranges on %d tokens of the built-in text\n", name, len(calib))
			}
			var err error
			if _, _, enc, err = precision.Prepare(ctx, m, name, calib); err != nil {
				return nil, err
			}
		}
		target := bench.Target{
			Cell:      cell,
			Simulated: name != precision.FP32,
			Loaded:    true, // by runBench, for the config and calibration
			Open: func(ctx context.Context) (model.Session, error) {
				return precision.OpenSession(path, enc, dev.threads)
			},
		}
		if storage != kernel.F32 {
			if name != precision.FP32 {
				// runBench rejects this; a simulation needs the float32 weights.
				return nil, fmt.Errorf("precision %s cannot run with --weights %s", name, storage)
			}
			target.Open = func(ctx context.Context) (model.Session, error) {
				return openEngine(path, model.Options{Threads: dev.threads, WeightStorage: string(storage)})
			}
		}
		switch {
		case strings.HasPrefix(path, synthetic.PathPrefix):
			// Nothing to evict: a synthetic model is built anew in memory at every load.
			target.DropCaches = func(context.Context) error { return nil }
		case dev.dropCaches != nil:
			target.DropCaches = func(context.Context) error { return dev.dropCaches(path) }
		}
		targets = append(targets, target)
	}
	return targets, nil
}

// benchSink records cells in the store; a cell's samples and its done mark are one
// transaction.
type benchSink struct {
	st    *store.Store
	runID string
}

func (s benchSink) Done(ctx context.Context, c bench.Cell) (bool, error) {
	status, _, err := s.st.CellStatus(ctx, s.runID, c)
	return status == store.CellDone, err
}

func (s benchSink) Record(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
	return s.st.RecordCell(ctx, s.runID, c, samples)
}

// allDone reports whether every listed test of a cell is recorded; errors count as
// not done, so that the caller prepares rather than skips.
func (s benchSink) allDone(ctx context.Context, c bench.Cell, tests []string) bool {
	for _, t := range tests {
		c.Test = t
		if done, err := s.Done(ctx, c); err != nil || !done {
			return false
		}
	}
	return true
}

func (s benchSink) Fail(ctx context.Context, c bench.Cell, reason string) error {
	return s.st.MarkCell(ctx, s.runID, c, store.CellFailed, reason)
}

// benchLambada evaluates every target on LAMBADA and records ppl and acc, plus the
// KL divergence and top-1 agreement against the fp32 run of the same model and run
// when there is one. The fp32 reference is kept beside the store so that a resumed
// run can still compare with it.
func benchLambada(ctx context.Context, e *env, sink benchSink, targets []bench.Target, data string, limit, prefixToken int, storePath, hash string, storage kernel.Storage) error {
	if data == "" {
		// The same lookup as the tests' shared fixtures, so a workspace copy is used
		// before anything is downloaded.
		if dir := os.Getenv("RWKVBENCH_SHARED_DATA"); dir != "" {
			if p := filepath.Join(dir, "lambada", "lambada_test.jsonl"); benchFileExists(p) {
				data = p
			}
		}
	}
	ds, err := datasets.Open(ctx, datasets.Options{Path: data, Limit: limit})
	if err != nil {
		return err
	}
	refName := sink.runID + "-" + hash[:16] + "-fp32.ref"
	if storage != kernel.F32 {
		// Never mistaken for (or overwriting) the f32 engine's reference.
		refName = sink.runID + "-" + hash[:16] + "-fp32-" + string(storage) + "-weights.ref"
	}
	refPath := filepath.Join(filepath.Dir(storePath), "references", refName)
	// fp32 first: it is the reference for the others.
	ordered := slices.Clone(targets)
	slices.SortStableFunc(ordered, func(a, b bench.Target) int {
		return benchBoolToInt(a.Cell.Precision != precision.FP32) - benchBoolToInt(b.Cell.Precision != precision.FP32)
	})
	for _, t := range ordered {
		cell := t.Cell
		cell.Test = bench.TestLAMBADA
		done, err := sink.Done(ctx, cell)
		if err != nil {
			return err
		}
		if done {
			fmt.Fprintf(e.stderr, "%s %s lambada: already recorded, skipped\n", cell.Model, cell.Precision)
			continue
		}
		samples, err := lambadaCell(ctx, e, t, cell, ds, prefixToken, refPath, sink.runID)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "%s %s lambada: failed: %v\n", cell.Model, cell.Precision, err)
			if err := sink.Fail(ctx, cell, err.Error()); err != nil {
				return err
			}
			continue
		}
		if err := sink.Record(ctx, cell, samples); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s %s lambada: %d documents\n", cell.Model, cell.Precision, len(ds.Docs))
	}
	return nil
}

func benchBoolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func lambadaCell(ctx context.Context, e *env, t bench.Target, cell bench.Cell, ds *datasets.Dataset, prefixToken int, refPath, runID string) ([]bench.Sample, error) {
	spec := bench.LambadaSpec{Docs: ds.Docs, PrefixToken: prefixToken, Reference: refPath, SaveReference: cell.Precision == precision.FP32}
	if !spec.SaveReference {
		if _, err := os.Stat(refPath); err != nil {
			fmt.Fprintf(e.stderr, "%s %s lambada: no fp32 reference (%v); KL divergence not measured\n", cell.Model, cell.Precision, err)
		}
	}
	t.Cell = cell
	return bench.LambadaCell(ctx, t, runID, harnessVersion, spec)
}

// benchRow is one line of the summary table: one cell and one metric.
type benchRow struct {
	Model      string         `json:"model"`
	ModelHash  string         `json:"model_hash"`
	Params     int64          `json:"params"`
	Precision  string         `json:"precision"`
	Simulated  bool           `json:"simulated"`
	Backend    string         `json:"backend"`
	Device     string         `json:"device"`
	SoC        string         `json:"soc"`
	Test       string         `json:"test"`
	Metric     string         `json:"metric"`
	Unit       string         `json:"unit"`
	N          int            `json:"n"`
	Median     benchJSONFloat `json:"median"`
	CILo       benchJSONFloat `json:"ci_lo"` // null when the runs are too few for the level
	CIHi       benchJSONFloat `json:"ci_hi"`
	Confidence float64        `json:"confidence"`
	Mean       benchJSONFloat `json:"mean"`
	SD         benchJSONFloat `json:"sd"` // null below two runs
	Min        benchJSONFloat `json:"min"`
	Max        benchJSONFloat `json:"max"`
	Status     string         `json:"status"` // done or failed
	Reason     string         `json:"reason,omitempty"`

	// WeightStorage is the CPU engine's weight storage (--weights: f32, f16, int8),
	// read from the cell's runtime; absent for other backends.
	WeightStorage string `json:"weight_storage,omitempty"`

	summary bench.Summary
}

// benchPrintTable summarizes the run's stored samples, warm-ups excluded, and
// returns the number of failed cells.
func benchPrintTable(ctx context.Context, w io.Writer, st *store.Store, runID, format string, confidence float64, precisions []string, tests []bench.Test, dev *benchDevice, cfg model.Config) (int, error) {
	samples, err := st.Samples(ctx, store.Filter{Runs: []string{runID}, ExcludeWarmup: true})
	if err != nil {
		return 0, err
	}
	cells, err := st.Cells(ctx, runID)
	if err != nil {
		return 0, err
	}
	type key struct {
		cell   bench.Cell
		metric string
	}
	groups := map[key][]bench.Sample{}
	var keys []key
	for _, s := range samples {
		k := key{s.Cell, s.Metric}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	var rows []benchRow
	for _, k := range keys {
		g := groups[k]
		values := make([]float64, len(g))
		for i, s := range g {
			values[i] = s.Value
		}
		sum := bench.Summarize(values, confidence)
		rows = append(rows, benchRow{
			Model: k.cell.Model, ModelHash: k.cell.ModelHash, Params: cfg.Params, Precision: k.cell.Precision,
			Simulated: g[0].Simulated, Backend: k.cell.Backend, WeightStorage: benchCellWeights(k.cell), Device: k.cell.Device, SoC: k.cell.SoC,
			Test: k.cell.Test, Metric: k.metric, Unit: g[0].Unit, N: sum.N,
			Median: benchJSONFloat(sum.Median), CILo: benchJSONFloat(sum.Lo), CIHi: benchJSONFloat(sum.Hi), Confidence: confidence,
			Mean: benchJSONFloat(sum.Mean), SD: benchJSONFloat(sum.SD), Min: benchJSONFloat(sum.Min), Max: benchJSONFloat(sum.Max),
			Status: "done", summary: sum,
		})
	}
	failed := 0
	nan := benchJSONFloat(math.NaN())
	for _, c := range cells {
		if c.Status != store.CellFailed {
			continue
		}
		failed++
		rows = append(rows, benchRow{
			Model: c.Model, ModelHash: c.ModelHash, Params: cfg.Params, Precision: c.Precision,
			Simulated: c.Precision != precision.FP32, Backend: c.Backend, WeightStorage: benchCellWeights(c.Cell), Device: c.Device, SoC: c.SoC,
			Test: c.Test, Status: "failed", Reason: c.Reason,
			Median: nan, CILo: nan, CIHi: nan, Mean: nan, SD: nan, Min: nan, Max: nan,
		})
	}
	testOrder := map[string]int{}
	for i, t := range tests {
		testOrder[t.String()] = i
	}
	testOrder[bench.TestLAMBADA] = len(tests)
	metricOrder := map[string]int{}
	for i, m := range []string{
		bench.MetricTokensPerSecond, bench.MetricPrefillTokensPerSecond, bench.MetricGenerationTokensPerSecond,
		bench.MetricTTFTMillis, bench.MetricLoadMillis, bench.MetricPeakRSSBytes, bench.MetricPeakPSSBytes,
		bench.MetricPerplexity, bench.MetricAccuracy, bench.MetricKLDMean, bench.MetricTop1Agreement,
	} {
		metricOrder[m] = i
	}
	slices.SortStableFunc(rows, func(a, b benchRow) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		if c := slices.Index(precisions, a.Precision) - slices.Index(precisions, b.Precision); c != 0 {
			return c
		}
		if c := strings.Compare(a.WeightStorage, b.WeightStorage); c != 0 {
			return c
		}
		if c := testOrder[a.Test] - testOrder[b.Test]; c != 0 {
			return c
		}
		return metricOrder[a.Metric] - metricOrder[b.Metric]
	})

	switch format {
	case "json":
		return failed, benchWriteJSON(w, rows)
	case "csv":
		return failed, benchWriteCSV(w, rows)
	}
	return failed, benchWriteMarkdown(w, rows, runID, confidence, dev)
}

// benchJSONFloat is a float64 that encodes NaN and infinities (an open-ended confidence
// interval, a missing spread) as null, which encoding/json cannot do itself.
type benchJSONFloat float64

func (f benchJSONFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func benchWriteJSON(w io.Writer, rows []benchRow) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if rows == nil {
		rows = []benchRow{}
	}
	return enc.Encode(rows)
}

func benchWriteCSV(w io.Writer, rows []benchRow) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"model", "model_hash", "params", "precision", "simulated", "backend", "device", "soc", "test", "metric", "unit",
		"n", "median", "ci_lo", "ci_hi", "confidence", "mean", "sd", "min", "max", "status", "reason", "weight_storage"})
	num := func(v benchJSONFloat) string {
		if math.IsNaN(float64(v)) {
			return ""
		}
		return strconv.FormatFloat(float64(v), 'g', -1, 64)
	}
	for _, r := range rows {
		cw.Write([]string{r.Model, r.ModelHash, strconv.FormatInt(r.Params, 10), r.Precision, strconv.FormatBool(r.Simulated),
			r.Backend, r.Device, r.SoC, r.Test, r.Metric, r.Unit, strconv.Itoa(r.N),
			num(r.Median), num(r.CILo), num(r.CIHi), num(benchJSONFloat(r.Confidence)), num(r.Mean), num(r.SD), num(r.Min), num(r.Max), r.Status, r.Reason, r.WeightStorage})
	}
	cw.Flush()
	return cw.Error()
}

// benchMetricName returns the table's words for a metric, the unit it is shown in,
// the factor from the stored unit, and the decimals shown (-1: three significant
// digits, for values spanning orders of magnitude).
func benchMetricName(metric string) (label, unit string, scale float64, digits int) {
	switch metric {
	case bench.MetricTokensPerSecond:
		return "t/s (pp+tg)", "tok/s", 1, 2
	case bench.MetricPrefillTokensPerSecond:
		return "prefill t/s", "tok/s", 1, 2
	case bench.MetricGenerationTokensPerSecond:
		return "generation t/s", "tok/s", 1, 2
	case bench.MetricTTFTMillis:
		return "TTFT", "ms", 1, 2
	case bench.MetricLoadMillis:
		return "load time", "ms", 1, 1
	case bench.MetricPeakRSSBytes:
		return "peak RSS", "MiB", 1.0 / (1 << 20), 1
	case bench.MetricPeakPSSBytes:
		return "PSS after runs", "MiB", 1.0 / (1 << 20), 1
	case bench.MetricPerplexity:
		return "LAMBADA ppl", "", 1, 3
	case bench.MetricAccuracy:
		return "LAMBADA acc", "%", 100, 2
	case bench.MetricKLDMean:
		return "KLD vs fp32 (mean)", "", 1, -1
	case bench.MetricTop1Agreement:
		return "top-1 agreement vs fp32", "%", 100, 2
	}
	return metric, "", 1, 3
}

// benchWriteMarkdown writes one row per cell and speed metric, llama-bench style,
// with the cell's memory readings as columns rather than rows of their own.
func benchWriteMarkdown(w io.Writer, rows []benchRow, runID string, confidence float64, dev *benchDevice) error {
	type cellKey struct {
		model, precision, test string
	}
	memory := map[cellKey][2]string{}
	storages := map[string]bool{}
	for _, r := range rows {
		if r.WeightStorage != "" && r.WeightStorage != string(kernel.F32) {
			storages[r.WeightStorage] = true
		}
		k := cellKey{r.Model, benchPrecisionLabel(r), r.Test}
		m := memory[k]
		switch r.Metric {
		case bench.MetricPeakRSSBytes:
			m[0] = fmt.Sprintf("%.1f", float64(r.Median)/(1<<20))
		case bench.MetricPeakPSSBytes:
			m[1] = fmt.Sprintf("%.1f", float64(r.Median)/(1<<20))
		}
		memory[k] = m
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## rwkvbench bench — run %s\n\n", runID)
	fmt.Fprintf(bw, "Device %s (%s), backend %s, %s, %s.\n\n", dev.cell.Device, dev.cell.SoC, dev.cell.Backend, dev.cell.Runtime, dev.cell.PerfProfile)
	fmt.Fprintf(bw, "Statistics: **median [%g%% CI]** (distribution-free, from order statistics) and **mean ± sample sd** of the measured runs; warm-ups are excluded. ", confidence*100)
	fmt.Fprintf(bw, "Peak RSS is the VmHWM of the cell (reset before it); PSS is read right after its runs. ")
	fmt.Fprintf(bw, "Rows marked *simulated* are precisions emulated on the CPU engine (fp16 rounding, fake quantization): their accuracy predicts the NPU's; their speed is the CPU engine's plus the cost of simulating, not the NPU's.")
	for _, st := range slices.Sorted(maps.Keys(storages)) {
		fmt.Fprintf(bw, " Rows marked *(%s weights)* ran the CPU engine with its projection weights stored as %s (--weights %s, dequantized in the kernel): a speed mode of the host engine, not the f32 reference and not a simulated precision.", st, st, st)
	}
	fmt.Fprint(bw, "\n\n")
	fmt.Fprintln(bw, "| model | params | precision | test | metric | unit | n | median [CI] | mean ± sd | peak RSS MiB | PSS MiB |")
	fmt.Fprintln(bw, "|---|--:|---|---|---|---|--:|--:|--:|--:|--:|")
	openCI := false
	for _, r := range rows {
		precLabel := benchPrecisionLabel(r)
		prec := precLabel
		if r.Simulated {
			prec += " *simulated*"
		}
		if r.Status != "done" {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | — | | 0 | NA: %s | NA | | |\n", benchMDEscape(r.Model), benchFormatParams(r.Params), prec, r.Test, benchMDEscape(r.Reason))
			continue
		}
		if r.Metric == bench.MetricPeakRSSBytes || r.Metric == bench.MetricPeakPSSBytes {
			continue
		}
		label, unit, scale, digits := benchMetricName(r.Metric)
		s := r.summary
		scaled := bench.Summary{N: s.N, Median: s.Median * scale, Lo: s.Lo * scale, Hi: s.Hi * scale, Mean: s.Mean * scale, SD: s.SD * scale}
		medianCI, meanSD := scaled.MedianCI(max(digits, 6)), scaled.MeanSD(max(digits, 6))
		if digits >= 0 {
			medianCI, meanSD = scaled.MedianCI(digits), scaled.MeanSD(digits)
		}
		if s.N == 1 {
			value := strconv.FormatFloat(scaled.Median, 'f', digits, 64)
			if digits < 0 {
				value = strconv.FormatFloat(scaled.Median, 'g', 3, 64)
			}
			medianCI, meanSD = value+" (one value)", "—"
		} else if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
			openCI = true
		}
		mem := memory[cellKey{r.Model, precLabel, r.Test}]
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n",
			benchMDEscape(r.Model), benchFormatParams(r.Params), prec, r.Test, label, unit, s.N, medianCI, meanSD, mem[0], mem[1])
		memory[cellKey{r.Model, precLabel, r.Test}] = [2]string{} // once per cell
	}
	if openCI {
		fmt.Fprintf(bw, "\nAn interval bound of ±∞ means too few runs for a %g%% interval of the median (at 95%%, 6 or more are needed): raise -r.\n", confidence*100)
	}
	return bw.Flush()
}

// benchPrecisionLabel is a row's precision as the Markdown table shows it: with the
// CPU engine's weight storage when that is not the f32 reference, e.g.
// "fp32 *(f16 weights)*".
func benchPrecisionLabel(r benchRow) string {
	if r.WeightStorage == "" || r.WeightStorage == string(kernel.F32) {
		return r.Precision
	}
	return r.Precision + " *(" + r.WeightStorage + " weights)*"
}

func benchMDEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func benchFormatParams(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}

// defaultStorePath is the results store of every subcommand run without --store
// (bench writes it; report, compare and recommend read it): results.db in the
// rwkvbench directory of the user cache (~/.cache/rwkvbench on Linux), or
// ./rwkvbench.db where the OS names no cache directory.
func defaultStorePath() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "rwkvbench", "results.db")
	}
	return "rwkvbench.db"
}

func newBenchRunID() string {
	var b [3]byte
	rand.Read(b[:])
	return "bench-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func benchRunExists(ctx context.Context, st *store.Store, id string) error {
	runs, err := st.Runs(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.ID == id {
			return nil
		}
	}
	return fmt.Errorf("--resume %s: no such run in %s", id, st.Path())
}

func benchFileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// benchModelName is the display name of a model path when --name is not given: the
// file name without its extension, or synthetic-<name> for a synthetic model.
func benchModelName(path string) string {
	if name, ok := strings.CutPrefix(path, synthetic.PathPrefix); ok {
		return "synthetic-" + name
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}
