package plan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
	"github.com/rwkvbench/rwkvbench/runner"
)

// helperEnv makes the test binary run a plan and nothing else: the child the kill
// test SIGKILLs halfway.
const helperEnv = "RWKVBENCH_PLAN_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// runChild runs the plan named in spec ("plan-file|module-dir|adb-port").
func runChild(spec string) int {
	parts := strings.Split(spec, "|")
	p, err := Read(parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	port, _ := strconv.Atoi(parts[2])
	if _, err := Run(context.Background(), p, Options{ModuleDir: parts[1], EmulatorADBPort: port, Log: os.Stderr}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func writePlan(t *testing.T, dir string) string {
	t.Helper()
	data := filepath.Join(dir, "cloze.jsonl")
	docs := `{"text": "He walked to the end of the road and looked at the"}
{"text": "They sat in the garden and talked about the"}
{"text": "The cat sat on the mat. Then the cat slept on the mat"}
`
	if err := os.WriteFile(data, []byte(docs), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := fmt.Sprintf(`name = "killtest"
store = "results.db"
report_dir = "report"
precisions = ["fp32", "a16w8"]

[[model]]
name = "tiny"
path = %q

[[device]]
kind = "local"

[[device]]
kind = "emulated"
soc = "SM8650"

[[device]]
kind = "emulated"
soc = "SM8750"

[bench]
tests = ["pp16", "tg8"]
reps = 3
warmup = 1

[eval]
data = "cloze.jsonl"
prefix_token = -1
`, fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"))
	path := filepath.Join(dir, "plan.toml")
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func doneCells(t *testing.T, dbPath string) map[cellKey]int {
	t.Helper()
	st, err := store.Open(dbPath)
	if err != nil {
		return nil // not created yet
	}
	defer st.Close()
	runs, err := st.Runs(context.Background())
	if err != nil || len(runs) == 0 {
		return nil
	}
	cells, err := st.Cells(context.Background(), runs[len(runs)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[cellKey]int{}
	for _, c := range cells {
		if c.Status == store.CellDone {
			out[cellKey{c.Model, c.Precision, c.Device, c.Test}]++
		}
	}
	return out
}

// TestKilledPlanResumes is issue #9's must-show: a plan over the local device and two
// emulated adb phones is killed (SIGKILL) halfway, run again, and finishes with every
// cell measured exactly once; a third run measures nothing and writes the same report.
func TestKilledPlanResumes(t *testing.T) {
	if _, err := exec.LookPath("adb"); err != nil {
		t.Skipf("skipping: the emulated phones need the adb client (Debian package adb): %v", err)
	}
	if testing.Short() {
		t.Skip("skipping in -short mode: builds the agent and runs 18 cells twice")
	}
	dir := t.TempDir()
	planPath := writePlan(t, dir)
	root := fixtures.Root(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// adb keeps keys under $HOME/.android: keep the user's out of the test.
	t.Setenv("HOME", t.TempDir())
	t.Cleanup(func() { _ = exec.Command("adb", "-P", strconv.Itoa(port), "kill-server").Run() })
	const cells = 2 * 3 * 3 // precisions × devices × (pp16, tg8, lambada)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", helperEnv, planPath, root, port))
	var childLog strings.Builder
	child.Stderr = &childLog
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "results.db")
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n := len(doneCells(t, dbPath))
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatalf("the child recorded only %d cells in 5 minutes; its log:\n%s", n, childLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	before := doneCells(t, dbPath)
	if len(before) >= cells {
		t.Fatalf("the child finished all %d cells before it was killed; the test proves nothing", cells)
	}
	t.Logf("killed the first run with %d of %d cells recorded", len(before), cells)

	p, err := Read(planPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	second, err := Run(ctx, p, Options{ModuleDir: root, EmulatorADBPort: port})
	if err != nil {
		t.Fatal(err)
	}
	if second.Skipped != len(before) || second.Summary.CellsDone+second.Skipped != cells || second.Summary.CellsFailed != 0 {
		t.Errorf("second run: %d measured, %d skipped, %d failed; want %d measured and the %d recorded before skipped",
			second.Summary.CellsDone, second.Skipped, second.Summary.CellsFailed, cells-len(before), len(before))
	}
	after := doneCells(t, dbPath)
	if len(after) != cells {
		t.Errorf("%d distinct cells done, want %d", len(after), cells)
	}
	for k, n := range after {
		if n != 1 {
			t.Errorf("cell %+v recorded %d times", k, n)
		}
	}
	report1, err := os.ReadFile(second.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SM8650 (emulated on host)", "SM8750 (emulated on host)", "| tiny ", "a16w8"} {
		if !strings.Contains(string(report1), want) {
			t.Errorf("report lacks %q:\n%s", want, report1)
		}
	}
	rows := 0
	for _, line := range strings.Split(string(report1), "\n") {
		if !strings.HasPrefix(line, "| tiny ") {
			continue
		}
		rows++
		if strings.Contains(line, "NA") || strings.Contains(line, "—") {
			t.Errorf("report row with unmeasured cells: %s", line)
		}
	}
	if rows != 2 {
		t.Errorf("report has %d model rows, want 2 (one per precision):\n%s", rows, report1)
	}

	third, err := Run(ctx, p, Options{ModuleDir: root, EmulatorADBPort: port})
	if err != nil {
		t.Fatal(err)
	}
	if third.Summary.CellsDone != 0 || third.Skipped != cells || third.RunID != second.RunID {
		t.Errorf("third run: %d measured, %d skipped, run %s (was %s); want nothing measured", third.Summary.CellsDone, third.Skipped, third.RunID, second.RunID)
	}
	report2, err := os.ReadFile(third.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(report1) != string(report2) {
		t.Errorf("the report changed although nothing was measured:\n%s\n---\n%s", report1, report2)
	}
}

func TestParseErrors(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	tests := []struct{ name, plan, want string }{
		{"no name", `[[model]]` + "\nname = \"m\"\npath = \"" + model + `"`, "name"},
		{"no model", `name = "x"`, "no [[model]]"},
		{"missing file", "name = \"x\"\n[[model]]\nname = \"m\"\npath = \"nope.bin\"", "nope.bin"},
		{"bad precision", "name = \"x\"\nprecisions = [\"int3\"]\n[[model]]\nname = \"m\"\npath = \"" + model + `"`, `precision "int3"`},
		{"bad device", "name = \"x\"\n[[model]]\nname = \"m\"\npath = \"" + model + "\"\n[[device]]\nkind = \"usb\"", `kind "usb"`},
		{"emulated without soc", "name = \"x\"\n[[model]]\nname = \"m\"\npath = \"" + model + "\"\n[[device]]\nkind = \"emulated\"", "no soc"},
		{"bad test", "name = \"x\"\n[[model]]\nname = \"m\"\npath = \"" + model + "\"\n[bench]\ntests = [\"pp\"]", "pp"},
		{"unknown key", "name = \"x\"\ncolour = 1\n[[model]]\nname = \"m\"\npath = \"" + model + `"`, "colour"},
		{"eval without data", "name = \"x\"\n[[model]]\nname = \"m\"\npath = \"" + model + "\"\n[eval]\nlimit = 3", "no data"},
		{"not toml", "name = ", "toml"},
		{"unknown synthetic shape", "name = \"x\"\n[[model]]\nname = \"m\"\npath = \"synthetic:v9-9b\"", "v9-9b"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.plan), t.TempDir())
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
			t.Errorf("%s: err = %v, want mention of %q", tc.name, err, tc.want)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	p, err := Parse([]byte("name = \"x\"\n[[model]]\nname = \"m\"\npath = \""+model+"\"\n"), "/plans")
	if err != nil {
		t.Fatal(err)
	}
	if p.Path(p.Store) != "/plans/results.db" || len(p.Devices) != 1 || p.Devices[0].Kind != "local" ||
		len(p.Precisions) != 4 || p.Bench.Reps != 5 || p.Bench.Warmup != 1 || p.Report.Reference != "fp32" {
		t.Errorf("defaults: %+v", p)
	}
}

// TestParseSynthetic: a synthetic model needs no file, keeps its path as given and is
// keyed by the digest of its name, shape and seed.
func TestParseSynthetic(t *testing.T) {
	p, err := Parse([]byte("name = \"x\"\n[[model]]\nname = \"m\"\npath = \"synthetic:v7-0.1b\"\n"), "/plans")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Path(p.Models[0].Path); got != "synthetic:v7-0.1b" {
		t.Errorf("model path %q, want it unchanged", got)
	}
	sum, err := runner.ModelSHA256(p.Path(p.Models[0].Path))
	if want, _ := synthetic.Digest("v7-0.1b"); err != nil || sum != want {
		t.Errorf("model digest %q (%v), want %q", sum, err, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("name = \"demo\"\nprecisions = [\"fp32\"]\n[[model]]\nname = \"m\"\npath = \"x.bin\"\n[[device]]\nkind = \"emulated\"\nsoc = \"SM8650\"\n[bench]\ntests = [\"pp8\"]\n"))
	f.Add([]byte("name = 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data, t.TempDir())
	})
}

// TestQNNDeviceWithoutSDKFailsItsCells: a plan cell on the HTP that cannot be
// converted (no SDK here) becomes NA with the reason, and the plan still finishes
// with a report.
func TestQNNDeviceWithoutSDKFailsItsCells(t *testing.T) {
	t.Setenv("QNN_SDK_ROOT", "")
	dir := t.TempDir()
	plan := fmt.Sprintf(`name = "nosdk"
precisions = ["fp32", "a16w8"]
[[model]]
name = "tiny"
path = %q
[[device]]
kind = "local"
backend = "qnn-htp"
[bench]
tests = ["pp8"]
reps = 1
`, fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"))
	p, err := Parse([]byte(plan), dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), p, Options{ModuleDir: fixtures.Root(t)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cells, err := st.Cells(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 || cells[0].Status != store.CellFailed || cells[0].Precision != "a16w8" || !strings.Contains(cells[0].Reason, "QNN_SDK_ROOT") {
		t.Errorf("cells %+v: want one failed a16w8 cell naming QNN_SDK_ROOT (fp32 has no NPU form)", cells)
	}
	if res.ReportPath == "" {
		t.Error("no report written")
	}
}

func TestParseRefusesNPUOnEmulatedPhone(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	_, err := Parse([]byte("name = \"x\"\n[[model]]\nname = \"m\"\npath = \""+model+"\"\n[[device]]\nkind = \"emulated\"\nsoc = \"SM8650\"\nbackend = \"qnn-htp\""), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no NPU") {
		t.Errorf("err = %v", err)
	}
}

// TestYAMLPlanMatchesTOML: the same plan in YAML reads to the same settings.
func TestYAMLPlanMatchesTOML(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	toml := "name = \"x\"\nprecisions = [\"fp32\", \"a16w4\"]\nparallel = 1\n[[model]]\nname = \"m\"\npath = \"" + model +
		"\"\n[[device]]\nkind = \"emulated\"\nsoc = \"SM8650\"\n[bench]\ntests = [\"pp8\"]\nreps = 2\n[eval]\ndata = \"d.jsonl\"\nprefix_token = -1\n"
	yml := "name: x\nprecisions: [fp32, a16w4]\nparallel: 1\nmodel:\n  - name: m\n    path: " + model +
		"\ndevice:\n  - kind: emulated\n    soc: SM8650\nbench:\n  tests: [pp8]\n  reps: 2\neval:\n  data: d.jsonl\n  prefix_token: -1\n"
	a, err := Parse([]byte(toml), "/p")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseYAML([]byte(yml), "/p")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("TOML %+v\nYAML %+v", *a, *b)
	}
	if _, err := ParseYAML([]byte("name: x\ncolour: 1\n"), "/p"); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown YAML key: err = %v", err)
	}
}
