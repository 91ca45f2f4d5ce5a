package bench

import (
	"fmt"
	"math"
	"slices"

	"github.com/montanaflynn/stats"
	"golang.org/x/perf/benchmath"
)

// Summary describes the measured (non-warm-up) values of one cell and one metric.
// Tables must say which statistic they show: the median with its distribution-free
// confidence interval is the headline, because benchmark timings are rarely normal;
// mean ± sample standard deviation is kept for readers used to llama-bench.
type Summary struct {
	N int

	// Median and its confidence interval [Lo, Hi] at level Confidence, from order
	// statistics (benchmath.AssumeNothing). With too few values for the level, Lo
	// or Hi (or both) is infinite and Warnings says how many values are needed.
	Median, Lo, Hi float64
	Confidence     float64

	// Mean and SD, the sample standard deviation (n−1 denominator); SD is NaN
	// below two values.
	Mean, SD float64

	Min, Max float64
	Warnings []string
}

// Summarize computes a Summary of values at the given confidence level (0.95 is
// the usual choice). It does not modify values. An empty slice gives N == 0 and
// NaN statistics.
func Summarize(values []float64, confidence float64) Summary {
	s := Summary{N: len(values), Confidence: confidence}
	if len(values) == 0 {
		nan := math.NaN()
		s.Median, s.Lo, s.Hi, s.Mean, s.SD, s.Min, s.Max = nan, nan, nan, nan, nan, nan, nan
		s.Warnings = []string{"no values"}
		return s
	}
	// benchmath sorts the slice it is given; the caller's order is theirs.
	sorted := slices.Clone(values)
	sample := benchmath.NewSample(sorted, &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(sample, confidence)
	s.Median, s.Lo, s.Hi = sum.Center, sum.Lo, sum.Hi
	for _, w := range sum.Warnings {
		s.Warnings = append(s.Warnings, w.Error())
	}
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Mean, _ = stats.Mean(sorted)
	s.SD = math.NaN()
	if len(sorted) >= 2 {
		s.SD, _ = stats.StandardDeviationSample(sorted)
	}
	return s
}

// MedianCI formats the median and its confidence interval as a table cell, e.g.
// "62.50 [61.90, 63.10]"; an interval that needs more values shows as [-∞, ∞].
func (s Summary) MedianCI(digits int) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.*f [%s, %s]", digits, s.Median, formatBound(s.Lo, digits), formatBound(s.Hi, digits))
}

// MeanSD formats the mean ± sample standard deviation as a table cell, e.g.
// "62.41 ± 0.52"; with one value the spread is unknown and shown as "± ?".
func (s Summary) MeanSD(digits int) string {
	if s.N == 0 {
		return "—"
	}
	if math.IsNaN(s.SD) {
		return fmt.Sprintf("%.*f ± ?", digits, s.Mean)
	}
	return fmt.Sprintf("%.*f ± %.*f", digits, s.Mean, digits, s.SD)
}

func formatBound(v float64, digits int) string {
	switch {
	case math.IsInf(v, -1):
		return "-∞"
	case math.IsInf(v, 1):
		return "∞"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

// Comparison is the outcome of a Mann–Whitney U test between a base and a new set
// of values, as benchstat reports it.
type Comparison struct {
	P      float64 // two-sided p-value
	N1, N2 int     // sizes of base and new
	Alpha  float64
	// Significant is P <= Alpha: the two sets differ in location.
	Significant bool
	// BaseMedian and NewMedian are the centers the delta is computed from.
	BaseMedian, NewMedian float64
	// Change is NewMedian/BaseMedian − 1 (0.05 = 5% higher), NaN when the base
	// median is zero. It is reported even when not significant; Delta is not.
	Change float64
	// Delta is benchstat's cell: "~" when not significant, else a signed percentage.
	Delta    string
	Warnings []string
}

// Compare tests whether new differs from base with the Mann–Whitney U test at level
// alpha (benchmath.AssumeNothing.Compare). Neither slice is modified.
func Compare(base, new []float64, alpha float64) Comparison {
	if len(base) == 0 || len(new) == 0 {
		return Comparison{P: 1, N1: len(base), N2: len(new), Alpha: alpha, Change: math.NaN(),
			BaseMedian: math.NaN(), NewMedian: math.NaN(), Delta: "~", Warnings: []string{"no values to compare"}}
	}
	th := benchmath.Thresholds{CompareAlpha: alpha}
	s1 := benchmath.NewSample(slices.Clone(base), &th)
	s2 := benchmath.NewSample(slices.Clone(new), &th)
	c := benchmath.AssumeNothing.Compare(s1, s2)
	out := Comparison{P: c.P, N1: c.N1, N2: c.N2, Alpha: alpha, Significant: c.P <= alpha}
	out.BaseMedian = benchmath.AssumeNothing.Summary(s1, 0.95).Center
	out.NewMedian = benchmath.AssumeNothing.Summary(s2, 0.95).Center
	out.Change = math.NaN()
	if out.BaseMedian != 0 {
		out.Change = out.NewMedian/out.BaseMedian - 1
	}
	out.Delta = c.FormatDelta(out.BaseMedian, out.NewMedian)
	for _, w := range c.Warnings {
		out.Warnings = append(out.Warnings, w.Error())
	}
	return out
}

// Values returns the values of the measured (non-warm-up) samples for one metric,
// in the order given: the only values statistics may use.
func Values(samples []Sample, metric string) []float64 {
	var v []float64
	for _, s := range samples {
		if !s.Warmup && s.Metric == metric {
			v = append(v, s.Value)
		}
	}
	return v
}
