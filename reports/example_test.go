package reports_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/reports"
)

// samples returns a small recorded set: generation speed with six repetitions and
// one LAMBADA pass, for two precisions on one chip.
func samples(scale float64) []bench.Sample {
	var out []bench.Sample
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, p := range []struct {
		precision     string
		tokPerSec     float64
		ppl, acc, kld float64
	}{
		{"fp16", 20.1, 3.70, 0.701, 0},
		{"a16w4", 62.5, 3.97, 0.678, 0.061},
	} {
		cell := bench.Cell{Model: "rwkv7-1.5b", Precision: p.precision, Backend: "qnn-htp", SoC: "SM8650", Test: "tg128"}
		for rep, noise := range []float64{0.99, 1.0, 1.01, 0.995, 1.005, 1.002} {
			out = append(out, bench.Sample{Cell: cell, Metric: bench.MetricGenerationTokensPerSecond, Unit: "tok/s",
				Value: p.tokPerSec * noise * scale, Rep: rep, Time: t0})
		}
		cell.Test = "lambada"
		for metric, v := range map[string]float64{bench.MetricPerplexity: p.ppl, bench.MetricAccuracy: p.acc, bench.MetricKLDMean: p.kld} {
			out = append(out, bench.Sample{Cell: cell, Metric: metric, Value: v, Time: t0})
		}
	}
	return out
}

func ExampleBuild() {
	tbl, err := reports.Build(samples(1), nil, reports.Options{Rows: []string{"model", "precision"}, Cols: []string{"chip"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := tbl.Markdown(os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Cells: generation tok/s (tg128) | LAMBADA ppl, acc. Speed shows median [95% confidence interval]; LAMBADA numbers are single full passes. — = not run.
	//
	// | model      | precision | SM8650                           |
	// |:-----------|:----------|:---------------------------------|
	// | rwkv7-1.5b | fp16      | 20.1 [19.9, 20.3] \| 3.70, 70.1% |
	// | rwkv7-1.5b | a16w4     | 62.6 [61.9, 63.1] \| 3.97, 67.8% |
}

func ExampleCompare() {
	c, err := reports.Compare(samples(1), samples(0.9), reports.CompareOptions{Threshold: 0.03})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range c.Deltas {
		fmt.Printf("%s: %s, p=%.3f, regression %v\n", d.Label, d.Test.Delta, d.Test.P, d.Regression)
	}
	// Output:
	// fp16 tg128: -10.00%, p=0.002, regression true
	// a16w4 tg128: -10.00%, p=0.002, regression true
}

func ExampleRecommend() {
	recs, err := reports.Recommend(samples(1), reports.RecommendOptions{Reference: "fp16", MaxAccDrop: 1, MaxKLD: 0.05})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("%s: choice %q\n", r.SoC, r.Choice)
		for _, c := range r.Candidates {
			fmt.Printf("  %s accepted=%v: %s\n", c.Precision, c.Accepted, c.Reason)
		}
	}
	// Output:
	// SM8650: choice "fp16"
	//   a16w4 accepted=false: Δacc 2.30 points > 1.00
	//   fp16 accepted=true: reference precision
}

func ExampleParetoFrontier() {
	points := []reports.Point{
		{Label: "fp16", Speed: 20.1, Quality: 70.1},
		{Label: "a16w8", Speed: 38.2, Quality: 69.6},
		{Label: "a16w4", Speed: 62.5, Quality: 67.8},
		{Label: "a16w8-bad-calibration", Speed: 37.9, Quality: 66.0},
	}
	for _, p := range reports.ParetoFrontier(points, true) {
		fmt.Println(p.Label)
	}
	// Output:
	// fp16
	// a16w8
	// a16w4
}

func ExampleWriteBenchfmt() {
	one := samples(1)[:2]
	if err := reports.WriteBenchfmt(os.Stdout, one); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Unit generation_tokens_per_second better=higher
	// backend: qnn-htp
	// simulated: false
	//
	// BenchmarkRWKV/model=rwkv7-1.5b/precision=fp16/soc=SM8650/test=tg128 1 19.899 generation_tokens_per_second
	// BenchmarkRWKV/model=rwkv7-1.5b/precision=fp16/soc=SM8650/test=tg128 1 20.1 generation_tokens_per_second
}
