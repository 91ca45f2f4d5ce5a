package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/bench"
	standin "github.com/rwkvbench/rwkvbench/internal/qnnstandin"
	"github.com/rwkvbench/rwkvbench/qnn"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
)

// TestQNNBenchJobOnStandIn runs a bench job on the qnn-htp backend through the agent,
// against the STAND-IN QNN library the qnn tests use (not Qualcomm's): the job loads
// the context binary, runs prefill and decode through the QNN session, and records
// the backend, the runtime the stand-in reports and the perf profile with every
// sample, none of them simulated.
func TestQNNBenchJobOnStandIn(t *testing.T) {
	if !qnn.Available() {
		t.Skip("this build cannot load QNN libraries")
	}
	dir := t.TempDir()
	lib := standin.BuildIn(t, filepath.Join(dir, "lib"))
	ctxFile := filepath.Join(dir, "rwkv.bin")
	m := standin.Model{LayerBegin: 0, LayerEnd: 2, Embd: 8, Heads: 2, Vocab: 40, PrefillSeq: 16}
	if err := os.WriteFile(ctxFile, m.Binary(), 0o644); err != nil {
		t.Fatal(err)
	}
	msgs := talk(t, agentproto.Job{ID: "q", Kind: "bench", ModelPath: ctxFile, RunID: "r",
		Cell:  bench.Cell{Model: "standin", Precision: "a16w8", Backend: "qnn-htp", PerfProfile: "burst"},
		Bench: &agentproto.BenchSpec{Tests: []string{"pp20", "tg4"}, Reps: 2, Seed: 1},
		QNN:   &agentproto.QNNSpec{BackendLib: lib, SystemLib: lib}})
	samples := 0
	for _, msg := range msgs {
		switch msg.Type {
		case agentproto.TypeSample:
			samples++
			s := msg.Sample
			if s.Backend != "qnn-htp" || s.Precision != "a16w8" || s.Simulated || s.PerfProfile == "" ||
				!strings.Contains(s.Runtime, "NOT Qualcomm QNN") {
				t.Errorf("sample cell %+v: want backend qnn-htp, a16w8 not simulated, a perf profile and the stand-in's runtime", s.Cell)
			}
		case agentproto.TypeError:
			t.Fatalf("agent error: %s", msg.Error)
		}
	}
	if samples == 0 {
		t.Fatal("no samples")
	}
}

func TestQNNJobRefusals(t *testing.T) {
	msgs := talk(t,
		agentproto.Job{ID: "1", Kind: "bench", ModelPath: "x.bin", Cell: bench.Cell{Backend: "qnn-npu"}, Bench: &agentproto.BenchSpec{Tests: []string{"pp8"}, Reps: 1}},
		agentproto.Job{ID: "2", Kind: "bench", ModelPath: "x.bin", Cell: bench.Cell{Backend: "qnn-htp", PerfProfile: "turbo"}, Bench: &agentproto.BenchSpec{Tests: []string{"pp8"}, Reps: 1}})
	var errs []string
	for _, m := range msgs {
		if m.Type == agentproto.TypeError {
			errs = append(errs, m.Error)
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "qnn-npu") || !strings.Contains(errs[1], "turbo") {
		t.Errorf("errors %q: want the unknown backend and perf profile named", errs)
	}
}
