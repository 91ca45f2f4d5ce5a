package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/internal/qnnstandin"
	"github.com/rwkvbench/rwkvbench/qnn"
)

func TestBenchCommandRecordsAndResumes(t *testing.T) {
	model := fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin"))
	db := filepath.Join(t.TempDir(), "results.db")
	args := []string{"--model", model, "-p", "8", "-n", "4", "-r", "2", "--warmup", "1", "--threads", "1",
		"--precision", "fp32,a16w8", "--tests", "pp8,tg4,ttft,load-warm", "--store", db}
	code, stdout, stderr := run(t, append([]string{"bench"}, append(args, "-o", "json")...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	type key struct{ precision, test, metric string }
	got := map[key]map[string]any{}
	for _, r := range rows {
		got[key{r["precision"].(string), r["test"].(string), r["metric"].(string)}] = r
	}
	for _, prec := range []string{"fp32", "a16w8"} {
		for _, k := range []key{
			{prec, "pp8", "prefill_tokens_per_second"},
			{prec, "tg4", "generation_tokens_per_second"},
			{prec, "ttft", "ttft_ms"},
			{prec, "load-warm", "load_ms"},
		} {
			r, ok := got[k]
			if !ok {
				t.Errorf("no row %v", k)
				continue
			}
			if r["n"].(float64) != 2 {
				t.Errorf("%v: n = %v, want the 2 measured runs (warm-ups excluded)", k, r["n"])
			}
			if r["simulated"].(bool) != (prec != "fp32") {
				t.Errorf("%v: simulated = %v", k, r["simulated"])
			}
			if r["device"] != "local" || r["backend"] != "cpu" || r["status"] != "done" {
				t.Errorf("%v: device fields %v %v %v", k, r["device"], r["backend"], r["status"])
			}
			if !(r["median"].(float64) > 0) {
				t.Errorf("%v: median %v", k, r["median"])
			}
		}
	}

	st, runs := openOneRun(t, db)
	before, err := st.Samples(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}

	// Resuming a finished run measures nothing and prints the same cells.
	code, stdout, stderr = run(t, append([]string{"bench"}, append(args, "--resume", runs[0].ID, "-o", "md")...)...)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	after, err := st.Samples(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("resume of a finished run added %d samples", len(after)-len(before))
	}
	if n := strings.Count(stderr, "already recorded, skipped"); n != 8 {
		t.Errorf("resume skipped %d cells, want all 8:\n%s", n, stderr)
	}
	for _, want := range []string{"median [95% CI]", "mean ± sample sd", "a16w8 *simulated*", "| pp8 | prefill t/s | tok/s | 2 |"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("markdown lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "fp32 *simulated*") {
		t.Errorf("fp32 marked simulated:\n%s", stdout)
	}

	code, stdout, stderr = run(t, append([]string{"bench"}, append(args, "--resume", runs[0].ID, "-o", "csv")...)...)
	if code != 0 {
		t.Fatalf("csv: exit %d: %s", code, stderr)
	}
	records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(records) < 2 || records[0][0] != "model" || records[0][4] != "simulated" {
		t.Errorf("csv output: %v\n%s", err, stdout)
	}
}

func TestBenchCommandErrors(t *testing.T) {
	model := fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin"))
	db := filepath.Join(t.TempDir(), "results.db")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "--model is required"},
		{[]string{"--model", model, "--device", "phone1"}, `--device "phone1"`},
		{[]string{"--model", model, "--precision", "fp32,int3"}, `--precision "int3"`},
		{[]string{"--model", model, "--precision", "fp32,fp32"}, "fp32 given twice"},
		{[]string{"--model", model, "--tests", "pp8,xx"}, `test "xx"`},
		{[]string{"--model", model, "-r", "0"}, "-r 0"},
		{[]string{"--model", model, "-o", "xml"}, `-o "xml"`},
		{[]string{"--model", model, "--confidence", "1.5"}, "--confidence"},
		{[]string{"--model", model, "--cooldown-until-status", "9"}, "--cooldown-until-status 9"},
		{[]string{"--model", model, "--store", db, "--resume", "no-such-run"}, "--resume no-such-run: no such run"},
		{[]string{"--model", filepath.Join(t.TempDir(), "missing.pth"), "--store", db}, "missing.pth"},
		{[]string{"--model", model, "--store", db, "--weights", "int4"}, `--weights "int4": want f32, f16 or int8`},
		{[]string{"--model", model, "--store", db, "--weights", "f16", "--precision", "fp32,a16w8"},
			"--weights f16 with --precision a16w8: the simulated precisions fake-quantize the float32 weights"},
		{[]string{"--model", model, "--store", db, "--weights", "int8", "--precision", "fp16"}, "run only with --weights f32"},
		{[]string{"--model", model, "--store", db, "--backend", "qnn-htp", "--precision", "a16w8", "--weights", "f16"},
			"--weights f16 applies only to the CPU engine (--backend cpu)"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, append([]string{"bench"}, tt.args...)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want exit 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

// TestBenchCommandWeights benchmarks with the CPU engine's weight storage. Resuming
// an f32 run with --weights f16 must measure every cell again, since an f16 cell is
// not a repetition of an f32 one, and every output names the storage.
func TestBenchCommandWeights(t *testing.T) {
	model := fixtures.Path(t, filepath.Join("rwkv_cpp_tiny", "tiny-rwkv-7v0-834K-FP32.bin"))
	db := filepath.Join(t.TempDir(), "results.db")
	args := []string{"bench", "--model", model, "-p", "8", "-n", "4", "-r", "2", "--warmup", "0", "--threads", "1",
		"--tests", "pp8,tg4", "--store", db}
	code, _, stderr := run(t, append(args, "--precision", "fp32", "-o", "json")...)
	if code != 0 {
		t.Fatalf("f32: exit %d: %s", code, stderr)
	}
	st, runs := openOneRun(t, db)
	runID := runs[0].ID

	// No --precision: with --weights f16 the default is fp32 alone, which runs.
	code, stdout, stderr := run(t, append(args, "--weights", "f16", "--resume", runID, "-o", "json")...)
	if code != 0 {
		t.Fatalf("f16: exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "already recorded") {
		t.Errorf("f16 cells taken for the recorded f32 ones:\n%s", stderr)
	}
	if !strings.Contains(stderr, "CPU engine weights stored as f16") {
		t.Errorf("stderr does not announce the storage:\n%s", stderr)
	}
	var rows []benchRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("output is not a JSON row list: %v\n%s", err, stdout)
	}
	type key struct{ storage, test, metric string }
	got := map[key]bool{}
	for _, r := range rows {
		if r.Precision != "fp32" || r.Simulated || r.Status != "done" {
			t.Errorf("row %+v: want a measured, not simulated, fp32 row", r)
		}
		got[key{r.WeightStorage, r.Test, r.Metric}] = true
	}
	for _, storage := range []string{"f32", "f16"} {
		for _, k := range []key{{storage, "pp8", bench.MetricPrefillTokensPerSecond}, {storage, "tg4", bench.MetricGenerationTokensPerSecond}} {
			if !got[k] {
				t.Errorf("no row %v among %v", k, got)
			}
		}
	}
	cells, err := st.Cells(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	runtimes := map[string]int{}
	for _, c := range cells {
		runtimes[c.Runtime]++
	}
	if len(runtimes) != 2 || runtimes[benchCPURuntime("f32")] != 2 || runtimes[benchCPURuntime("f16")] != 2 ||
		!strings.HasSuffix(benchCPURuntime("f16"), " cpu-engine f16-weights") {
		t.Errorf("cell runtimes %v; want two f32 and two f16-weights cells", runtimes)
	}

	// Markdown and CSV name the storage per row.
	code, stdout, stderr = run(t, append(args, "--weights", "f16", "--resume", runID, "-o", "md")...)
	if code != 0 {
		t.Fatalf("md: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"cpu-engine f16-weights", "Rows marked *(f16 weights)*", "| fp32 *(f16 weights)* | pp8 | prefill t/s |", "| fp32 | pp8 | prefill t/s |"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("markdown lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = run(t, append(args, "--weights", "f16", "--resume", runID, "-o", "csv")...)
	if code != 0 {
		t.Fatalf("csv: exit %d: %s", code, stderr)
	}
	records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(records) < 2 {
		t.Fatalf("csv: %v\n%s", err, stdout)
	}
	last := len(records[0]) - 1
	storages := map[string]bool{}
	for _, r := range records[1:] {
		storages[r[last]] = true
	}
	if records[0][last] != "weight_storage" || !storages["f16"] || !storages["f32"] || len(storages) != 2 {
		t.Errorf("csv weight_storage column %q: %v", records[0][last], storages)
	}
}

func TestBenchCellWeights(t *testing.T) {
	for _, tc := range []struct {
		cell bench.Cell
		want string
	}{
		{bench.Cell{Backend: "cpu", Runtime: benchCPURuntime("f32")}, "f32"},
		{bench.Cell{Backend: "cpu", Runtime: benchCPURuntime("")}, "f32"},
		{bench.Cell{Backend: "cpu", Runtime: benchCPURuntime("f16")}, "f16"},
		{bench.Cell{Backend: "cpu", Runtime: benchCPURuntime("int8")}, "int8"},
		{bench.Cell{Backend: "cpu", Runtime: "go1.26 cpu"}, "f32"}, // the device agent's
		{bench.Cell{Backend: "qnn-htp", Runtime: "QAIRT 2.43"}, ""},
	} {
		if got := benchCellWeights(tc.cell); got != tc.want {
			t.Errorf("benchCellWeights(%+v) = %q, want %q", tc.cell, got, tc.want)
		}
	}
	if r := benchCPURuntime("f32"); strings.Contains(r, "weights") || !strings.HasSuffix(r, " cpu-engine") {
		t.Errorf("f32 runtime %q changed: stored f32 runs would no longer match", r)
	}
}

func TestBenchTableFormats(t *testing.T) {
	nan := benchJSONFloat(math.NaN())
	sum := bench.Summarize([]float64{10, 11, 12}, 0.95)
	rows := []benchRow{
		{Model: "m", Precision: "a16w4", Simulated: true, Test: "tg128", Metric: bench.MetricGenerationTokensPerSecond, Unit: "tok/s",
			N: 3, Median: 11, CILo: benchJSONFloat(math.Inf(-1)), CIHi: benchJSONFloat(math.Inf(1)), Confidence: 0.95, Mean: 11, SD: 1, Min: 10, Max: 12,
			Status: "done", summary: sum},
		{Model: "m", Precision: "a16w4", Simulated: true, Test: "tg128", Metric: bench.MetricPeakRSSBytes, Unit: "bytes",
			N: 1, Median: 3 << 20, CILo: nan, CIHi: nan, Mean: 3 << 20, SD: nan, Min: 3 << 20, Max: 3 << 20, Status: "done",
			summary: bench.Summarize([]float64{3 << 20}, 0.95)},
		{Model: "m", Precision: "fp32", Test: "pp512", Status: "failed", Reason: "open: no | such file",
			Median: nan, CILo: nan, CIHi: nan, Mean: nan, SD: nan, Min: nan, Max: nan},
	}
	var js bytes.Buffer
	if err := benchWriteJSON(&js, rows); err != nil {
		t.Fatal(err)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("JSON with infinities and NaN: %v\n%s", err, js.String())
	}
	if decoded[0]["ci_lo"] != nil || decoded[0]["median"] != 11.0 || decoded[2]["median"] != nil || decoded[2]["status"] != "failed" {
		t.Errorf("JSON rows: %v", decoded)
	}

	var md bytes.Buffer
	dev := &benchDevice{cell: bench.Cell{Device: "local", Backend: "cpu"}}
	if err := benchWriteMarkdown(&md, rows, "run-1", 0.95, dev); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| m | 0 | a16w4 *simulated* | tg128 | generation t/s | tok/s | 3 | 11.00 [-∞, ∞] | 11.00 ± 1.00 | 3.0 |  |",
		`| m | 0 | fp32 | pp512 | — | | 0 | NA: open: no \| such file | NA | | |`,
		"too few runs",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "peak RSS |") {
		t.Errorf("memory got a row of its own instead of a column:\n%s", md.String())
	}

	var cs bytes.Buffer
	if err := benchWriteCSV(&cs, rows); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(records) != 4 || records[3][12] != "" || records[3][20] != "failed" {
		t.Errorf("csv: %v %v", records, err)
	}
}

// TestBenchCommandQNNStandIn runs `bench --backend qnn-htp` on a context binary of
// the STAND-IN QNN library (not Qualcomm's): rows carry the backend, the runtime the
// library reports and the perf profile, and are not marked simulated.
func TestBenchCommandQNNStandIn(t *testing.T) {
	if !qnn.Available() {
		t.Skip("this build cannot load QNN libraries")
	}
	dir := t.TempDir()
	lib := qnnstandin.BuildIn(t, filepath.Join(dir, "lib"))
	ctxFile := filepath.Join(dir, "rwkv.bin")
	m := qnnstandin.Model{LayerBegin: 0, LayerEnd: 2, Embd: 8, Heads: 2, Vocab: 40, PrefillSeq: 16}
	if err := os.WriteFile(ctxFile, m.Binary(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "bench", "--backend", "qnn-htp", "--perf", "burst", "--qnn-lib", lib, "--qnn-system-lib", lib,
		"--model", ctxFile, "--precision", "a16w8", "--tests", "pp20,tg4", "-r", "2", "--warmup", "0",
		"--store", filepath.Join(dir, "results.db"), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []benchRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("output is not a JSON row list: %v\n%s", err, stdout)
	}
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	for _, r := range rows {
		if r.Backend != "qnn-htp" || r.Precision != "a16w8" || r.Simulated || r.Status != "done" {
			t.Errorf("row %+v: want a measured qnn-htp a16w8 row", r)
		}
	}
	code, _, stderr = run(t, "bench", "--backend", "qnn-htp", "--model", ctxFile, "--precision", "fp16,a16w8", "--store", filepath.Join(dir, "x.db"))
	if code == 0 || !strings.Contains(stderr, "one precision") {
		t.Errorf("two precisions on a context binary: exit %d, %s", code, stderr)
	}
}

// openOneRun opens the store at db, closed when the test ends, and returns it with
// its runs, failing unless there is exactly one.
func openOneRun(t *testing.T, db string) (*store.Store, []store.Run) {
	t.Helper()
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	runs, err := st.Runs(context.Background())
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v, %v; want one", runs, err)
	}
	return st, runs
}
