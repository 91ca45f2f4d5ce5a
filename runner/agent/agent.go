// Package agent is the body of rwkvbench-agent, the program the host deploys to a
// device: a thin loop that serves the agentproto protocol on stdin/stdout and runs
// bench jobs through bench.Runner and eval jobs through eval.Lambada — the very
// code the host runs locally — on the CPU engine (package model, with the simulated
// precisions of model/precision) or on a QNN backend (package qnn) from a context
// binary.
//
// It lives in a package, not in the command, so that tests can run the same agent
// from their own binary. It prints nothing but protocol on stdout; diagnostics go
// to stderr.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/datasets"
	"github.com/rwkvbench/rwkvbench/eval"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
	"github.com/rwkvbench/rwkvbench/qnn"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
)

// Version changes with the harness; the host records it with every run.
const Version = "0.1.0-dev"

// Main runs the agent with the command-line arguments args (without the program
// name) and returns the exit code: 0 after a clean bye, 1 on a protocol or I/O
// failure, 2 on bad arguments.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-version" || args[0] == "--version") {
		fmt.Fprintf(stdout, "rwkvbench-agent %s protocol %d %s %s/%s\n", Version, agentproto.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	if len(args) == 1 && args[0] == "-doctor" {
		// The QNN checks of `rwkvbench doctor`, run on the device itself: its SoC,
		// the libraries deployed beside the agent, the op package, FastRPC.
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintf(stderr, "rwkvbench-agent: %v\n", err)
			return 1
		}
		findings := qnn.CheckHost(qnn.CheckOptions{Root: "/", LibDir: wd, Load: qnn.Available()})
		if err := json.NewEncoder(stdout).Encode(map[string]any{"findings": findings}); err != nil {
			fmt.Fprintf(stderr, "rwkvbench-agent: %v\n", err)
			return 1
		}
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "rwkvbench-agent: unexpected arguments %q; the agent takes jobs on stdin (see -version, -doctor)\n", args)
		return 2
	}
	if err := agentproto.Serve(ctx, stdin, stdout, hello(), execute); err != nil {
		fmt.Fprintf(stderr, "rwkvbench-agent: %v\n", err)
		return 1
	}
	return 0
}

func hello() agentproto.Hello {
	return agentproto.Hello{
		AgentVersion: Version,
		GoVersion:    runtime.Version(),
		OS:           runtime.GOOS,
		Arch:         runtime.GOARCH,
		// QNN where this build can load it (an android build without cgo cannot).
		Backends: backends(),
		Jobs:     []string{"bench", "eval"},
	}
}

// cpuRuntime is what the agent records as Cell.Runtime when the host left it empty:
// the CPU engine and the Go release it was built with.
func cpuRuntime() string { return runtime.Version() + " cpu" }

func execute(ctx context.Context, job agentproto.Job, s *agentproto.Stream) error {
	if strings.HasPrefix(job.Cell.Backend, "qnn-") {
		return executeQNN(ctx, job, s)
	}
	if job.Cell.Backend != "" && job.Cell.Backend != "cpu" {
		return fmt.Errorf("backend %q is not available in this agent (it runs: %s)", job.Cell.Backend, strings.Join(backends(), ", "))
	}
	cell := job.Cell
	cell.Backend = "cpu"
	if cell.Precision == "" {
		cell.Precision = precision.FP32
	}
	if cell.Runtime == "" {
		cell.Runtime = cpuRuntime()
	}
	if !strings.HasPrefix(job.ModelPath, synthetic.PathPrefix) { // synthetic: built here
		if _, err := os.Stat(job.ModelPath); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	// A simulated precision is prepared once per job — calibration is not load
	// time — and applied at every load, as the host's bench command does.
	enc, err := encodings(ctx, job.ModelPath, cell.Precision)
	if err != nil {
		return err
	}
	open := func(ctx context.Context) (model.Session, error) {
		return precision.OpenSession(job.ModelPath, enc, runtime.NumCPU())
	}
	switch job.Kind {
	case "bench":
		return runBench(ctx, job, cell, enc.Simulated(), open, s)
	case "eval":
		return runEval(ctx, job, cell, enc.Simulated(), open, s)
	}
	return fmt.Errorf("unknown job kind %q", job.Kind)
}

// executeQNN runs a job on a QNN backend: ModelPath is a context binary, whose
// precision is what it was converted to (nothing is simulated), and the runtime and
// perf profile the backend reports are recorded with every sample.
func executeQNN(ctx context.Context, job agentproto.Job, s *agentproto.Stream) error {
	if !qnn.Available() {
		return fmt.Errorf("backend %s: %w", job.Cell.Backend, qnn.ErrUnavailable)
	}
	backend, err := qnn.ParseBackend(job.Cell.Backend)
	if err != nil {
		return err
	}
	var perf qnn.PerfProfile
	if job.Cell.PerfProfile != "" {
		if perf, err = qnn.ParsePerfProfile(job.Cell.PerfProfile); err != nil {
			return err
		}
	}
	cfg := qnn.SessionConfig{Runtime: qnn.Config{Backend: backend, Perf: perf}, ContextFiles: []string{job.ModelPath}}
	if job.QNN != nil {
		cfg.Runtime.BackendLib, cfg.Runtime.SystemLib = job.QNN.BackendLib, job.QNN.SystemLib
	}
	open := func(ctx context.Context) (model.Session, error) { return qnn.OpenSession(ctx, cfg) }
	// Open once to learn what the backend is, so every cell carries it.
	probe, err := qnn.OpenSession(ctx, cfg)
	if err != nil {
		return err
	}
	cell := job.Cell
	cell.Runtime = probe.Runtime().Describe()
	if p := probe.Runtime().PerfProfile(); p != "" {
		cell.PerfProfile = string(p)
	}
	if err := probe.Close(); err != nil {
		return err
	}
	switch job.Kind {
	case "bench":
		return runBench(ctx, job, cell, false, open, s)
	case "eval":
		return runEval(ctx, job, cell, false, open, s)
	}
	return fmt.Errorf("unknown job kind %q", job.Kind)
}

// backends lists what this agent build can run.
func backends() []string {
	if qnn.Available() {
		return []string{"cpu", "qnn-htp", "qnn-cpu", "qnn-gpu"}
	}
	return []string{"cpu"}
}

// encodings computes a precision's simulated encodings for a checkpoint: nothing
// for fp32, fp16 rounding, or fake quantization calibrated on the built-in text.
func encodings(ctx context.Context, path, name string) (precision.Encodings, error) {
	if name == precision.FP32 {
		return precision.Encodings{Precision: name}, nil
	}
	m, err := model.Load(path)
	if err != nil {
		return precision.Encodings{}, fmt.Errorf("load %s: %w", path, err)
	}
	defer m.Close()
	calib, err := precision.CalibrationTokens(m.Config.Vocab)
	if err != nil {
		return precision.Encodings{}, err
	}
	_, _, enc, err := precision.Prepare(ctx, m, name, calib)
	return enc, err
}

func runBench(ctx context.Context, job agentproto.Job, cell bench.Cell, simulated bool, open func(context.Context) (model.Session, error), s *agentproto.Stream) error {
	spec := job.Bench
	if spec == nil || len(spec.Tests) == 0 {
		return fmt.Errorf("bench job without tests")
	}
	var tests []bench.Test
	for _, name := range spec.Tests {
		t, err := bench.ParseTest(name, spec.Prompt)
		if err != nil {
			return fmt.Errorf("test %q: %w", name, err)
		}
		tests = append(tests, t)
	}
	r := &bench.Runner{
		RunID:          job.RunID,
		HarnessVersion: job.HarnessVersion,
		Tests:          tests,
		Repetitions:    spec.Reps,
		Warmup:         spec.Warmup,
		Seed:           spec.Seed,
		Thermal:        bench.HostThermal{Root: "/sys/class/thermal"},
		Memory:         bench.ProcessMemory{Dir: "/proc/self"},
		Sink:           s,
	}
	target := bench.Target{Cell: cell, Simulated: simulated, Open: open}
	return r.Run(ctx, []bench.Target{target})
}

func runEval(ctx context.Context, job agentproto.Job, cell bench.Cell, simulated bool, open func(context.Context) (model.Session, error), s *agentproto.Stream) error {
	spec := job.Eval
	if spec == nil || spec.Task != "lambada" {
		return fmt.Errorf("eval job: only task %q is supported", "lambada")
	}
	ds, err := datasets.Open(ctx, datasets.Options{Path: spec.DatasetPath, Limit: spec.Limit})
	if err != nil {
		return err
	}
	cell.Test = bench.TestLAMBADA
	samples, err := bench.LambadaCell(ctx, bench.Target{Cell: cell, Simulated: simulated, Open: open}, job.RunID, job.HarnessVersion, bench.LambadaSpec{
		Docs: ds.Docs, PrefixToken: spec.PrefixToken, Reference: spec.Reference, SaveReference: spec.SaveReference,
		Progress: func(p eval.Progress) {
			_ = s.Progress(agentproto.Progress{Done: p.Done, Total: p.Total, Stage: "lambada"})
		},
	})
	if err != nil {
		_ = s.Fail(ctx, cell, err.Error())
		return err
	}
	return s.Record(ctx, cell, samples)
}
