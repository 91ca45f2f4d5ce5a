package bench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/model"
)

// storeSink adapts the results store to bench.Sink, as the CLI does.
type storeSink struct {
	st    *store.Store
	runID string
}

func (s storeSink) Done(ctx context.Context, c bench.Cell) (bool, error) {
	status, _, err := s.st.CellStatus(ctx, s.runID, c)
	return status == store.CellDone, err
}

func (s storeSink) Record(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
	return s.st.RecordCell(ctx, s.runID, c, samples)
}

func (s storeSink) Fail(ctx context.Context, c bench.Cell, reason string) error {
	return s.st.MarkCell(ctx, s.runID, c, store.CellFailed, reason)
}

const (
	helperEnv  = "RWKVBENCH_BENCH_KILL_HELPER" // the store path, in the child
	killRunID  = "kill-test"
	killWarmup = 1
	killReps   = 3
)

var killTests = []string{"pp16", "tg8", "pp16+tg8", "ttft"}

// killTargets are six fake models × four tests: 24 cells, each made slow enough by
// the cool-down delay (the harness's own pause, not a sleep in the test) that the
// parent sees some cells recorded long before the last.
func killTargets() []bench.Target {
	var targets []bench.Target
	for i := range 6 {
		targets = append(targets, bench.Target{
			Cell:      bench.Cell{Model: "fake-" + strconv.Itoa(i), Precision: "fp32", Backend: "cpu", Device: "local"},
			Simulated: true,
			Open: func(ctx context.Context) (model.Session, error) {
				return bench.NewFakeSession(32), nil
			},
		})
	}
	return targets
}

func runKillBench(ctx context.Context, path string) error {
	st, err := store.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.BeginRun(ctx, store.Run{ID: killRunID, HarnessVersion: "test", Command: "kill test"}); err != nil {
		return err
	}
	r := &bench.Runner{
		RunID: killRunID, HarnessVersion: "test",
		Repetitions: killReps, Warmup: killWarmup, Seed: 1,
		Cooldown: bench.Cooldown{Delay: 15 * time.Millisecond},
		Sink:     storeSink{st, killRunID},
	}
	for _, name := range killTests {
		test, err := bench.ParseTest(name, 16)
		if err != nil {
			return err
		}
		r.Tests = append(r.Tests, test)
	}
	return r.Run(ctx, killTargets())
}

// TestHelperProcess is the child of TestSIGKILLThenResume; it does nothing in a
// normal test run.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestSIGKILLThenResume")
	}
	if err := runKillBench(context.Background(), path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func doneCells(t *testing.T, st *store.Store) []store.CellState {
	t.Helper()
	cells, err := st.Cells(context.Background(), killRunID)
	if err != nil {
		t.Fatal(err)
	}
	var done []store.CellState
	for _, c := range cells {
		if c.Status == store.CellDone {
			done = append(done, c)
		}
	}
	return done
}

// checkConsistent fails unless every done cell has exactly its samples and no
// other cell has any, and returns the sample times by cell.
func checkConsistent(t *testing.T, st *store.Store) map[bench.Cell][]time.Time {
	t.Helper()
	samples, err := st.Samples(context.Background(), store.Filter{Runs: []string{killRunID}})
	if err != nil {
		t.Fatal(err)
	}
	byCell := map[bench.Cell][]time.Time{}
	for _, s := range samples {
		byCell[s.Cell] = append(byCell[s.Cell], s.Time)
	}
	done := map[bench.Cell]bool{}
	for _, c := range doneCells(t, st) {
		done[c.Cell] = true
		metrics := 1
		if c.Test == "pp16+tg8" {
			metrics = 3
		}
		if want := metrics * (killWarmup + killReps); len(byCell[c.Cell]) != want {
			t.Errorf("done cell %s/%s has %d samples, want %d", c.Model, c.Test, len(byCell[c.Cell]), want)
		}
	}
	for c, times := range byCell {
		if !done[c] {
			t.Errorf("cell %s/%s has %d samples but is not done", c.Model, c.Test, len(times))
		}
	}
	return byCell
}

func TestSIGKILLThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	path := filepath.Join(t.TempDir(), "results.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Kill the child once at least two cells are recorded.
	var st *store.Store
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no cells recorded by the child within two minutes")
		}
		select {
		case err := <-exited:
			t.Fatalf("the child finished (%v) before it could be killed", err)
		case <-time.After(10 * time.Millisecond):
		}
		if st == nil {
			if _, err := os.Stat(path); err != nil {
				continue
			}
			var err error
			if st, err = store.Open(path); err != nil {
				continue // the child may still be creating the schema
			}
			defer st.Close()
		}
		if len(doneCells(t, st)) >= 2 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}

	before := checkConsistent(t, st)
	total := len(killTargets()) * len(killTests)
	if n := len(doneCells(t, st)); n < 2 || n >= total {
		t.Fatalf("%d of %d cells done at the kill; the test needs a run killed halfway", n, total)
	}

	t.Logf("killed with %d of %d cells recorded", len(doneCells(t, st)), total)

	// Resume in this process: the finished cells must be left alone.
	if err := runKillBench(context.Background(), path); err != nil {
		t.Fatalf("resume: %v", err)
	}
	after := checkConsistent(t, st)
	if n := len(doneCells(t, st)); n != total {
		t.Errorf("%d of %d cells done after the resume", n, total)
	}
	for c, times := range before {
		if fmt.Sprint(after[c]) != fmt.Sprint(times) {
			t.Errorf("cell %s/%s was measured again by the resume", c.Model, c.Test)
		}
	}
}
