package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
)

// talk runs Main on the given jobs and returns every message it sent.
func talk(t *testing.T, jobs ...agentproto.Job) []agentproto.Message {
	t.Helper()
	var in bytes.Buffer
	enc := agentproto.NewEncoder(&in)
	for i := range jobs {
		if err := enc.Send(agentproto.Message{Type: agentproto.TypeJob, Job: &jobs[i]}); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), nil, &in, &out, &errOut); code != 0 {
		t.Fatalf("Main exited %d: %s", code, errOut.String())
	}
	var msgs []agentproto.Message
	dec := agentproto.NewDecoder(&out)
	for {
		m, err := dec.Next()
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatalf("agent output is not protocol: %v", err)
		}
		if m.Type == agentproto.TypeProgress && m.Progress.Stage == agentproto.StageHeartbeat {
			continue
		}
		msgs = append(msgs, m)
	}
}

func TestBenchJob(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	msgs := talk(t, agentproto.Job{ID: "j", Kind: "bench", ModelPath: model, RunID: "r", HarnessVersion: "h",
		Cell:  bench.Cell{Model: "tiny", Device: "d"},
		Bench: &agentproto.BenchSpec{Tests: []string{"pp8", "tg4"}, Reps: 2, Warmup: 1, Seed: 1}})
	if msgs[0].Type != agentproto.TypeHello || msgs[0].Hello.Protocol != agentproto.Version {
		t.Fatalf("first message %+v, want hello", msgs[0])
	}
	cells := map[string]int{}
	samples := 0
	for _, m := range msgs {
		switch m.Type {
		case agentproto.TypeSample:
			samples++
			s := m.Sample
			if s.RunID != "r" || s.Backend != "cpu" || s.Precision != "fp32" || s.Runtime == "" || s.Simulated {
				t.Errorf("sample %+v: wrong cell fields", s)
			}
		case agentproto.TypeCell:
			if m.Cell.Status != agentproto.CellDone {
				t.Errorf("cell %+v not done", m.Cell)
			}
			cells[m.Cell.Cell.Test] = m.Cell.Samples
		case agentproto.TypeError:
			t.Fatalf("agent error: %s", m.Error)
		}
	}
	last := msgs[len(msgs)-2]
	if last.Type != agentproto.TypeResult || last.Result.Samples != samples || msgs[len(msgs)-1].Type != agentproto.TypeBye {
		t.Errorf("job did not end with result(%d samples) and bye: %+v %+v", samples, last, msgs[len(msgs)-1])
	}
	if cells["pp8"] == 0 || cells["tg4"] == 0 {
		t.Errorf("cells closed: %v, want pp8 and tg4", cells)
	}
}

// TestSimulatedPrecisionJobs: the agent runs the simulated precisions the host's
// bench command runs, and labels every sample simulated; an eval job saves the KL
// reference for fp32 and measures the divergence of a16w8 from it.
func TestSimulatedPrecisionJobs(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	dir := t.TempDir()
	data := filepath.Join(dir, "cloze.jsonl")
	if err := os.WriteFile(data, []byte(`{"text": "He walked to the end of the road and looked at the"}`+"\n"+`{"text": "They sat in the garden and talked about the"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "references", "tiny.ref")
	evalJob := func(id, prec string, save bool) agentproto.Job {
		return agentproto.Job{ID: id, Kind: "eval", ModelPath: model, RunID: "r", Cell: bench.Cell{Model: "tiny", Precision: prec},
			Eval: &agentproto.EvalSpec{Task: "lambada", DatasetPath: data, PrefixToken: -1, Reference: ref, SaveReference: save}}
	}
	msgs := talk(t,
		agentproto.Job{ID: "b", Kind: "bench", ModelPath: model, RunID: "r", Cell: bench.Cell{Model: "tiny", Precision: "a16w8"},
			Bench: &agentproto.BenchSpec{Tests: []string{"pp8"}, Reps: 1, Seed: 1}},
		evalJob("e32", "fp32", true), evalJob("e8", "a16w8", false))
	metrics := map[string]map[string]float64{}
	for _, m := range msgs {
		switch m.Type {
		case agentproto.TypeSample:
			s := m.Sample
			if (s.Precision != "fp32") != s.Simulated {
				t.Errorf("sample %s/%s: simulated = %v", s.Precision, s.Metric, s.Simulated)
			}
			if metrics[s.Precision+"/"+s.Test] == nil {
				metrics[s.Precision+"/"+s.Test] = map[string]float64{}
			}
			metrics[s.Precision+"/"+s.Test][s.Metric] = s.Value
		case agentproto.TypeError:
			t.Fatalf("agent error: %s", m.Error)
		}
	}
	if _, ok := metrics["a16w8/pp8"][bench.MetricPrefillTokensPerSecond]; !ok {
		t.Errorf("no a16w8 pp8 sample: %v", metrics)
	}
	if _, ok := metrics["fp32/lambada"][bench.MetricKLDMean]; ok {
		t.Error("the fp32 run, which writes the reference, reported a KLD")
	}
	kld, ok := metrics["a16w8/lambada"][bench.MetricKLDMean]
	if !ok || kld < 0 {
		t.Errorf("a16w8 KLD against the fp32 reference: %v (present %v)", kld, ok)
	}
	if _, err := os.Stat(ref); err != nil {
		t.Errorf("fp32 reference not saved: %v", err)
	}
}

func TestEvalJob(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	data := filepath.Join(t.TempDir(), "lambada.jsonl")
	var lines []string
	for _, text := range []string{"the cat sat on the mat", "one two three four five six", "a quick brown fox jumps"} {
		b, _ := json.Marshal(map[string]string{"text": text})
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(data, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	msgs := talk(t, agentproto.Job{ID: "e", Kind: "eval", ModelPath: model, RunID: "r", Cell: bench.Cell{Model: "tiny"},
		Eval: &agentproto.EvalSpec{Task: "lambada", DatasetPath: data}})
	metrics := map[string]float64{}
	for _, m := range msgs {
		if m.Type == agentproto.TypeError {
			t.Fatalf("agent error: %s", m.Error)
		}
		if m.Type == agentproto.TypeSample {
			if m.Sample.Test != bench.TestLAMBADA {
				t.Errorf("eval sample in cell %q", m.Sample.Test)
			}
			metrics[m.Sample.Metric] = m.Sample.Value
		}
	}
	if ppl, ok := metrics[bench.MetricPerplexity]; !ok || !(ppl > 1) {
		t.Errorf("ppl = %v (present %v), want a perplexity above 1", ppl, ok)
	}
	if acc, ok := metrics[bench.MetricAccuracy]; !ok || acc < 0 || acc > 1 {
		t.Errorf("acc = %v (present %v), want a share in [0, 1]", acc, ok)
	}
}

// TestJobRefusals: what this agent cannot run is refused with a reason, and the
// agent keeps serving the next job.
func TestJobRefusals(t *testing.T) {
	model := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	tests := []struct {
		job  agentproto.Job
		want string
	}{
		{agentproto.Job{ID: "1", Kind: "bench", ModelPath: model, Cell: bench.Cell{Backend: "metal"}, Bench: &agentproto.BenchSpec{Tests: []string{"pp8"}, Reps: 1}}, `backend "metal" is not available`},
		{agentproto.Job{ID: "2", Kind: "bench", ModelPath: model, Cell: bench.Cell{Precision: "int3"}, Bench: &agentproto.BenchSpec{Tests: []string{"pp8"}, Reps: 1}}, `precision "int3"`},
		{agentproto.Job{ID: "3", Kind: "bench", ModelPath: "missing.bin", Bench: &agentproto.BenchSpec{Tests: []string{"pp8"}, Reps: 1}}, "missing.bin"},
		{agentproto.Job{ID: "4", Kind: "bench", ModelPath: model, Bench: &agentproto.BenchSpec{Tests: []string{"xx9"}, Reps: 1}}, `test "xx9"`},
		{agentproto.Job{ID: "5", Kind: "eval", ModelPath: model, Eval: &agentproto.EvalSpec{Task: "hellaswag"}}, "only task"},
	}
	var jobs []agentproto.Job
	for _, tt := range tests {
		jobs = append(jobs, tt.job)
	}
	var errs []string
	for _, m := range talk(t, jobs...) {
		if m.Type == agentproto.TypeError {
			errs = append(errs, m.Error)
		}
	}
	if len(errs) != len(tests) {
		t.Fatalf("%d errors for %d bad jobs: %q", len(errs), len(tests), errs)
	}
	for i, tt := range tests {
		if !strings.Contains(errs[i], tt.want) || !strings.Contains(errs[i], "job "+tt.job.ID) {
			t.Errorf("job %s: error %q, want it to name the job and contain %q", tt.job.ID, errs[i], tt.want)
		}
	}
}

func TestMainArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"-version"}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.Contains(out.String(), "protocol 1") {
		t.Errorf("-version: exit %d, %q", code, out.String())
	}
	if code := Main(context.Background(), []string{"--bogus"}, strings.NewReader(""), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unexpected arguments") {
		t.Errorf("--bogus: exit %d, %q", code, errOut.String())
	}
	// Garbage from the host: an error message on stdout, exit 1.
	out.Reset()
	if code := Main(context.Background(), nil, strings.NewReader("hello?\n"), &out, &errOut); code != 1 || !strings.Contains(out.String(), `"type":"error"`) {
		t.Errorf("garbage input: exit %d, output %q", code, out.String())
	}
}
