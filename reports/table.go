// Package reports turns stored benchmark samples into what people read and what CI
// acts on: pivot tables in Markdown, CSV and JSON, benchstat-style comparisons with a
// regression gate, per-chip precision recommendations, and plots.
//
// Its opinions: every table says which statistic its cells show (the median with a
// distribution-free confidence interval by default, or mean ± sample standard
// deviation); warm-up samples never enter a statistic; a metric that was not run shows
// as "—" rather than disappearing; numbers that do not come from the hardware they
// name (fake-quantized precisions on the CPU engine) are marked in every output; and a
// table cell that pools different backends, runtimes or models says so. Statistics
// come from package bench; this package only selects, groups and formats.
package reports

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
)

// Statistic is what a table cell shows.
type Statistic string

// The statistics a table can show.
const (
	// Median shows the median with its distribution-free confidence interval.
	Median Statistic = "median"
	// Mean shows the mean ± the sample standard deviation.
	Mean Statistic = "mean"
)

// The metrics the headline cell combines, as in the original project's table:
// generation tok/s | LAMBADA ppl, acc.
const (
	metricGeneration = bench.MetricGenerationTokensPerSecond
	metricPPL        = bench.MetricPerplexity
	metricAcc        = bench.MetricAccuracy
	metricKLD        = bench.MetricKLDMean
)

// Options chooses a table's shape and statistic.
type Options struct {
	// Rows and Cols name bench.Cell fields by their JSON names ("model",
	// "precision", "soc", ...; "chip" is accepted for soc). Samples are grouped by
	// the values of these fields; fields in neither are pooled.
	Rows, Cols []string
	Statistic  Statistic
	// Confidence is the level of the median's interval; 0 means 0.95.
	Confidence float64
}

// Table is a pivot of samples: one Entry per row and column.
type Table struct {
	Rows, Cols []string // field names
	Statistic  Statistic
	Confidence float64
	// GenerationTest is the test whose generation_tokens_per_second the cells show
	// (a tgN test when there is one, since pp512+tg128 also measures generation).
	GenerationTest string
	RowKeys        [][]string // field values, one tuple per row
	ColKeys        [][]string
	Entries        [][]Entry // [row][col]
	Notes          []string  // footnotes: pooled cells, failures
}

// Entry is one table cell: the summaries of every metric measured for it.
type Entry struct {
	// Metrics holds a summary per test and metric, keyed "test/metric".
	Metrics map[string]MetricSummary
	// Generation, PPL and Acc are the headline numbers; nil where not run.
	Generation, PPL, Acc *MetricSummary
	// Simulated is set when any sample of the cell is simulated.
	Simulated bool
	// Failed lists the cells of this entry that failed and have no samples.
	Failed []Failure
}

// Failure is a test that could not be measured, with the reason the store recorded.
type Failure struct {
	Test   string `json:"test"`
	Reason string `json:"reason"`
}

// MetricSummary is the summary of one metric of one cell.
type MetricSummary struct {
	Test, Metric, Unit string
	bench.Summary
}

// failedTest reports whether a test of the entry failed; when test is "" any failure
// of a test whose name starts with prefix counts.
func (e Entry) failedTest(test, prefix string) bool {
	return slices.ContainsFunc(e.Failed, func(f Failure) bool {
		return f.Test == test || test == "" && strings.HasPrefix(f.Test, prefix)
	})
}

// Empty reports whether the entry has no numbers at all.
func (e Entry) Empty() bool { return len(e.Metrics) == 0 }

// Build groups samples into a table. Warm-up samples are dropped. failed lists cells
// that could not be measured (from store.Store.Cells); the ones without samples are
// shown as NA with their reason.
func Build(samples []bench.Sample, failed []store.CellState, opt Options) (*Table, error) {
	if opt.Statistic == "" {
		opt.Statistic = Median
	}
	if opt.Statistic != Median && opt.Statistic != Mean {
		return nil, fmt.Errorf("statistic %q: want median or mean", opt.Statistic)
	}
	if opt.Confidence == 0 {
		opt.Confidence = 0.95
	}
	if opt.Confidence <= 0 || opt.Confidence >= 1 {
		return nil, fmt.Errorf("confidence %v: want a level between 0 and 1", opt.Confidence)
	}
	t := &Table{Statistic: opt.Statistic, Confidence: opt.Confidence}
	var err error
	if t.Rows, err = canonicalFields(opt.Rows); err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	if t.Cols, err = canonicalFields(opt.Cols); err != nil {
		return nil, fmt.Errorf("cols: %w", err)
	}
	for _, f := range t.Rows {
		if slices.Contains(t.Cols, f) {
			return nil, fmt.Errorf("field %s is both a row and a column", f)
		}
	}

	var measured []bench.Sample
	for _, s := range samples {
		if !s.Warmup {
			measured = append(measured, s)
		}
	}
	t.GenerationTest = headlineTest(measured, metricGeneration)

	type key struct{ row, col string }
	groups := map[key][]bench.Sample{}
	rowKeys, colKeys := map[string][]string{}, map[string][]string{}
	add := func(c bench.Cell) key {
		r, cl := fieldValues(c, t.Rows), fieldValues(c, t.Cols)
		k := key{strings.Join(r, "\x00"), strings.Join(cl, "\x00")}
		rowKeys[k.row], colKeys[k.col] = r, cl
		return k
	}
	for _, s := range measured {
		k := add(s.Cell)
		groups[k] = append(groups[k], s)
	}
	failures := map[key][]store.CellState{}
	for _, f := range failed {
		if f.Status == store.CellFailed {
			k := add(f.Cell)
			failures[k] = append(failures[k], f)
		}
	}

	t.RowKeys = sortedKeys(rowKeys, t.Rows)
	t.ColKeys = sortedKeys(colKeys, t.Cols)
	t.Entries = make([][]Entry, len(t.RowKeys))
	for i, r := range t.RowKeys {
		t.Entries[i] = make([]Entry, len(t.ColKeys))
		for j, c := range t.ColKeys {
			k := key{strings.Join(r, "\x00"), strings.Join(c, "\x00")}
			e := t.entry(groups[k])
			for _, f := range failures[k] {
				// A cell that failed once and was measured on a later resume is not NA.
				if !slices.ContainsFunc(groups[k], func(s bench.Sample) bool { return s.Cell == f.Cell }) {
					e.Failed = append(e.Failed, Failure{Test: f.Test, Reason: f.Reason})
				}
			}
			t.Entries[i][j] = e
			if mixed := pooledFields(groups[k], append(slices.Clone(t.Rows), t.Cols...)); mixed != "" {
				t.Notes = append(t.Notes, fmt.Sprintf("%s pools samples with different %s.", t.label(r, c), mixed))
			}
		}
	}
	return t, nil
}

func canonicalFields(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		f, err := canonicalField(n)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("field %s given twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}

func sortedKeys(m map[string][]string, fields []string) [][]string {
	keys := slices.Collect(maps.Values(m))
	slices.SortFunc(keys, func(a, b []string) int { return compareKeys(fields, a, b) })
	return keys
}

// headlineTest picks the test whose values of metric stand for a cell: a test that
// measures only that (tg128 rather than pp512+tg128, which also records generation
// speed), the one with the most samples, else any test that measured the metric.
// Pooling two tests' values would mix different measurements.
func headlineTest(samples []bench.Sample, metric string) string {
	counts := map[string]int{}
	for _, s := range samples {
		if s.Metric == metric && !s.Warmup {
			counts[s.Test]++
		}
	}
	best, bestPure := "", false
	for _, test := range slices.Sorted(maps.Keys(counts)) {
		pure := !strings.Contains(test, "+")
		if best == "" || pure && !bestPure || pure == bestPure && counts[test] > counts[best] {
			best, bestPure = test, pure
		}
	}
	return best
}

// headlineSamples returns the measured samples of metric from its headline test.
func headlineSamples(samples []bench.Sample, metric string) []bench.Sample {
	test := headlineTest(samples, metric)
	var out []bench.Sample
	for _, s := range samples {
		if s.Metric == metric && s.Test == test && !s.Warmup {
			out = append(out, s)
		}
	}
	return out
}

func (t *Table) entry(samples []bench.Sample) Entry {
	e := Entry{Metrics: map[string]MetricSummary{}}
	values := map[string][]float64{}
	first := map[string]bench.Sample{} // test, metric and unit of each key
	for _, s := range samples {
		k := s.Test + "/" + s.Metric
		values[k] = append(values[k], s.Value)
		if _, ok := first[k]; !ok {
			first[k] = s
		}
		e.Simulated = e.Simulated || s.Simulated
	}
	for k, v := range values {
		s := first[k]
		e.Metrics[k] = MetricSummary{Test: s.Test, Metric: s.Metric, Unit: s.Unit, Summary: bench.Summarize(v, t.Confidence)}
	}
	if t.GenerationTest != "" {
		if m, ok := e.Metrics[t.GenerationTest+"/"+metricGeneration]; ok {
			e.Generation = &m
		}
	}
	e.PPL = e.quality(metricPPL)
	e.Acc = e.quality(metricAcc)
	return e
}

// quality returns the summary of a LAMBADA metric, whatever the test was called.
func (e Entry) quality(metric string) *MetricSummary {
	for _, k := range slices.Sorted(maps.Keys(e.Metrics)) {
		if m := e.Metrics[k]; m.Metric == metric {
			return &m
		}
	}
	return nil
}

// pooledFields names the identifying fields, other than the table's own, that take
// more than one value among samples: a median over two backends is not a measurement.
func pooledFields(samples []bench.Sample, shown []string) string {
	var mixed []string
	for _, f := range []string{"model", "model_hash", "precision", "backend", "soc", "htp_arch", "runtime", "perf_profile"} {
		if slices.Contains(shown, f) {
			continue
		}
		seen := map[string]bool{}
		for _, s := range samples {
			seen[fieldValue(s.Cell, f)] = true
		}
		if len(seen) > 1 {
			names := slices.Sorted(maps.Keys(seen))
			for i, n := range names {
				if n == "" {
					names[i] = "none"
				}
			}
			mixed = append(mixed, fmt.Sprintf("%s (%s)", f, strings.Join(names, ", ")))
		}
	}
	return strings.Join(mixed, ", ")
}

func (t *Table) label(row, col []string) string {
	parts := append(slices.Clone(row), col...)
	var nonEmpty []string
	for _, p := range parts {
		if p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	if len(nonEmpty) == 0 {
		return "The table"
	}
	return "Cell " + strings.Join(nonEmpty, " / ")
}
