//go:build ignore

// gen writes the recorded sample fixtures the reports tests use. The numbers are
// SYNTHETIC, drawn with a fixed seed around plausible values; they are not
// measurements of any device. Run from the repository root:
//
//	go run ./reports/testdata/gen.go
//
// It writes base.jsonl and same.jsonl (two runs of one build, natural noise) and
// slow.jsonl (a third run of the build in which every generation sample is ×0.9).
package main

import (
	"encoding/json"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
)

type target struct {
	cell      bench.Cell
	simulated bool
	tg, pp    float64 // tok/s
	lambada   bool
	ppl, acc  float64
	kld, top1 float64
}

func targets() []target {
	npu := func(soc, arch, prec string) bench.Cell {
		return bench.Cell{Model: "rwkv7-1.5b", ModelHash: "fixture0000", Precision: prec, Backend: "qnn-htp",
			Device: "fixture-" + soc, SoC: soc, HTPArch: arch, Runtime: "QAIRT 2.43 (fixture)", PerfProfile: "burst"}
	}
	host := func(prec string) bench.Cell {
		return bench.Cell{Model: "rwkv7-1.5b", ModelHash: "fixture0000", Precision: prec, Backend: "cpu",
			Device: "local", SoC: "host-cpu", Runtime: "go1.26 cpu", PerfProfile: "default"}
	}
	return []target{
		{npu("SM8650", "v75", "fp16"), false, 20.1, 180, true, 3.70, 0.701, 0, 1},
		{npu("SM8650", "v75", "a16w8"), false, 38.2, 310, true, 3.78, 0.696, 0.012, 0.962},
		{npu("SM8650", "v75", "a16w4"), false, 62.5, 350, true, 3.97, 0.678, 0.061, 0.911},
		{npu("SM8750", "v79", "fp16"), false, 26.4, 240, true, 3.70, 0.701, 0, 1},
		{npu("SM8750", "v79", "a16w8"), false, 49.0, 420, true, 3.77, 0.697, 0.011, 0.964},
		{npu("SM8750", "v79", "a16w4"), false, 78.3, 470, true, 3.81, 0.693, 0.041, 0.938},
		{host("fp32"), false, 9.1, 60, true, 3.70, 0.701, 0, 1},
		{host("fp16"), true, 8.7, 57, true, 3.70, 0.701, 0.0004, 0.998},
		{host("a16w8"), true, 8.9, 58, true, 3.78, 0.696, 0.012, 0.962},
		{host("a16w4"), true, 8.8, 58, false, 0, 0, 0, 0},
	}
}

func run(id string, started time.Time, seed uint64, tgScale float64) []bench.Sample {
	rng := rand.New(rand.NewPCG(seed, 4))
	var out []bench.Sample
	now := started
	for _, t := range targets() {
		add := func(test, metric, unit string, value float64, rep int) {
			c := t.cell
			c.Test = test
			now = now.Add(1500 * time.Millisecond)
			out = append(out, bench.Sample{Cell: c, RunID: id, HarnessVersion: "0.1.0-fixture", Metric: metric,
				Unit: unit, Value: value, Rep: rep, Warmup: rep < 0, Time: now, ThermalBefore: "0", ThermalAfter: "0",
				Simulated: t.simulated})
		}
		// One warm-up, slower (cold caches), then five repetitions with ~1% noise.
		for rep := -1; rep < 5; rep++ {
			warm := 1.0
			if rep < 0 {
				warm = 0.95
			}
			add("tg128", "generation_tokens_per_second", "tok/s", round(t.tg*tgScale*warm*(1+0.01*rng.NormFloat64())), rep)
		}
		for rep := -1; rep < 5; rep++ {
			warm := 1.0
			if rep < 0 {
				warm = 0.93
			}
			add("pp512", "prefill_tokens_per_second", "tok/s", round(t.pp*warm*(1+0.012*rng.NormFloat64())), rep)
		}
		if t.lambada {
			// LAMBADA is a deterministic pass: the same build gives the same numbers.
			add("lambada", "ppl", "", t.ppl, 0)
			add("lambada", "acc", "", t.acc, 0)
			add("lambada", "kld_mean", "nats", t.kld, 0)
			add("lambada", "top1_agreement", "", t.top1, 0)
		}
	}
	return out
}

func round(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func main() {
	dir := filepath.Join("reports", "testdata")
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	files := []struct {
		name    string
		samples []bench.Sample
	}{
		{"base.jsonl", run("fixture-base", day, 1, 1)},
		{"same.jsonl", run("fixture-same", day.Add(24*time.Hour), 2, 1)},
		{"slow.jsonl", run("fixture-slow", day.Add(48*time.Hour), 3, 0.9)},
	}
	for _, f := range files {
		w, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			log.Fatal(err)
		}
		enc := json.NewEncoder(w)
		for _, s := range f.samples {
			if err := enc.Encode(s); err != nil {
				log.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
	}
}
