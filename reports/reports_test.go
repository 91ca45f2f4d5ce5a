package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func loadFixture(t *testing.T, name string) []bench.Sample {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := store.ReadJSONL(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return samples
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff)\n--- got ---\n%s", name, got)
	}
}

// fixtureFailure is a cell that could not be run, as the store reports it.
func fixtureFailure() []store.CellState {
	hostA16W4 := bench.Cell{Model: "rwkv7-1.5b", ModelHash: "fixture0000", Precision: "a16w4", Backend: "cpu",
		Device: "local", SoC: "host-cpu", Runtime: "go1.26 cpu", PerfProfile: "default", Test: "lambada"}
	hostFP32 := hostA16W4
	hostFP32.Precision, hostFP32.Test = "fp32", "tg128" // failed once, then measured on a resume: not NA
	return []store.CellState{
		{Cell: bench.Cell{Model: "rwkv7-1.5b", Precision: "fp32", Backend: "qnn-htp", SoC: "SM8750", Test: "tg128"},
			RunID: "fixture-base", Status: store.CellFailed, Reason: "fp32 graphs are not supported by the HTP backend"},
		{Cell: hostA16W4, RunID: "fixture-base", Status: store.CellFailed, Reason: "out of memory"},
		{Cell: hostFP32, RunID: "fixture-base", Status: store.CellFailed, Reason: "interrupted"},
	}
}

func TestTableGolden(t *testing.T) {
	samples := loadFixture(t, "base.jsonl")
	tests := []struct {
		name string
		opt  Options
	}{
		{"median", Options{Rows: []string{"model", "precision"}, Cols: []string{"chip"}}},
		{"mean", Options{Rows: []string{"model", "precision"}, Cols: []string{"soc"}, Statistic: Mean}},
		{"by_chip", Options{Rows: []string{"soc", "backend"}, Cols: []string{"precision"}}},
		{"per_test", Options{Rows: []string{"precision", "test"}, Cols: []string{"chip"}}},
	}
	writers := []struct {
		ext   string
		write func(*Table, io.Writer) error
	}{
		{"md", (*Table).Markdown},
		{"csv", (*Table).CSV},
		{"json", (*Table).JSON},
	}
	for _, tt := range tests {
		tbl, err := Build(samples, fixtureFailure(), tt.opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, w := range writers {
			t.Run(tt.name+"."+w.ext, func(t *testing.T) {
				var buf bytes.Buffer
				if err := w.write(tbl, &buf); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "table_"+tt.name+".golden."+w.ext, buf.Bytes())
			})
		}
	}
}

func TestTableCells(t *testing.T) {
	tbl, err := Build(loadFixture(t, "base.jsonl"), fixtureFailure(), Options{Rows: []string{"precision"}, Cols: []string{"soc"}})
	if err != nil {
		t.Fatal(err)
	}
	cell := func(precision, soc string) string {
		for i, r := range tbl.RowKeys {
			for j, c := range tbl.ColKeys {
				if r[0] == precision && c[0] == soc {
					return tbl.cellText(tbl.Entries[i][j])
				}
			}
		}
		t.Fatalf("no cell %s/%s", precision, soc)
		return ""
	}
	tests := []struct {
		precision, soc string
		want           string // a substring
	}{
		{"a16w4", "SM8650", " | 3.97, 67.8%"},   // the original project's cell shape
		{"a16w4", "host-cpu", "† | NA *"},       // LAMBADA failed, simulated
		{"fp32", "host-cpu", "† | 3.70, 70.1%"}, // failed, then measured: not NA
		{"fp16", "host-cpu", "3.70, 70.1% *"},   // simulated mark
		{"fp32", "SM8750", "NA"},                // failed with a reason
		{"fp32", "SM8650", "—"},                 // never run
		{"fp16", "SM8650", "]† | 3.70"},         // 5 reps: too few for a 95% CI, so [min, max]
		{"a16w8", "SM8750", "| 3.77, 69.7%"},    // no simulated mark on hardware
	}
	for _, tt := range tests {
		got := cell(tt.precision, tt.soc)
		if !strings.Contains(got, tt.want) {
			t.Errorf("cell %s/%s = %q, want it to contain %q", tt.precision, tt.soc, got, tt.want)
		}
		if tt.soc != "host-cpu" && strings.Contains(got, "*") {
			t.Errorf("cell %s/%s = %q is marked simulated", tt.precision, tt.soc, got)
		}
	}
	if tbl.GenerationTest != "tg128" {
		t.Errorf("GenerationTest = %q, want tg128", tbl.GenerationTest)
	}
}

func TestTableWarmupsExcluded(t *testing.T) {
	c := bench.Cell{Model: "m", Precision: "fp16", Test: "tg128"}
	samples := []bench.Sample{
		{Cell: c, Metric: metricGeneration, Value: 1000, Warmup: true, Rep: -1},
		{Cell: c, Metric: metricGeneration, Value: 10},
		{Cell: c, Metric: metricGeneration, Value: 12, Rep: 1},
	}
	tbl, err := Build(samples, nil, Options{Rows: []string{"precision"}})
	if err != nil {
		t.Fatal(err)
	}
	g := tbl.Entries[0][0].Generation
	if g == nil || g.N != 2 || g.Max != 12 {
		t.Fatalf("generation summary %+v: the warm-up entered the statistics", g)
	}
}

func TestTablePooledNote(t *testing.T) {
	c1 := bench.Cell{Model: "m", Precision: "fp16", Backend: "cpu", Test: "tg128"}
	c2 := c1
	c2.Backend = "qnn-htp"
	samples := []bench.Sample{
		{Cell: c1, Metric: metricGeneration, Value: 10},
		{Cell: c2, Metric: metricGeneration, Value: 50},
	}
	tbl, err := Build(samples, nil, Options{Rows: []string{"precision"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Notes) != 1 || !strings.Contains(tbl.Notes[0], "backend (cpu, qnn-htp)") {
		t.Fatalf("notes = %q, want one saying the cell pools two backends", tbl.Notes)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		wantErr string
	}{
		{"unknown row", Options{Rows: []string{"colour"}}, `unknown field "colour"`},
		{"unknown col", Options{Cols: []string{"gpu"}}, `unknown field "gpu"`},
		{"both", Options{Rows: []string{"soc"}, Cols: []string{"chip"}}, "both a row and a column"},
		{"twice", Options{Rows: []string{"model", "model"}}, "given twice"},
		{"statistic", Options{Statistic: "mode"}, `statistic "mode"`},
		{"confidence", Options{Confidence: 1.5}, "confidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(nil, nil, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestCompareRecorded is the CI gate on recorded samples: two runs of the same build
// pass; a run with every generation sample ×0.9 fails.
func TestCompareRecorded(t *testing.T) {
	base := loadFixture(t, "base.jsonl")
	tests := []struct {
		name            string
		new             string
		wantRegressions int
	}{
		{"same build", "same.jsonl", 0},
		{"10% slower", "slow.jsonl", 10}, // every chip × precision cell
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compare(base, loadFixture(t, tt.new), CompareOptions{Threshold: 0.03})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Deltas) != 10 {
				t.Fatalf("%d cells compared, want 10", len(c.Deltas))
			}
			regs := c.Regressions()
			if len(regs) != tt.wantRegressions {
				var buf bytes.Buffer
				c.Markdown(&buf)
				t.Fatalf("%d regressions, want %d\n%s", len(regs), tt.wantRegressions, buf.String())
			}
			for _, d := range regs {
				if d.Test.Change > -0.07 || d.Test.Change < -0.13 {
					t.Errorf("%s: change %.3f, want about -0.10", d.Label, d.Test.Change)
				}
			}
		})
	}
}

func TestCompareGolden(t *testing.T) {
	c, err := Compare(loadFixture(t, "base.jsonl"), loadFixture(t, "slow.jsonl"), CompareOptions{Threshold: 0.03})
	if err != nil {
		t.Fatal(err)
	}
	var md, js bytes.Buffer
	if err := c.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := c.JSON(&js); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "compare_slow.golden.md", md.Bytes())
	checkGolden(t, "compare_slow.golden.json", js.Bytes())
}

func TestCompareDirections(t *testing.T) {
	cell := bench.Cell{Model: "m", Precision: "fp16", SoC: "SM8650", Test: "t"}
	series := func(metric string, center float64) []bench.Sample {
		var out []bench.Sample
		for i, f := range []float64{0.99, 1.0, 1.01, 0.995, 1.005, 1.002} {
			out = append(out, bench.Sample{Cell: cell, Metric: metric, Value: center * f, Rep: i})
		}
		return out
	}
	tests := []struct {
		metric          string
		base, new       float64
		wantRegression  bool
		wantImprovement bool
	}{
		{"generation_tokens_per_second", 100, 90, true, false},
		{"generation_tokens_per_second", 100, 110, false, true},
		{"generation_tokens_per_second", 100, 98, false, false}, // significant but within 3%
		{"ttft_ms", 100, 110, true, false},
		{"ttft_ms", 100, 90, false, true},
		{"load_ms", 100, 120, true, false},
		{"peak_rss_bytes", 1e9, 1.2e9, true, false},
		{"ppl", 4, 4.4, true, false},
		{"acc", 0.70, 0.60, true, false},
		{"prefill_tokens_per_second", 300, 200, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			c, err := Compare(series(tt.metric, tt.base), series(tt.metric, tt.new), CompareOptions{Metrics: []string{tt.metric}, Threshold: 0.03})
			if err != nil {
				t.Fatal(err)
			}
			d := c.Deltas[0]
			if d.Regression != tt.wantRegression || d.Improvement != tt.wantImprovement {
				t.Fatalf("%s %v→%v: regression %v improvement %v (p=%.4f change %.3f), want %v %v",
					tt.metric, tt.base, tt.new, d.Regression, d.Improvement, d.Test.P, d.Test.Change, tt.wantRegression, tt.wantImprovement)
			}
		})
	}
}

func TestCompareNotSignificant(t *testing.T) {
	cell := bench.Cell{Model: "m", Test: "tg128"}
	var base, new []bench.Sample
	// Interleaved values: a 10% median shift with overlapping samples and n=3 is not significant.
	for i, v := range []float64{100, 80, 120} {
		base = append(base, bench.Sample{Cell: cell, Metric: metricGeneration, Value: v, Rep: i})
	}
	for i, v := range []float64{90, 70, 125} {
		new = append(new, bench.Sample{Cell: cell, Metric: metricGeneration, Value: v, Rep: i})
	}
	c, err := Compare(base, new, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Deltas[0]; d.Test.Significant || d.Regression || d.Test.Delta != "~" {
		t.Fatalf("delta %+v: want ~ and no regression", d.Test)
	}
}

func TestCompareAxis(t *testing.T) {
	samples := loadFixture(t, "base.jsonl")
	pick := func(prec string) []bench.Sample {
		var out []bench.Sample
		for _, s := range samples {
			if s.Precision == prec && s.Backend == "qnn-htp" {
				out = append(out, s)
			}
		}
		return out
	}
	c, err := Compare(pick("fp16"), pick("a16w8"), CompareOptions{Threshold: 0.03})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Axis) != 1 || c.Axis[0] != "precision" {
		t.Fatalf("axis = %v, want [precision]", c.Axis)
	}
	if len(c.Deltas) != 2 || len(c.Regressions()) != 0 {
		t.Fatalf("fp16 → a16w8: %d deltas, %d regressions; want 2 chips, both faster", len(c.Deltas), len(c.Regressions()))
	}
	for _, d := range c.Deltas {
		if !d.Improvement {
			t.Errorf("%s: a16w8 not an improvement over fp16: %+v", d.Label, d.Test)
		}
	}
}

func TestCompareErrors(t *testing.T) {
	s := []bench.Sample{{Cell: bench.Cell{Test: "tg128", Precision: "fp16"}, Metric: metricGeneration, Value: 1}}
	other := []bench.Sample{{Cell: bench.Cell{Test: "tg256", Precision: "fp16"}, Metric: metricGeneration, Value: 1}}
	tests := []struct {
		name      string
		base, new []bench.Sample
		opt       CompareOptions
		wantErr   string
	}{
		{"unknown metric", s, s, CompareOptions{Metrics: []string{"joules"}}, "direction unknown"},
		{"empty base", nil, s, CompareOptions{}, "base: no measured samples"},
		{"empty new", s, nil, CompareOptions{}, "new: no measured samples"},
		{"no overlap", s, other, CompareOptions{}, "no cell was measured in both"},
		{"alpha", s, s, CompareOptions{Alpha: 2}, "alpha"},
		{"threshold", s, s, CompareOptions{Threshold: -1}, "threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(tt.base, tt.new, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParetoFrontier(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name          string
		points        []Point
		higherQuality bool
		want          []string
	}{
		{"empty", nil, true, nil},
		{"one", []Point{{"a", 1, 1}}, true, []string{"a"}},
		{"dominated", []Point{{"slow-bad", 10, 60}, {"fast-good", 20, 70}}, true, []string{"fast-good"}},
		{"trade-off", []Point{{"fp16", 20, 70}, {"a16w8", 38, 69.6}, {"a16w4", 62, 67.8}, {"bad", 30, 65}}, true,
			[]string{"fp16", "a16w8", "a16w4"}},
		{"ties kept", []Point{{"x", 10, 5}, {"y", 10, 5}}, true, []string{"x", "y"}},
		{"equal speed, worse quality", []Point{{"x", 10, 5}, {"y", 10, 4}}, true, []string{"x"}},
		{"ppl lower is better", []Point{{"fp16", 20, 3.7}, {"a16w4", 62, 3.97}, {"bad", 30, 4.5}}, false,
			[]string{"fp16", "a16w4"}},
		{"NaN never on the frontier", []Point{{"nan", nan, 99}, {"ok", 1, 1}}, true, []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range ParetoFrontier(tt.points, tt.higherQuality) {
				got = append(got, p.Label)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("frontier = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecommend(t *testing.T) {
	samples := loadFixture(t, "base.jsonl")
	tests := []struct {
		name string
		opt  RecommendOptions
		want map[string]string // soc → choice ("" = none)
		// reasons that must appear for a soc/precision
		wantReason map[string]string
	}{
		{"defaults", RecommendOptions{Reference: "fp16", MaxAccDrop: 1, MaxKLD: 0.05},
			map[string]string{"SM8650": "a16w8", "SM8750": "a16w4", "host-cpu": "fp32"},
			map[string]string{"SM8650/a16w4": "Δacc 2.30 points > 1.00", "host-cpu/a16w4": "no LAMBADA acc measured"}},
		{"tight kld", RecommendOptions{Reference: "fp16", MaxAccDrop: 1, MaxKLD: 0.01},
			map[string]string{"SM8650": "fp16", "SM8750": "fp16", "host-cpu": "fp32"},
			map[string]string{"SM8750/a16w4": "ΔKLD 0.041 > 0.01"}},
		{"kld off", RecommendOptions{Reference: "fp16", MaxAccDrop: 3, MaxKLD: -1},
			map[string]string{"SM8650": "a16w4", "SM8750": "a16w4", "host-cpu": "fp32"}, nil},
		{"no precision within bound", RecommendOptions{Reference: "fp32", MaxAccDrop: 1, MaxKLD: 0.05},
			map[string]string{"SM8650": "", "SM8750": "", "host-cpu": "fp32"},
			map[string]string{"SM8650/a16w8": "reference fp32 has no LAMBADA acc on this chip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Recommend(samples, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, r := range recs {
				got[r.SoC] = r.Choice
				for _, c := range r.Candidates {
					if want, ok := tt.wantReason[r.SoC+"/"+c.Precision]; ok && !strings.Contains(c.Reason, want) {
						t.Errorf("%s/%s reason %q, want %q", r.SoC, c.Precision, c.Reason, want)
					}
					if !c.Accepted && c.Reason == "" {
						t.Errorf("%s/%s rejected without a reason", r.SoC, c.Precision)
					}
				}
			}
			for soc, want := range tt.want {
				if got[soc] != want {
					t.Errorf("%s: choice %q, want %q", soc, got[soc], want)
				}
			}
			var md bytes.Buffer
			if err := WriteRecommendationsMarkdown(&md, recs, tt.opt); err != nil {
				t.Fatal(err)
			}
			for soc, want := range tt.want {
				line := "use **" + want + "**"
				if want == "" {
					line = "no precision within the bounds"
				}
				if !strings.Contains(md.String(), soc+": "+line) {
					t.Errorf("markdown lacks %q for %s:\n%s", line, soc, md.String())
				}
			}
		})
	}
}

func TestRecommendGolden(t *testing.T) {
	opt := RecommendOptions{Reference: "fp16", MaxAccDrop: 1, MaxKLD: 0.05}
	recs, err := Recommend(loadFixture(t, "base.jsonl"), opt)
	if err != nil {
		t.Fatal(err)
	}
	var md, js bytes.Buffer
	if err := WriteRecommendationsMarkdown(&md, recs, opt); err != nil {
		t.Fatal(err)
	}
	if err := WriteRecommendationsJSON(&js, recs, opt); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "recommend.golden.md", md.Bytes())
	checkGolden(t, "recommend.golden.json", js.Bytes())
}

func TestRecommendErrors(t *testing.T) {
	s := loadFixture(t, "base.jsonl")
	tests := []struct {
		name    string
		samples []bench.Sample
		opt     RecommendOptions
		wantErr string
	}{
		{"latency as speed", s, RecommendOptions{SpeedMetric: "ttft_ms"}, "want a throughput"},
		{"negative drop", s, RecommendOptions{MaxAccDrop: -1}, "non-negative"},
		{"nothing", nil, RecommendOptions{}, "no measured samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Recommend(tt.samples, tt.opt); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	written, skipped, err := WritePlots(dir, loadFixture(t, "base.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 0 || len(written) != 4 {
		t.Fatalf("written %v, skipped %v; want 4 files", written, skipped)
	}
	for _, path := range written {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			t.Fatalf("%s is empty", path)
		}
		switch filepath.Ext(path) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
				t.Fatalf("%s: %v is too small", path, b)
			}
		case ".svg":
			dec := xml.NewDecoder(bytes.NewReader(data))
			root := ""
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: not XML: %v", path, err)
				}
				if se, ok := tok.(xml.StartElement); ok && root == "" {
					root = se.Name.Local
				}
			}
			if root != "svg" {
				t.Fatalf("%s: root element %q, want svg", path, root)
			}
			if !strings.Contains(string(data), "simulated") {
				t.Errorf("%s does not mention the simulated numbers", path)
			}
		}
	}
}

func TestWritePlotsWithoutLambada(t *testing.T) {
	var speedOnly []bench.Sample
	for _, s := range loadFixture(t, "base.jsonl") {
		if s.Test != "lambada" {
			speedOnly = append(speedOnly, s)
		}
	}
	written, skipped, err := WritePlots(t.TempDir(), speedOnly)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || len(skipped) != 1 || !strings.Contains(skipped[0], "no cell has both") {
		t.Fatalf("written %v, skipped %v; want the throughput plot and a reason for the Pareto plot", written, skipped)
	}
}

func TestHeadlineTest(t *testing.T) {
	gen := func(test string, n int) []bench.Sample {
		var out []bench.Sample
		for i := range n {
			out = append(out, bench.Sample{Cell: bench.Cell{Test: test}, Metric: metricGeneration, Value: 1, Rep: i})
		}
		return out
	}
	tests := []struct {
		name    string
		samples []bench.Sample
		want    string
	}{
		{"none", nil, ""},
		{"pure beats combined", append(gen("pp512+tg128", 9), gen("tg128", 3)...), "tg128"},
		{"only combined", gen("pp512+tg128", 2), "pp512+tg128"},
		{"most samples", append(gen("tg64", 2), gen("tg128", 5)...), "tg128"},
		{"tie by name", append(gen("tg64", 2), gen("tg128", 2)...), "tg128"},
		{"warm-ups do not count", append(gen("tg64", 2), bench.Sample{Cell: bench.Cell{Test: "tg128"}, Metric: metricGeneration, Warmup: true}), "tg64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headlineTest(tt.samples, metricGeneration); got != tt.want {
				t.Fatalf("headlineTest = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCombinedTestNotPooled checks that generation speed from pp512+tg128 stays out
// of the headline numbers of tables and recommendations.
func TestCombinedTestNotPooled(t *testing.T) {
	var samples []bench.Sample
	for _, test := range []struct {
		name  string
		speed float64
	}{{"tg128", 60}, {"pp512+tg128", 1000}} {
		for rep := range 3 {
			samples = append(samples, bench.Sample{Cell: bench.Cell{Model: "m", Precision: "fp16", SoC: "X", Test: test.name},
				Metric: metricGeneration, Value: test.speed, Rep: rep})
		}
	}
	tbl, err := Build(samples, nil, Options{Rows: []string{"precision"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := tbl.Entries[0][0].Generation; g == nil || g.N != 3 || g.Median != 60 {
		t.Fatalf("table generation summary %+v, want tg128's three values", g)
	}
	recs, err := Recommend(samples, RecommendOptions{Reference: "fp16", MaxKLD: -1})
	if err != nil {
		t.Fatal(err)
	}
	if c := recs[0].Candidates[0]; c.Speed != 60 {
		t.Fatalf("recommend speed %v, want tg128's 60", c.Speed)
	}
}

func TestWriteBenchfmt(t *testing.T) {
	samples := loadFixture(t, "base.jsonl")
	var buf bytes.Buffer
	if err := WriteBenchfmt(&buf, samples); err != nil {
		t.Fatal(err)
	}
	measured := 0
	for _, s := range samples {
		if !s.Warmup {
			measured++
		}
	}
	r := benchfmt.NewReader(bytes.NewReader(buf.Bytes()), "fixture")
	results, simulated := 0, 0
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			results++
			if rec.GetConfig("simulated") == "true" {
				simulated++
			}
			if !strings.HasPrefix(rec.Name.String(), "RWKV/model=rwkv7-1.5b/precision=") {
				t.Fatalf("result name %q", rec.Name)
			}
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt does not parse its own output: %v", rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if results != measured || simulated == 0 {
		t.Fatalf("%d results (%d simulated), want %d measured samples, some simulated", results, simulated, measured)
	}
	if !strings.Contains(buf.String(), "Unit generation_tokens_per_second better=higher") {
		t.Fatalf("no unit metadata for generation speed:\n%.500s", buf.String())
	}
}

// TestRecommendKLDReferenceIsZero: bench measures every precision's KLD against the
// fp32 run, so fp32 itself has none; it must count as zero, not be rejected.
func TestRecommendKLDReferenceIsZero(t *testing.T) {
	cell := func(prec, test, metric string, v float64) bench.Sample {
		return bench.Sample{Cell: bench.Cell{Model: "m", Precision: prec, SoC: "host", Test: test}, Metric: metric, Value: v}
	}
	samples := []bench.Sample{
		cell("fp32", "tg64", "generation_tokens_per_second", 100),
		cell("fp32", "lambada", "acc", 50),
		cell("a16w8", "tg64", "generation_tokens_per_second", 150),
		cell("a16w8", "lambada", "acc", 49.5),
		cell("a16w8", "lambada", "kld_mean", 0.01),
		cell("fp16", "tg64", "generation_tokens_per_second", 90),
		cell("fp16", "lambada", "acc", 50),
		cell("fp16", "lambada", "kld_mean", 0.001),
	}
	for i := range samples {
		if samples[i].Metric == "acc" {
			samples[i].Unit = "%"
		}
	}
	recs, err := Recommend(samples, RecommendOptions{Reference: "fp16", MaxAccDrop: 1, MaxKLD: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Choice != "a16w8" {
		t.Fatalf("recommendations %+v, want a16w8", recs)
	}
	for _, c := range recs[0].Candidates {
		if c.Precision == "fp32" && (c.KLD != 0 || !c.Accepted) {
			t.Errorf("fp32 (the KLD reference): KLD %v accepted %v (%s)", c.KLD, c.Accepted, c.Reason)
		}
	}
}
