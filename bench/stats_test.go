package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestSummarize(t *testing.T) {
	tests := []struct {
		name           string
		values         []float64
		confidence     float64
		median, lo, hi float64
		mean, sd       float64
		warn           string
	}{
		// n=10: P(Bin(10,½) ≤ 1) = 11/1024, so [x(2), x(9)] covers the median with
		// probability 1 − 22/1024 ≈ 0.979 ≥ 0.95, and [x(3), x(8)] only ≈ 0.891.
		{"ten values", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.95, 5.5, 2, 9, 5.5, math.Sqrt(55.0 / 6), ""},
		// n=5: even [x(1), x(5)] covers only 1 − 2/32 = 0.9375 < 0.95, so one
		// side of the interval is unbounded.
		{"five values at 95%", []float64{3, 1, 2, 5, 4}, 0.95, 3, math.Inf(-1), 5, 3, math.Sqrt(2.5), "need >= 6 samples"},
		{"five values at 90%", []float64{3, 1, 2, 5, 4}, 0.90, 3, 1, 5, 3, math.Sqrt(2.5), ""},
		{"one value", []float64{7}, 0.95, 7, math.Inf(-1), math.Inf(1), 7, math.NaN(), "need"},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.values)
		s := Summarize(in, tt.confidence)
		if !slices.Equal(in, tt.values) {
			t.Errorf("%s: Summarize reordered its input", tt.name)
		}
		if s.N != len(tt.values) || !near(s.Median, tt.median) || s.Lo != tt.lo || s.Hi != tt.hi {
			t.Errorf("%s: median %v [%v, %v] n=%d, want %v [%v, %v]", tt.name, s.Median, s.Lo, s.Hi, s.N, tt.median, tt.lo, tt.hi)
		}
		if !near(s.Mean, tt.mean) || (math.IsNaN(tt.sd) != math.IsNaN(s.SD)) || (!math.IsNaN(tt.sd) && !near(s.SD, tt.sd)) {
			t.Errorf("%s: mean %v sd %v, want %v and the sample sd %v", tt.name, s.Mean, s.SD, tt.mean, tt.sd)
		}
		if got := strings.Join(s.Warnings, "; "); (tt.warn == "") != (got == "") || !strings.Contains(got, tt.warn) {
			t.Errorf("%s: warnings %q, want %q", tt.name, got, tt.warn)
		}
	}
	if s := Summarize(nil, 0.95); s.N != 0 || !math.IsNaN(s.Median) || s.MedianCI(1) != "—" || s.MeanSD(1) != "—" {
		t.Errorf("empty: %+v", s)
	}
}

func TestSummaryFormats(t *testing.T) {
	tests := []struct {
		values         []float64
		medianCI, mean string
	}{
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "5.50 [2.00, 9.00]", "5.50 ± 3.03"},
		{[]float64{1, 2, 3}, "2.0 [-∞, ∞]", "2.0 ± 1.0"},
		{[]float64{4}, "4.0 [-∞, ∞]", "4.0 ± ?"},
	}
	for _, tt := range tests {
		s := Summarize(tt.values, 0.95)
		digits := 1
		if len(tt.values) == 10 {
			digits = 2
		}
		if got := s.MedianCI(digits); got != tt.medianCI {
			t.Errorf("%v: MedianCI = %q, want %q", tt.values, got, tt.medianCI)
		}
		if got := s.MeanSD(digits); got != tt.mean {
			t.Errorf("%v: MeanSD = %q, want %q", tt.values, got, tt.mean)
		}
	}
}

func TestCompare(t *testing.T) {
	base := []float64{100, 101, 102, 103, 104, 105}
	tests := []struct {
		name        string
		new         []float64
		p           float64 // exact two-sided U-test p-value; negative: only check > alpha
		significant bool
		delta       string
	}{
		// Complete separation of 6 and 6: p = 2 / C(12,6) = 2/924.
		{"10% faster", []float64{110, 111, 112, 113, 114, 115}, 2.0 / 924, true, "+9.76%"},
		{"10% slower", []float64{90, 91, 92, 93, 94, 95}, 2.0 / 924, true, "-9.76%"},
		{"same values", base, -1, false, "~"},
		{"interleaved", []float64{100.5, 101.5, 102.5, 103.5, 104.5, 99.5}, -1, false, "~"},
	}
	for _, tt := range tests {
		c := Compare(base, tt.new, 0.05)
		if c.Significant != tt.significant || c.Delta != tt.delta || c.N1 != 6 || c.N2 != 6 {
			t.Errorf("%s: significant=%v delta=%q n=%d+%d, want %v %q 6+6", tt.name, c.Significant, c.Delta, c.N1, c.N2, tt.significant, tt.delta)
		}
		if tt.p >= 0 && !near(c.P, tt.p) {
			t.Errorf("%s: p = %v, want %v", tt.name, c.P, tt.p)
		}
		if tt.p < 0 && c.P <= 0.05 {
			t.Errorf("%s: p = %v, want not significant", tt.name, c.P)
		}
	}
	if c := Compare(base, []float64{110, 111, 112, 113, 114, 115}, 0.05); !near(c.Change, 112.5/102.5-1) {
		t.Errorf("Change = %v, want the ratio of medians minus one", c.Change)
	}
	// Three against three cannot reach p ≤ 0.05 however far apart.
	if c := Compare([]float64{1, 2, 3}, []float64{10, 11, 12}, 0.05); c.Significant || len(c.Warnings) == 0 {
		t.Errorf("3 vs 3: %+v, want not significant with a warning about sample size", c)
	}
	if c := Compare(nil, base, 0.05); c.Significant || c.Delta != "~" || c.P != 1 {
		t.Errorf("empty base: %+v", c)
	}
}

func TestValuesSkipsWarmups(t *testing.T) {
	samples := []Sample{
		{Metric: MetricTTFTMillis, Value: 99, Warmup: true, Rep: -1},
		{Metric: MetricTTFTMillis, Value: 1, Rep: 0},
		{Metric: MetricLoadMillis, Value: 5, Rep: 0},
		{Metric: MetricTTFTMillis, Value: 2, Rep: 1},
	}
	if got := Values(samples, MetricTTFTMillis); !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("Values = %v, want [1 2]", got)
	}
}

func ExampleSummarize() {
	tokensPerSecond := []float64{61.2, 62.5, 62.9, 62.1, 63.4, 62.4, 62.8}
	s := Summarize(tokensPerSecond, 0.95)
	fmt.Println("median", s.MedianCI(1))
	fmt.Println("mean", s.MeanSD(2))
	// Output:
	// median 62.5 [61.2, 63.4]
	// mean 62.47 ± 0.70
}

func ExampleCompare() {
	base := []float64{62.1, 62.5, 62.4, 62.9, 62.2, 62.6}
	slower := []float64{56.3, 56.0, 56.6, 56.2, 55.9, 56.4}
	c := Compare(base, slower, 0.05)
	fmt.Println(c.Delta, c.Significant)
	fmt.Println(Compare(base, base, 0.05).Delta)
	// Output:
	// -9.93% true
	// ~
}

func ExampleParseTest() {
	for _, name := range []string{"pp512", "tg128", "pp512+tg128", "ttft"} {
		test, err := ParseTest(name, 512)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: prompt %d, generate %d\n", test, test.Prompt, test.Generate)
	}
	// Output:
	// pp512: prompt 512, generate 0
	// tg128: prompt 0, generate 128
	// pp512+tg128: prompt 512, generate 128
	// ttft: prompt 512, generate 0
}
