package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/model"
)

func TestParseTest(t *testing.T) {
	tests := []struct {
		name   string
		prompt int
		want   Test
		err    string
	}{
		{"pp512", 0, Test{Kind: Prefill, Prompt: 512}, ""},
		{"tg128", 0, Test{Kind: Generation, Generate: 128}, ""},
		{"pp512+tg128", 0, Test{Kind: PrefillGeneration, Prompt: 512, Generate: 128}, ""},
		{"ttft", 64, Test{Kind: TTFT, Prompt: 64}, ""},
		{"load-cold", 0, Test{Kind: LoadCold}, ""},
		{"load-warm", 0, Test{Kind: LoadWarm}, ""},
		{"ttft", 0, Test{}, "prompt length 0"},
		{"pp0", 0, Test{}, "token count"},
		{"pp-1", 0, Test{}, "token count"},
		{"pp012", 0, Test{}, "token count"},
		{"pp+12", 0, Test{}, "token count"},
		{"tg99999999999", 0, Test{}, "token count"},
		{"tg128+pp512", 0, Test{}, "does not start with"},
		{"pp512+tg", 0, Test{}, "token count"},
		{"bogus", 0, Test{}, "unknown"},
		{"", 0, Test{}, "unknown"},
	}
	for _, tt := range tests {
		got, err := ParseTest(tt.name, tt.prompt)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTest(%q) error = %v, want one containing %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTest(%q) = %+v, %v; want %+v", tt.name, got, err, tt.want)
			continue
		}
		if got.String() != tt.name {
			t.Errorf("ParseTest(%q).String() = %q", tt.name, got.String())
		}
	}
}

func FuzzParseTest(f *testing.F) {
	for _, s := range []string{"pp512", "tg128", "pp512+tg128", "ttft", "load-cold", "pp1+tg1", "pp", "+", "pp9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		test, err := ParseTest(name, 16)
		if err != nil {
			return
		}
		if test.Prompt > maxTokens || test.Generate > maxTokens || test.Prompt < 0 || test.Generate < 0 {
			t.Fatalf("ParseTest(%q) = %+v beyond the bounds", name, test)
		}
		again, err := ParseTest(test.String(), 16)
		if err != nil || again != test {
			t.Fatalf("round trip of %q: %+v → %q → %+v, %v", name, test, test.String(), again, err)
		}
	})
}

func testRunner(sink Sink, tests ...string) *Runner {
	r := &Runner{RunID: "run-1", HarnessVersion: "test", Repetitions: 3, Warmup: 2, Seed: 7, Sink: sink}
	for _, name := range tests {
		test, err := ParseTest(name, 8)
		if err != nil {
			panic(err)
		}
		r.Tests = append(r.Tests, test)
	}
	return r
}

func fakeTarget(sessions *[]*fakeSession, record bool) Target {
	return Target{
		Cell:      Cell{Model: "fake", Precision: "a16w8", Backend: "cpu", Device: "local"},
		Simulated: true,
		Open: func(ctx context.Context) (model.Session, error) {
			s := &fakeSession{vocab: 50, record: record}
			*sessions = append(*sessions, s)
			return s, nil
		},
	}
}

func TestRunnerRecordsEveryRun(t *testing.T) {
	sink := newMemorySink()
	r := testRunner(sink, "pp8", "tg4", "pp8+tg4", "ttft", "load-warm", "load-cold")
	var sessions []*fakeSession
	if err := r.Run(context.Background(), []Target{fakeTarget(&sessions, false)}); err != nil {
		t.Fatal(err)
	}
	// Load tests run first, cold before warm, whatever order they were asked in.
	wantOrder := []string{"load-cold", "load-warm", "pp8", "tg4", "pp8+tg4", "ttft"}
	if !slices.Equal(sink.order, wantOrder) {
		t.Errorf("cells recorded in order %v, want %v", sink.order, wantOrder)
	}
	tests := []struct {
		test    string
		metrics []string
		warmups int // per metric
		reps    int
	}{
		{"load-cold", []string{MetricLoadMillis}, 0, 1},
		{"load-warm", []string{MetricLoadMillis}, 2, 3},
		{"pp8", []string{MetricPrefillTokensPerSecond}, 2, 3},
		{"tg4", []string{MetricGenerationTokensPerSecond}, 2, 3},
		{"pp8+tg4", []string{MetricTokensPerSecond, MetricPrefillTokensPerSecond, MetricGenerationTokensPerSecond}, 2, 3},
		{"ttft", []string{MetricTTFTMillis}, 2, 3},
	}
	for _, tt := range tests {
		samples := sink.cellSamples(tt.test)
		if len(samples) != len(tt.metrics)*(tt.warmups+tt.reps) {
			t.Errorf("%s: %d samples, want %d", tt.test, len(samples), len(tt.metrics)*(tt.warmups+tt.reps))
		}
		for _, metric := range tt.metrics {
			var reps []int
			for _, s := range samples {
				if s.Metric != metric {
					continue
				}
				reps = append(reps, s.Rep)
				if s.Warmup != (s.Rep < 0) {
					t.Errorf("%s %s rep %d: Warmup = %v", tt.test, metric, s.Rep, s.Warmup)
				}
				if !s.Simulated || s.RunID != "run-1" || s.HarnessVersion != "test" || s.Precision != "a16w8" || s.Test != tt.test {
					t.Errorf("%s %s: sample lost its labels: %+v", tt.test, metric, s)
				}
				if s.Time.IsZero() || s.Time.Location() != time.UTC {
					t.Errorf("%s %s: time %v, want a UTC timestamp", tt.test, metric, s.Time)
				}
				if !(s.Value > 0) || math.IsInf(s.Value, 0) {
					t.Errorf("%s %s rep %d: value %v", tt.test, metric, s.Rep, s.Value)
				}
			}
			var want []int
			for i := tt.warmups; i >= 1; i-- {
				want = append(want, -i)
			}
			for i := 0; i < tt.reps; i++ {
				want = append(want, i)
			}
			if !slices.Equal(reps, want) {
				t.Errorf("%s %s: reps %v, want %v", tt.test, metric, reps, want)
			}
		}
	}
	// 1 cold + 2+3 warm loads + the session for the speed tests, all closed.
	if len(sessions) != 7 {
		t.Errorf("opened %d sessions, want 7", len(sessions))
	}
	for i, s := range sessions {
		if !s.closed {
			t.Errorf("session %d not closed", i)
		}
	}
	if got := len(Values(sink.cellSamples("pp8"), MetricPrefillTokensPerSecond)); got != 3 {
		t.Errorf("Values kept %d prefill samples, want the 3 measured ones", got)
	}
}

func TestRunnerFeedsWhatTheTestSays(t *testing.T) {
	tests := []struct {
		test       string
		tokens     int // per run
		calls      int // Forward calls per run
		resets     int // per run
		greedy     bool
		wantGreedy bool
	}{
		{"pp8", 8, 1, 1, false, false},
		{"tg4", 5, 5, 1, false, false},      // one-token start + 4 timed steps
		{"pp8+tg4", 12, 5, 1, false, false}, // prefill + 4 steps, no separate start
		{"ttft", 9, 2, 1, false, true},      // the decode step feeds the prefill's argmax
		{"tg4", 5, 5, 1, true, true},
	}
	for _, tt := range tests {
		sink := newMemorySink()
		r := testRunner(sink, tt.test)
		r.Greedy = tt.greedy
		var sessions []*fakeSession
		if err := r.Run(context.Background(), []Target{fakeTarget(&sessions, true)}); err != nil {
			t.Fatal(err)
		}
		s := sessions[0]
		runs := r.Warmup + r.Repetitions
		if s.tokens != runs*tt.tokens || s.calls != runs*tt.calls || s.resets != runs*tt.resets {
			t.Errorf("%s greedy=%v: %d tokens in %d calls with %d resets, want %d in %d with %d",
				tt.test, tt.greedy, s.tokens, s.calls, s.resets, runs*tt.tokens, runs*tt.calls, runs*tt.resets)
		}
		// Every run feeds the same tokens: the inputs are fixed by the seed.
		first := s.fed[:tt.tokens]
		for run := 1; run < runs; run++ {
			if got := s.fed[run*tt.tokens : (run+1)*tt.tokens]; !slices.Equal(got, first) {
				t.Errorf("%s: run %d fed %v, run 0 fed %v", tt.test, run, got, first)
			}
		}
		// Greedy generation feeds back the fake's argmax, which is a function of its
		// state; replaying the fed tokens tells whether each step followed it.
		if tt.wantGreedy {
			replay := &fakeSession{vocab: s.vocab}
			logits := make([]float32, s.vocab)
			prefix := len(first) - 1
			if tt.test == "tg4" {
				prefix = 1
			}
			replay.Forward(context.Background(), first[:prefix], logits)
			for i := prefix; i < len(first); i++ {
				if want := argmax(logits); first[i] != want {
					t.Errorf("%s greedy: token %d is %d, argmax was %d", tt.test, i, first[i], want)
				}
				replay.Forward(context.Background(), first[i:i+1], logits)
			}
		}
	}
}

func TestRunnerSeedFixesInputs(t *testing.T) {
	fed := func(seed uint64) []int {
		sink := newMemorySink()
		r := testRunner(sink, "pp8")
		r.Seed, r.Warmup, r.Repetitions = seed, 0, 1
		var sessions []*fakeSession
		if err := r.Run(context.Background(), []Target{fakeTarget(&sessions, true)}); err != nil {
			t.Fatal(err)
		}
		return sessions[0].fed
	}
	a, b, c := fed(1), fed(1), fed(2)
	if !slices.Equal(a, b) {
		t.Errorf("same seed fed %v and %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 fed the same tokens %v", a)
	}
}

func TestRunnerResumeSkipsRecordedCells(t *testing.T) {
	sink := newMemorySink()
	r := testRunner(sink, "pp8", "tg4")
	var sessions []*fakeSession
	target := fakeTarget(&sessions, false)
	done := target.Cell
	done.Test = "pp8"
	sink.done[done] = true
	if err := r.Run(context.Background(), []Target{target}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sink.order, []string{"tg4"}) {
		t.Errorf("recorded %v, want only tg4", sink.order)
	}
}

func TestRunnerFailedCellDoesNotStopTheRun(t *testing.T) {
	sink := newMemorySink()
	r := testRunner(sink, "pp8", "tg4")
	var sessions []*fakeSession
	target := fakeTarget(&sessions, false)
	open := target.Open
	target.Open = func(ctx context.Context) (model.Session, error) {
		s, err := open(ctx)
		s.(*fakeSession).failAt = 3 // the third prefill run of pp8
		return s, err
	}
	bad := Target{Cell: Cell{Model: "missing"}, Open: func(ctx context.Context) (model.Session, error) {
		return nil, errors.New("no such file")
	}}
	if err := r.Run(context.Background(), []Target{target, bad}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sink.order, []string{"tg4"}) {
		t.Errorf("recorded %v, want tg4 only", sink.order)
	}
	if len(sink.cellSamples("pp8")) != 0 {
		t.Errorf("the failed cell left samples")
	}
	if len(sink.failed) != 3 {
		t.Errorf("failed cells %v, want pp8 of the first target and both of the second", sink.failed)
	}
	for c, reason := range sink.failed {
		if c.Model == "missing" && !strings.Contains(reason, "no such file") {
			t.Errorf("reason %q does not say why", reason)
		}
	}
}

func TestRunnerColdLoadNeedsAFreshTarget(t *testing.T) {
	var sessions []*fakeSession
	target := fakeTarget(&sessions, false)
	drops := 0
	tests := []struct {
		name      string
		drop      bool
		loaded    bool
		wantCold  int // load-cold samples
		wantFails int
	}{
		{"first load is the cold one", false, false, 1, 0},
		{"dropping caches makes every repetition cold", true, false, 3, 0},
		{"loaded before and no way to drop caches", false, true, 0, 1},
		{"loaded before, caches dropped", true, true, 3, 0},
	}
	for _, tt := range tests {
		sink := newMemorySink()
		r := testRunner(sink, "load-cold")
		tg := target
		tg.Loaded = tt.loaded
		if tt.drop {
			tg.DropCaches = func(ctx context.Context) error { drops++; return nil }
		}
		if err := r.Run(context.Background(), []Target{tg}); err != nil {
			t.Fatal(err)
		}
		if got := len(sink.cellSamples("load-cold")); got != tt.wantCold || len(sink.failed) != tt.wantFails {
			t.Errorf("%s: %d cold samples and %d failures, want %d and %d", tt.name, got, len(sink.failed), tt.wantCold, tt.wantFails)
		}
	}
	if drops != 6 {
		t.Errorf("caches dropped %d times, want once per repetition (2×3)", drops)
	}
}

func TestRunnerRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Runner)
		want string
	}{
		{"no sink", func(r *Runner) { r.Sink = nil }, "no sink"},
		{"no repetitions", func(r *Runner) { r.Repetitions = 0 }, "repetitions"},
		{"negative warm-up", func(r *Runner) { r.Warmup = -1 }, "warm-up"},
	}
	for _, tt := range tests {
		r := testRunner(newMemorySink(), "pp8")
		tt.edit(r)
		err := r.Run(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestRunnerStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sink := newMemorySink()
	r := testRunner(sink, "pp8", "tg4")
	var sessions []*fakeSession
	target := fakeTarget(&sessions, false)
	open := target.Open
	target.Open = func(ctx context.Context) (model.Session, error) {
		s, err := open(ctx)
		cancel()
		return s, err
	}
	if err := r.Run(ctx, []Target{target}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if len(sink.order) != 0 || len(sink.failed) != 0 {
		t.Errorf("a cancelled run recorded %v and failed %v", sink.order, sink.failed)
	}
}

// TestGenerationDoesNotAllocatePerToken counts allocations of whole generation
// runs of two lengths: any allocation inside the per-token loop would make the
// longer run allocate more.
func TestGenerationDoesNotAllocatePerToken(t *testing.T) {
	for _, greedy := range []bool{false, true} {
		r := &Runner{Seed: 1, Greedy: greedy}
		sess := &fakeSession{vocab: 64}
		ctx := context.Background()
		allocs := func(n int) float64 {
			in := r.inputs(Test{Kind: Generation, Generate: n}, sess.vocab)
			return testing.AllocsPerRun(20, func() {
				if _, err := r.generate(ctx, sess, in, true); err != nil {
					t.Fatal(err)
				}
			})
		}
		short, long := allocs(4), allocs(1000)
		if long != short {
			t.Errorf("greedy=%v: a 1000-token run allocates %v times, a 4-token run %v: the loop allocates per token", greedy, long, short)
		}
		if short != 0 {
			t.Errorf("greedy=%v: a generation run allocates %v times, want 0", greedy, short)
		}
	}
}

type fakeThermal struct {
	temps []float64 // successive readings; the last repeats
	reads int
}

func (f *fakeThermal) ThermalState(ctx context.Context) (ThermalState, error) {
	i := min(f.reads, len(f.temps)-1)
	f.reads++
	return ThermalState{Status: -1, TempC: f.temps[i]}, nil
}

func TestCooldownWaitsUntilCool(t *testing.T) {
	tests := []struct {
		name      string
		cooldown  Cooldown
		temps     []float64
		wantReads int
		wantErr   error
	}{
		{"no gate", Cooldown{}, []float64{90}, 0, nil},
		{"already cool", Cooldown{MaxTempC: 50, Poll: time.Millisecond}, []float64{40}, 1, nil},
		{"cools after three readings", Cooldown{MaxTempC: 50, Poll: time.Millisecond, Timeout: time.Minute}, []float64{70, 60, 55, 45}, 4, nil},
		{"never cools", Cooldown{MaxTempC: 50, Poll: time.Millisecond, Timeout: 20 * time.Millisecond}, []float64{90}, -1, errCooldownTimeout},
	}
	for _, tt := range tests {
		th := &fakeThermal{temps: tt.temps}
		err := tt.cooldown.wait(context.Background(), th)
		if !errors.Is(err, tt.wantErr) && err != tt.wantErr {
			t.Errorf("%s: wait = %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.wantReads >= 0 && th.reads != tt.wantReads {
			t.Errorf("%s: %d readings, want %d", tt.name, th.reads, tt.wantReads)
		}
	}
}

func TestRunnerTagsThermalState(t *testing.T) {
	sink := newMemorySink()
	r := testRunner(sink, "pp8")
	r.Thermal = &fakeThermal{temps: []float64{70, 40}}
	r.Cooldown = Cooldown{MaxTempC: 50, Poll: time.Millisecond, Timeout: time.Minute}
	var sessions []*fakeSession
	if err := r.Run(context.Background(), []Target{fakeTarget(&sessions, false)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range sink.samples {
		if s.ThermalBefore != "temp=40.0C" || s.ThermalAfter != "temp=40.0C" {
			t.Errorf("rep %d tagged %q → %q, want temp=40.0C both", s.Rep, s.ThermalBefore, s.ThermalAfter)
		}
	}
	sink = newMemorySink()
	r.Sink = sink
	r.Thermal = &fakeThermal{temps: []float64{90}}
	r.Cooldown.Timeout = 5 * time.Millisecond
	if err := r.Run(context.Background(), []Target{fakeTarget(&sessions, false)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range sink.samples {
		if !strings.Contains(s.ThermalBefore, "timed out") {
			t.Errorf("rep %d after a timed-out cool-down tagged %q", s.Rep, s.ThermalBefore)
		}
	}
}

func TestHostThermal(t *testing.T) {
	dir := t.TempDir()
	zones := map[string]string{"thermal_zone0": "41500\n", "thermal_zone1": "55000\n", "thermal_zone2": "garbage"}
	for z, v := range zones {
		os.MkdirAll(filepath.Join(dir, z), 0o755)
		os.WriteFile(filepath.Join(dir, z, "temp"), []byte(v), 0o644)
	}
	s, err := HostThermal{Root: dir}.ThermalState(context.Background())
	if err != nil || s.TempC != 55 || s.Status != -1 || s.String() != "temp=55.0C" {
		t.Errorf("ThermalState = %+v (%q), %v; want the hottest readable zone, 55°C", s, s.String(), err)
	}
	if _, err := (HostThermal{Root: t.TempDir()}).ThermalState(context.Background()); err == nil {
		t.Errorf("no zones: want an error")
	}
	if got := (ThermalState{Status: 2, TempC: 38.25}).String(); got != "status=2 temp=38.2C" {
		t.Errorf("String = %q", got)
	}
	if got := unknownThermal().String(); got != "" {
		t.Errorf("unknown state String = %q, want empty", got)
	}
}

func TestProcKB(t *testing.T) {
	tests := []struct {
		content, key string
		want         int64
		err          string
	}{
		{"Name:\tx\nVmHWM:\t    2160 kB\nVmRSS:\t 100 kB\n", "VmHWM", 2160 * 1024, ""},
		{"Rss:   1724 kB\nPss:    283 kB\n", "Pss", 283 * 1024, ""},
		{"Pss_Dirty: 1 kB\nPss: 2 kB\n", "Pss", 2048, ""},
		{"VmRSS: 1 kB\n", "VmHWM", 0, "no field"},
		{"VmHWM: 12 MB\n", "VmHWM", 0, "want"},
		{"VmHWM: -3 kB\n", "VmHWM", 0, "bad size"},
		{"VmHWM: 99999999999999999999 kB\n", "VmHWM", 0, "bad size"},
	}
	for _, tt := range tests {
		got, err := procKB([]byte(tt.content), tt.key)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("procKB(%q) error %v, want %q", tt.content, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("procKB(%q, %s) = %d, %v; want %d", tt.content, tt.key, got, err, tt.want)
		}
	}
}

func FuzzProcKB(f *testing.F) {
	f.Add([]byte("VmHWM:\t    2160 kB\n"))
	f.Add([]byte("Pss: 1 kB\nVmHWM: x kB"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, content []byte) {
		v, err := procKB(content, "VmHWM")
		if err == nil && (v < 0 || v%1024 != 0) {
			t.Fatalf("procKB(%q) = %d", content, v)
		}
	})
}

func TestProcessMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc on this system: %v", err)
	}
	m := ProcessMemory{Dir: "/proc/self"}
	_ = m.ResetPeak() // may be refused (old kernels, sandboxes); the reading must still work
	u, err := m.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 {
		t.Errorf("peak RSS %d, want a positive size", u.PeakRSS)
	}
	// A process holding 64 MiB it has touched has a peak at least that large.
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = 1
	}
	u2, err := m.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u2.PeakRSS < 64<<20 {
		t.Errorf("peak RSS %d after touching 64 MiB", u2.PeakRSS)
	}
	big[len(big)-1] = 2

	// big is dead from here on: once collected, a reset starts the peak over
	// below it.
	if err := m.ResetPeak(); err != nil {
		t.Skipf("this kernel refuses to reset the peak: %v", err)
	}
	u3, err := m.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u3.PeakRSS > u2.PeakRSS-32<<20 {
		t.Errorf("peak RSS %d after a reset, %d before: the 64 MiB freed still count", u3.PeakRSS, u2.PeakRSS)
	}
}
