package fleet_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/agent"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
	"github.com/rwkvbench/rwkvbench/runner/deploy"
	"github.com/rwkvbench/rwkvbench/runner/devicetest"
	"github.com/rwkvbench/rwkvbench/runner/fleet"
	"github.com/rwkvbench/rwkvbench/runner/sshdev"
)

// hostileModelName is where the model lands on every device: spaces, quotes, a
// command substitution, backticks, a semicolon and a glob.
const hostileModelName = "models/tiny 'q' \"dq\" $(touch pwned) `id`; *.bin"

const tinyModel = "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"

// The agent deployed in these tests is this test binary: TestMain turns it into
// the agent (agent.Main, exactly what cmd/rwkvbench-agent runs) when started with
// agentEnv set. That saves a cross-build per test run; deploy's own tests cover
// BuildAgent.
const agentEnv = "RWKVBENCH_FLEET_TEST_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(agentEnv) == "1" {
		os.Exit(agent.Main(context.Background(), nil, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func hostAgent(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// setup deploys the agent and the tiny model to d and returns the worker, checking
// that the device's platform is this host's (true for local, emulated and loopback
// SSH devices) and that a second deploy pushes nothing.
func setup(t *testing.T, d runner.Device, tests []string, reps int) fleet.Worker {
	t.Helper()
	ctx := context.Background()
	info, err := d.Describe(ctx)
	if err != nil {
		t.Fatalf("describe %s: %v", d.Serial(), err)
	}
	p, err := deploy.AgentPlatform(info, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.GOOS != runtime.GOOS || p.GOARCH != runtime.GOARCH {
		t.Fatalf("%s: agent platform %s, want the host's %s/%s (the device runs commands on this host)", d.Serial(), p, runtime.GOOS, runtime.GOARCH)
	}
	files := []deploy.File{
		{Local: hostAgent(t), Name: deploy.AgentName(p)},
		{Local: fixtures.Path(t, tinyModel), Name: hostileModelName},
	}
	first, err := deploy.Deploy(ctx, d, files, deploy.Options{})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if len(first.Pushed) != 2 || first.BytesPushed == 0 {
		t.Errorf("%s: first deploy pushed %v (%d bytes), want both files", d.Serial(), first.Pushed, first.BytesPushed)
	}
	second, err := deploy.Deploy(ctx, d, files, deploy.Options{})
	if err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	if second.BytesPushed != 0 || len(second.Skipped) != 2 {
		t.Errorf("%s: second deploy pushed %d bytes (%v), want 0", d.Serial(), second.BytesPushed, second.Pushed)
	}
	for _, p := range []string{"pwned", "models/pwned"} {
		if _, err := d.Stat(ctx, path.Join(d.Workdir(), p)); err == nil {
			t.Errorf("%s: a quoted name was executed: %s exists", d.Serial(), p)
		}
	}
	return fleet.Worker{
		Device: d,
		Agent:  runner.Cmd{Args: []string{path.Join(d.Workdir(), deploy.AgentName(p))}, Env: map[string]string{agentEnv: "1"}},
		Jobs: []agentproto.Job{{
			ID:   "bench-" + d.Serial(),
			Kind: "bench",
			// Relative to the agent's working directory, the device's work directory:
			// the emulated phone maps device paths only in command lines, and a
			// relative path means the same on every device.
			ModelPath:      hostileModelName,
			Cell:           bench.Cell{Model: "tiny-rwkv-7v0-834K", Precision: "fp32", Backend: "cpu", SoC: info.SoC, HTPArch: info.HTPArch},
			RunID:          "run-1",
			HarnessVersion: "test",
			Bench:          &agentproto.BenchSpec{Tests: tests, Reps: reps, Warmup: 1, Seed: 1},
		}},
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.BeginRun(context.Background(), store.Run{ID: "run-1", HarnessVersion: "test", Command: "go test", Started: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkStore verifies that every device has every test exactly once, done, and
// that no sample appears twice.
func checkStore(t *testing.T, s *store.Store, serials []string, tests []string, reps int) {
	t.Helper()
	ctx := context.Background()
	samples, err := s.Samples(ctx, store.Filter{Runs: []string{"run-1"}})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		device, test, metric string
		rep                  int
	}
	seen := map[key]int{}
	perCell := map[[2]string]int{}
	for _, x := range samples {
		seen[key{x.Device, x.Test, x.Metric, x.Rep}]++
		perCell[[2]string{x.Device, x.Test}]++
		if x.RunID != "run-1" || x.Backend != "cpu" || x.Precision != "fp32" {
			t.Errorf("sample with wrong cell: %+v", x)
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("sample %+v recorded %d times", k, n)
		}
	}
	for _, d := range serials {
		for _, test := range tests {
			n := perCell[[2]string{d, test}]
			// Each repetition (and the warm-up) gives at least the cell's main metric.
			if n < reps+1 {
				t.Errorf("%s %s: %d samples, want at least %d", d, test, n, reps+1)
			}
			var mainMetric int
			for k := range seen {
				if k.device == d && k.test == test && !strings.HasPrefix(k.metric, "peak_") {
					mainMetric++
				}
			}
			if mainMetric == 0 {
				t.Errorf("%s %s: no throughput samples", d, test)
			}
		}
	}
	cells, err := s.Cells(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != len(serials)*len(tests) {
		t.Errorf("%d cells in the store, want %d", len(cells), len(serials)*len(tests))
	}
	for _, c := range cells {
		if c.Status != store.CellDone {
			t.Errorf("cell %+v not done", c)
		}
	}
}

func TestLocalDeployAndRunHostileName(t *testing.T) {
	d, err := runner.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []string{"pp16", "tg8"}
	w := setup(t, d, tests, 2)
	s := openStore(t)
	sum, err := fleet.Run(context.Background(), []fleet.Worker{w}, fleet.StoreSink{Store: s, RunID: "run-1"}, fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.CellsDone != 2 || sum.CellsFailed != 0 || len(sum.Failures) != 0 {
		t.Fatalf("summary %+v, want 2 cells done", sum)
	}
	checkStore(t, s, []string{"local"}, tests, 2)
}

func TestSSHDeployAndRunHostileName(t *testing.T) {
	srv := devicetest.StartSSHD(t)
	d, err := sshdev.Dial(context.Background(), sshdev.Config{
		User: srv.User, Host: "127.0.0.1", Port: srv.Port, KeyFiles: []string{srv.KeyFile},
		NoAgent: true, KnownHosts: srv.KnownHosts, Workdir: filepath.Join(t.TempDir(), "ssh work"),
	})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, srv.Log)
	}
	defer d.Close()
	tests := []string{"pp16"}
	w := setup(t, d, tests, 2)
	s := openStore(t)
	sum, err := fleet.Run(context.Background(), []fleet.Worker{w}, fleet.StoreSink{Store: s, RunID: "run-1"}, fleet.Options{})
	if err != nil || sum.CellsDone != 1 {
		t.Fatalf("fleet over ssh: %+v, %v", sum, err)
	}
	checkStore(t, s, []string{d.Serial()}, tests, 2)
}

// TestADBFleetThreeSoCs is the must-show: three emulated phones with different
// SoCs, reached by the real adb client, each deployed to (a second deploy pushes
// nothing) and benchmarked in parallel, results in the store.
func TestADBFleetThreeSoCs(t *testing.T) {
	lab := devicetest.StartADBLab(t, []string{"SM8650", "SM8750", "SM8550"}, nil)
	tests := []string{"pp16", "tg8"}
	var workers []fleet.Worker
	wantArch := map[string]string{"SM8650": "v75", "SM8750": "v79", "SM8550": "v73"}
	for _, serial := range lab.Serials {
		w := setup(t, lab.Client.Device(serial, ""), tests, 2)
		if soc := w.Jobs[0].Cell.SoC; w.Jobs[0].Cell.HTPArch != wantArch[soc] {
			t.Errorf("%s: %s HTP arch %q, want %q", serial, soc, w.Jobs[0].Cell.HTPArch, wantArch[soc])
		}
		workers = append(workers, w)
	}
	s := openStore(t)
	var log strings.Builder
	sum, err := fleet.Run(context.Background(), workers, fleet.StoreSink{Store: s, RunID: "run-1"}, fleet.Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.CellsDone != 6 || sum.CellsFailed != 0 {
		t.Fatalf("summary %+v, want 6 cells done\n%s", sum, log.String())
	}
	checkStore(t, s, lab.Serials, tests, 2)
}

// dropOnFirstCell is a sink that pulls the cable of one emulated device the first
// time one of its cells is recorded, while its agent is still measuring.
type dropOnFirstCell struct {
	fleet.Sink
	serial string
	drop   func()
	once   sync.Once
}

func (d *dropOnFirstCell) CellDone(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
	if err := d.Sink.CellDone(ctx, c, samples); err != nil {
		return err
	}
	if c.Device == d.serial {
		d.once.Do(d.drop)
	}
	return nil
}

// TestADBDeviceDropRetried drops one of three devices mid-job: the job is retried
// when the device comes back, only the unfinished cells are measured again, and
// the store ends with every cell exactly once.
func TestADBDeviceDropRetried(t *testing.T) {
	lab := devicetest.StartADBLab(t, []string{"SM8650", "SM8750", "SM8550"}, nil)
	tests := []string{"pp16", "tg64", "pp16+tg16"}
	var workers []fleet.Worker
	for _, serial := range lab.Serials {
		w := setup(t, lab.Client.Device(serial, ""), tests, 3)
		w.Reconnect = fleet.ReconnectFunc(w.Device, 20*time.Second)
		if w.Reconnect == nil {
			t.Fatalf("no reconnect for adb device %s", serial)
		}
		workers = append(workers, w)
	}
	s := openStore(t)
	sink := &dropOnFirstCell{Sink: fleet.StoreSink{Store: s, RunID: "run-1"}, serial: lab.Serials[1],
		drop: func() { lab.Emus[1].DropConnections(time.Second) }}
	var log syncBuilder
	sum, err := fleet.Run(context.Background(), workers, sink, fleet.Options{Backoff: 200 * time.Millisecond, IdleTimeout: 5 * time.Second, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fleet log:\n%s", log.String())
	if sum.Retries == 0 {
		t.Fatalf("the dropped device was not retried: %+v\n%s", sum, log.String())
	}
	if sum.CellsDone != 9 || sum.CellsFailed != 0 {
		t.Fatalf("summary %+v, want 9 cells done\n%s", sum, log.String())
	}
	checkStore(t, s, lab.Serials, tests, 3)
}

// TestAgentJobErrorNotRetried: a job the agent rejects (missing model) fails its
// cells with the agent's reason at once, while the other device completes.
func TestAgentJobErrorNotRetried(t *testing.T) {
	good, err := runner.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := setup(t, good, []string{"pp16"}, 1)
	bad := w
	bad.Jobs = []agentproto.Job{w.Jobs[0]}
	bad.Jobs[0].ModelPath = "models/missing.bin"
	bad.Jobs[0].Cell.Model = "missing"
	s := openStore(t)
	sum, err := fleet.Run(context.Background(), []fleet.Worker{w, bad}, fleet.StoreSink{Store: s, RunID: "run-1"}, fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Retries != 0 || sum.CellsDone != 1 || sum.CellsFailed != 1 {
		t.Fatalf("summary %+v, want 1 done, 1 failed, no retries", sum)
	}
	cells, err := s.Cells(context.Background(), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	for _, c := range cells {
		if c.Cell.Model == "missing" {
			reason = c.Reason
		}
	}
	if !strings.Contains(reason, "missing.bin") {
		t.Errorf("failed cell's reason %q does not name the missing model", reason)
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
