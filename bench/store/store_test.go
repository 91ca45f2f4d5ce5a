package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
)

func testCell(precision, test string) bench.Cell {
	return bench.Cell{Model: "rwkv7-0.1b", ModelHash: "abc123", Precision: precision, Backend: "cpu",
		Device: "local", SoC: "host", Runtime: "go1.26 cpu", PerfProfile: "default", Test: test}
}

// cellSamples returns n repetitions of one metric for a cell, after one warm-up.
func cellSamples(runID string, c bench.Cell, metric string, n int) []bench.Sample {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	var out []bench.Sample
	for rep := -1; rep < n; rep++ {
		out = append(out, bench.Sample{Cell: c, RunID: runID, HarnessVersion: "test", Metric: metric, Unit: "tok/s",
			Value: 100 + float64(rep), Rep: rep, Warmup: rep < 0, Time: t0.Add(time.Duration(rep+1) * time.Second),
			ThermalBefore: "0", ThermalAfter: "1", Simulated: c.Precision == "a16w4"})
	}
	return out
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	run := Run{ID: "r1", HarnessVersion: "test", Command: "bench -r 3", Started: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Meta: map[string]string{"host": "ci"}}
	if err := s.BeginRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	want := append(cellSamples("r1", testCell("fp16", "tg128"), "generation_tokens_per_second", 3),
		cellSamples("r1", testCell("a16w4", "tg128"), "generation_tokens_per_second", 3)...)
	if err := s.Record(ctx, want...); err != nil {
		t.Fatal(err)
	}
	got, err := s.Samples(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !reflect.DeepEqual(runs[0], run) {
		t.Fatalf("runs = %+v, want [%+v]", runs, run)
	}
}

func TestPragmas(t *testing.T) {
	s, _ := openTemp(t)
	tests := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "30000"},
	}
	for _, tt := range tests {
		var got string
		if err := s.db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
}

func TestRunsOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	base := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	// Inserted out of order, within one second: text order must still be time order.
	for _, r := range []struct {
		id string
		at time.Time
	}{{"c", base.Add(500 * time.Millisecond)}, {"a", base}, {"b", base.Add(5 * time.Millisecond)}, {"d", base.Add(time.Second)}} {
		if err := s.BeginRun(ctx, Run{ID: r.id, HarnessVersion: "t", Started: r.at}); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if strings.Join(got, "") != "abcd" {
		t.Fatalf("runs in order %v, want a b c d", got)
	}
}

func TestSamplesFilter(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for _, id := range []string{"r1", "r2"} {
		for _, p := range []string{"fp16", "a16w4"} {
			if err := s.Record(ctx, cellSamples(id, testCell(p, "tg128"), "generation_tokens_per_second", 2)...); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		f       Filter
		want    int
		wantErr string
	}{
		{"all", Filter{}, 12, ""},
		{"no warmup", Filter{ExcludeWarmup: true}, 8, ""},
		{"one run", Filter{Runs: []string{"r2"}}, 6, ""},
		{"run and precision", Filter{Runs: []string{"r1"}, Match: map[string]string{"precision": "fp16"}}, 3, ""},
		{"simulated", Filter{Match: map[string]string{"simulated": "true"}}, 6, ""},
		{"rep", Filter{Match: map[string]string{"rep": "1"}}, 4, ""},
		{"no match", Filter{Match: map[string]string{"soc": "SM8650"}}, 0, ""},
		{"unknown field", Filter{Match: map[string]string{"chip": "x"}}, 0, `unknown field "chip"`},
		{"bad bool", Filter{Match: map[string]string{"simulated": "maybe"}}, 0, "not true or false"},
		{"bad int", Filter{Match: map[string]string{"rep": "one"}}, 0, "not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Samples(ctx, tt.f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d samples, want %d", len(got), tt.want)
			}
		})
	}
}

func TestAppendOnly(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	samples := cellSamples("r1", testCell("fp16", "tg128"), "generation_tokens_per_second", 2)
	if err := s.Record(ctx, samples...); err != nil {
		t.Fatal(err)
	}
	err := s.Record(ctx, samples[1])
	if err == nil || !strings.Contains(err.Error(), "already recorded") || !strings.Contains(err.Error(), path) {
		t.Fatalf("re-recording a sample: err = %v, want an 'already recorded' error naming %s", err, path)
	}
	for _, stmt := range []string{`UPDATE samples SET value = 0`, `DELETE FROM samples`} {
		if _, err := s.db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger to refuse", stmt, err)
		}
	}
	got, err := s.Samples(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(samples) {
		t.Fatalf("after refused writes: %d samples, want %d", len(got), len(samples))
	}
}

func TestRecordRejectsBadSamples(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	good := cellSamples("r1", testCell("fp16", "tg128"), "generation_tokens_per_second", 1)[1]
	tests := []struct {
		name    string
		mutate  func(*bench.Sample)
		wantErr string
	}{
		{"no run", func(s *bench.Sample) { s.RunID = "" }, "empty run_id"},
		{"no metric", func(s *bench.Sample) { s.Metric = "" }, "empty metric"},
		{"no test", func(s *bench.Sample) { s.Test = "" }, "empty test"},
		{"no time", func(s *bench.Sample) { s.Time = time.Time{} }, "zero time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			tt.mutate(&bad)
			// The good sample in the same call must not be stored either: one transaction.
			err := s.Record(ctx, good, bad)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if n, _ := s.Samples(ctx, Filter{}); len(n) != 0 {
				t.Fatalf("a failed Record left %d samples", len(n))
			}
		})
	}
}

func TestBeginRunResume(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	first := Run{ID: "r1", HarnessVersion: "1", Command: "bench", Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.BeginRun(ctx, first); err != nil {
		t.Fatal(err)
	}
	resume := first
	resume.Command, resume.Started = "bench --resume", first.Started.Add(time.Hour)
	if err := s.BeginRun(ctx, resume); err != nil {
		t.Fatalf("resume: %v", err)
	}
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Command != "bench" || !runs[0].Started.Equal(first.Started) {
		t.Fatalf("after resume runs = %+v, want the original record only", runs)
	}
	other := first
	other.HarnessVersion = "2"
	if err := s.BeginRun(ctx, other); err == nil || !strings.Contains(err.Error(), "started by harness 1") {
		t.Fatalf("resume with another harness: err = %v, want a refusal", err)
	}
	if err := s.BeginRun(ctx, Run{}); err == nil {
		t.Fatal("empty run ID accepted")
	}
}

func TestCellStatus(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	c := testCell("fp16", "tg128")
	if st, _, err := s.CellStatus(ctx, "r1", c); err != nil || st != CellPending {
		t.Fatalf("unknown cell: %v %v, want pending", st, err)
	}
	if err := s.MarkCell(ctx, "r1", c, CellFailed, "QNN error 1002"); err != nil {
		t.Fatal(err)
	}
	if st, reason, err := s.CellStatus(ctx, "r1", c); err != nil || st != CellFailed || reason != "QNN error 1002" {
		t.Fatalf("failed cell: %v %q %v", st, reason, err)
	}
	if err := s.RecordCell(ctx, "r1", c, cellSamples("r1", c, "generation_tokens_per_second", 2)); err != nil {
		t.Fatal(err)
	}
	if st, reason, err := s.CellStatus(ctx, "r1", c); err != nil || st != CellDone || reason != "" {
		t.Fatalf("recorded cell: %v %q %v", st, reason, err)
	}
	if st, _, _ := s.CellStatus(ctx, "r2", c); st != CellPending {
		t.Fatalf("same cell in another run: %v, want pending", st)
	}
	if err := s.MarkCell(ctx, "r1", c, "finished", ""); err == nil {
		t.Fatal("unknown status accepted")
	}
	wrong := cellSamples("r1", testCell("fp32", "tg128"), "generation_tokens_per_second", 1)
	if err := s.RecordCell(ctx, "r1", c, wrong); err == nil || !strings.Contains(err.Error(), "belongs to") {
		t.Fatalf("samples of another cell: err = %v", err)
	}
	cells, err := s.Cells(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 || cells[0].Status != CellDone || cells[0].Cell != c {
		t.Fatalf("Cells = %+v", cells)
	}
}

func TestSchemaVersion(t *testing.T) {
	s, path := openTemp(t)
	s.Close()
	// Reopening a current store is fine and does not re-run migrations.
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var rows int
	if err := s2.db.QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != SchemaVersion() {
		t.Fatalf("schema_version has %d rows after reopen, want %d", rows, SchemaVersion())
	}
	// A store from a future rwkvbench is refused, by name.
	if _, err := s2.db.Exec(`INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), path) {
		t.Fatalf("newer schema: err = %v, want a refusal naming %s", err, path)
	}
}

func TestOpenErrorNamesPath(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("not a database\n"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{notDB, filepath.Join(dir, "missing", "dir", "x.db")} {
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%s): err = %v, want an error naming the path", path, err)
		}
	}
}

func TestOpenOddFileName(t *testing.T) {
	// '?' and '#' would start a query or fragment in a URI file name.
	path := filepath.Join(t.TempDir(), "a?b#c%20d.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store not created under its literal name: %v", err)
	}
}

func TestImportIdempotent(t *testing.T) {
	ctx := context.Background()
	src, _ := openTemp(t)
	samples := append(cellSamples("r1", testCell("fp16", "tg128"), "generation_tokens_per_second", 3),
		cellSamples("r2", testCell("a16w4", "lambada"), "acc", 1)...)
	if err := src.Record(ctx, samples...); err != nil {
		t.Fatal(err)
	}
	var export bytes.Buffer
	if err := src.ExportJSONL(ctx, &export, Filter{}); err != nil {
		t.Fatal(err)
	}
	dst, _ := openTemp(t)
	for i, want := range []int{len(samples), 0} {
		n, err := dst.ImportJSONL(ctx, bytes.NewReader(export.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("import %d added %d samples, want %d", i+1, n, want)
		}
	}
	got, err := dst.Samples(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, samples) {
		t.Fatalf("imported samples differ:\n got %+v\nwant %+v", got, samples)
	}
	runs, err := dst.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Command != "import" {
		t.Fatalf("runs after import = %+v, want two imported runs", runs)
	}
	// The same identity with another value is a conflict, not a silent skip.
	changed := strings.Replace(export.String(), `"value":101`, `"value":99`, 1)
	if changed == export.String() {
		t.Fatal("test setup: no value to change")
	}
	if _, err := dst.ImportJSONL(ctx, strings.NewReader(changed)); err == nil || !strings.Contains(err.Error(), "stored value") {
		t.Fatalf("conflicting import: err = %v", err)
	}
}

func TestImportErrors(t *testing.T) {
	ctx := context.Background()
	good := `{"model":"m","precision":"fp16","test":"tg128","run_id":"r","metric":"acc","value":1,"rep":0,"time":"2026-01-01T00:00:00Z"}`
	tests := []struct {
		name, input, wantErr string
	}{
		{"not json", "hello\n", "line 1"},
		{"unknown field", `{"run_id":"r","metricz":"x"}`, `unknown field "metricz"`},
		{"missing metric", "\n" + `{"run_id":"r","test":"tg128","time":"2026-01-01T00:00:00Z"}`, "line 2: empty metric"},
		{"two values", good + good, "more than one JSON value"},
		{"bad time", `{"run_id":"r","test":"t","metric":"m","time":"yesterday"}`, "line 1"},
		{"second line bad", good + "\n{", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t)
			_, err := s.ImportJSONL(ctx, strings.NewReader(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want one containing %q and the path", err, tt.wantErr)
			}
			if got, _ := s.Samples(ctx, Filter{}); len(got) != 0 {
				t.Fatalf("failed import left %d samples", len(got))
			}
		})
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "results.db")
	const writers, cells = 2, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer opens its own Store, as two rwkvbench processes would.
			s, err := Open(path)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			runID := fmt.Sprintf("writer%d", w)
			for i := range cells {
				c := testCell("fp16", fmt.Sprintf("pp%d", i))
				if err := s.RecordCell(ctx, runID, c, cellSamples(runID, c, "prefill_tokens_per_second", 3)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Samples(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * cells * 4; len(got) != want {
		t.Fatalf("%d samples, want %d", len(got), want)
	}
}

// crashEnv names the environment variable that turns the test binary into the
// writer TestCrashConsistency kills.
const crashEnv = "RWKVBENCH_STORE_CRASH_WRITER"

const crashCells, crashReps = 3, 50

// TestMain lets the test binary act as the writer process that TestCrashConsistency kills.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		if err := crashWriter(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashWriter records crashCells whole cells, reporting each on stdout, then starts
// one more and blocks inside its transaction until killed.
func crashWriter(path string) error {
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		return err
	}
	if err := s.BeginRun(ctx, Run{ID: "crash", HarnessVersion: "test", Command: "crash writer"}); err != nil {
		return err
	}
	for i := range crashCells + 1 {
		if i == crashCells {
			s.beforeCommit = func() {
				fmt.Println("in transaction")
				select {} // wait for SIGKILL with the transaction open
			}
		}
		c := testCell("fp16", fmt.Sprintf("pp%d", i))
		if err := s.RecordCell(ctx, "crash", c, cellSamples("crash", c, "prefill_tokens_per_second", crashReps)); err != nil {
			return err
		}
		fmt.Println("cell done")
	}
	return fmt.Errorf("crash writer was not killed")
}

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "results.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := 0
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if lines.Text() == "cell done" {
			done++
			continue
		}
		if lines.Text() == "in transaction" {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if done != crashCells {
		t.Fatalf("writer reported %d cells before the kill, want %d", done, crashCells)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	var check string
	if err := s.db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	ctx := context.Background()
	for i := range crashCells + 1 {
		c := testCell("fp16", fmt.Sprintf("pp%d", i))
		st, _, err := s.CellStatus(ctx, "crash", c)
		if err != nil {
			t.Fatal(err)
		}
		samples, err := s.Samples(ctx, Filter{Runs: []string{"crash"}, Match: map[string]string{"test": c.Test}})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus, wantSamples := CellDone, crashReps+1
		if i == crashCells { // killed mid-transaction: nothing of it may remain
			wantStatus, wantSamples = CellPending, 0
		}
		if st != wantStatus || len(samples) != wantSamples {
			t.Errorf("cell %s after SIGKILL: status %s with %d samples, want %s with %d", c.Test, st, len(samples), wantStatus, wantSamples)
		}
	}
}
