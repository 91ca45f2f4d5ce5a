package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/rwkvbench/rwkvbench/bench"
)

// CompareOptions sets what Compare tests and what counts as a regression.
type CompareOptions struct {
	// Metrics to compare; empty means generation_tokens_per_second.
	Metrics []string
	// Alpha is the significance level of the Mann–Whitney U test; 0 means 0.05.
	Alpha float64
	// Threshold is the smallest relative change, in the bad direction, that counts
	// as a regression (0.03 = 3%); a significant change smaller than this is noise
	// CI should not fail on.
	Threshold float64
	// Confidence is the level of the medians' intervals; 0 means 0.95.
	Confidence float64
}

// Comparison is the benchstat-style comparison of two sets of samples.
type Comparison struct {
	Options CompareOptions
	// Axis names the cell fields that tell base from new (for example precision
	// when comparing fp16 with a16w8); they are left out when matching cells.
	Axis   []string
	Deltas []Delta
	// BaseOnly and NewOnly list cells measured on one side only.
	BaseOnly, NewOnly []string
}

// Delta compares one cell and metric between base and new.
type Delta struct {
	Label          string // the cell, by the fields that vary across the comparison
	Cell           bench.Cell
	Metric         string
	Base, New      bench.Summary
	Test           bench.Comparison
	HigherIsBetter bool
	// Regression is a significant change in the bad direction beyond the threshold;
	// Improvement the same in the good direction.
	Regression, Improvement bool
	Simulated               bool
}

// Compare matches the cells of base and new and tests each metric for a change.
// Warm-up samples are dropped. It is an error to compare a metric whose direction
// (higher or lower is better) is unknown.
func Compare(base, new []bench.Sample, opt CompareOptions) (*Comparison, error) {
	if len(opt.Metrics) == 0 {
		opt.Metrics = []string{metricGeneration}
	}
	if opt.Alpha == 0 {
		opt.Alpha = 0.05
	}
	if opt.Confidence == 0 {
		opt.Confidence = 0.95
	}
	if opt.Alpha <= 0 || opt.Alpha >= 1 {
		return nil, fmt.Errorf("alpha %v: want a level between 0 and 1", opt.Alpha)
	}
	if opt.Threshold < 0 || math.IsNaN(opt.Threshold) {
		return nil, fmt.Errorf("threshold %v: want a non-negative fraction", opt.Threshold)
	}
	for _, m := range opt.Metrics {
		if _, known := higherIsBetter(m); !known {
			return nil, fmt.Errorf("metric %q: direction unknown, cannot tell a regression (known: %s)", m, strings.Join(knownMetrics(), ", "))
		}
	}
	base, new = measuredOnly(base, opt.Metrics), measuredOnly(new, opt.Metrics)
	if len(base) == 0 {
		return nil, fmt.Errorf("base: no measured samples of %s", strings.Join(opt.Metrics, ", "))
	}
	if len(new) == 0 {
		return nil, fmt.Errorf("new: no measured samples of %s", strings.Join(opt.Metrics, ", "))
	}
	c := &Comparison{Options: opt, Axis: axisFields(base, new)}
	keyFields := slices.DeleteFunc(slices.Clone(cellFields()), func(f string) bool {
		return f == "device" || slices.Contains(c.Axis, f)
	})

	type key struct {
		cell   string
		metric string
	}
	group := func(samples []bench.Sample) (map[key][]bench.Sample, map[key]bench.Cell) {
		g, cells := map[key][]bench.Sample{}, map[key]bench.Cell{}
		for _, s := range samples {
			k := key{strings.Join(fieldValues(s.Cell, keyFields), "\x00"), s.Metric}
			g[k] = append(g[k], s)
			cells[k] = s.Cell
		}
		return g, cells
	}
	baseGroups, baseCells := group(base)
	newGroups, newCells := group(new)

	var keys []key
	for k := range baseGroups {
		if _, ok := newGroups[k]; ok {
			keys = append(keys, k)
		} else {
			c.BaseOnly = append(c.BaseOnly, cellLabel(baseCells[k], keyFields, nil)+" "+k.metric)
		}
	}
	for k := range newGroups {
		if _, ok := baseGroups[k]; !ok {
			c.NewOnly = append(c.NewOnly, cellLabel(newCells[k], keyFields, nil)+" "+k.metric)
		}
	}
	slices.Sort(c.BaseOnly)
	slices.Sort(c.NewOnly)
	labelFields := distinguishingFields(keyFields, slices.Collect(maps.Values(baseCells)))
	slices.SortFunc(keys, func(a, b key) int {
		if d := compareKeys(keyFields, fieldValues(baseCells[a], keyFields), fieldValues(baseCells[b], keyFields)); d != 0 {
			return d
		}
		return strings.Compare(a.metric, b.metric)
	})
	for _, k := range keys {
		b, n := values(baseGroups[k]), values(newGroups[k])
		higher, _ := higherIsBetter(k.metric)
		d := Delta{Label: cellLabel(baseCells[k], labelFields, []string{"test"}), Cell: baseCells[k], Metric: k.metric,
			Base: bench.Summarize(b, opt.Confidence), New: bench.Summarize(n, opt.Confidence),
			Test: bench.Compare(b, n, opt.Alpha), HigherIsBetter: higher,
			Simulated: anySimulated(baseGroups[k]) || anySimulated(newGroups[k])}
		if d.Test.Significant && !math.IsNaN(d.Test.Change) {
			worse := (d.Test.Change < 0) == higher
			beyond := math.Abs(d.Test.Change) > opt.Threshold
			d.Regression = worse && beyond
			d.Improvement = !worse && beyond
		}
		c.Deltas = append(c.Deltas, d)
	}
	if len(c.Deltas) == 0 {
		return nil, fmt.Errorf("no cell was measured in both base and new (base has %s; new has %s)",
			strings.Join(c.BaseOnly, ", "), strings.Join(c.NewOnly, ", "))
	}
	return c, nil
}

// Regressions returns the deltas that are significant regressions beyond the threshold.
func (c *Comparison) Regressions() []Delta {
	var out []Delta
	for _, d := range c.Deltas {
		if d.Regression {
			out = append(out, d)
		}
	}
	return out
}

func knownMetrics() []string {
	var known []string
	for _, m := range []string{bench.MetricPrefillTokensPerSecond, bench.MetricGenerationTokensPerSecond,
		bench.MetricTokensPerSecond, bench.MetricTTFTMillis, bench.MetricLoadMillis, bench.MetricPeakRSSBytes,
		bench.MetricPeakPSSBytes, bench.MetricPerplexity, bench.MetricAccuracy, bench.MetricKLDMean, bench.MetricTop1Agreement} {
		if _, ok := higherIsBetter(m); ok {
			known = append(known, m)
		}
	}
	return known
}

func measuredOnly(samples []bench.Sample, metrics []string) []bench.Sample {
	var out []bench.Sample
	for _, s := range samples {
		if !s.Warmup && slices.Contains(metrics, s.Metric) {
			out = append(out, s)
		}
	}
	return out
}

func values(samples []bench.Sample) []float64 {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = s.Value
	}
	return v
}

func anySimulated(samples []bench.Sample) bool {
	return slices.ContainsFunc(samples, func(s bench.Sample) bool { return s.Simulated })
}

// axisFields returns the cell fields with one value throughout base and another one
// throughout new: what the user chose to compare, so cells match across it.
func axisFields(base, new []bench.Sample) []string {
	var axis []string
	for _, f := range cellFields() {
		if f == "test" {
			continue
		}
		b, n := distinct(base, f), distinct(new, f)
		if len(b) == 1 && len(n) == 1 && b[0] != n[0] {
			axis = append(axis, f)
		}
	}
	return axis
}

func distinct(samples []bench.Sample, field string) []string {
	seen := map[string]bool{}
	for _, s := range samples {
		seen[fieldValue(s.Cell, field)] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// distinguishingFields picks, in the order people name cells (model, precision,
// chip, ...), the fields a label needs so that no two cells read alike: "a16w4
// SM8650 tg128" rather than every field of the cell.
func distinguishingFields(fields []string, cells []bench.Cell) []string {
	order := []string{"model", "precision", "soc", "backend", "test", "device", "htp_arch", "runtime", "perf_profile", "model_hash"}
	var chosen []string
	distinct := func(fs []string) int {
		seen := map[string]bool{}
		for _, c := range cells {
			seen[strings.Join(fieldValues(c, fs), "\x00")] = true
		}
		return len(seen)
	}
	all := distinct(fields)
	for _, f := range order {
		if !slices.Contains(fields, f) || distinct(chosen) == all {
			continue
		}
		// A field that does not split any cells further adds only noise.
		if distinct(append(slices.Clone(chosen), f)) > distinct(chosen) {
			chosen = append(chosen, f)
		}
	}
	return chosen
}

func cellLabel(c bench.Cell, fields, always []string) string {
	var parts []string
	for _, f := range cellFields() {
		if slices.Contains(fields, f) || slices.Contains(always, f) {
			if v := fieldValue(c, f); v != "" {
				parts = append(parts, v)
			}
		}
	}
	return strings.Join(parts, " ")
}

// Markdown writes the comparison as a benchstat-style table: each cell's base and new
// medians with their intervals, the change, the p-value, and "~" where the change
// is not significant.
func (c *Comparison) Markdown(w io.Writer) error {
	var b strings.Builder
	axis := "same cells"
	if len(c.Axis) > 0 {
		axis = "matched across " + strings.Join(c.Axis, ", ")
	}
	fmt.Fprintf(&b, "Base vs new (%s): median [%.0f%% CI]; delta when the Mann–Whitney U test is significant at α=%g, else ~. Regression gate: worse by more than %s.\n\n",
		axis, c.Options.Confidence*100, c.Options.Alpha, formatPct(c.Options.Threshold))
	tbl := tablewriter.NewTable(&b,
		tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	tbl.Header("cell", "metric", "base", "new", "delta", "p", "n", "verdict")
	simulated := false
	for _, d := range c.Deltas {
		verdict := ""
		switch {
		case d.Regression:
			verdict = "REGRESSION"
		case d.Improvement:
			verdict = "improvement"
		}
		label := d.Label
		if d.Simulated {
			label += " *"
			simulated = true
		}
		row := []string{label, d.Metric, medianText(d.Base), medianText(d.New), d.Test.Delta,
			fmt.Sprintf("p=%.3f", d.Test.P), fmt.Sprintf("%d+%d", d.Test.N1, d.Test.N2), verdict}
		if err := tbl.Append(anySlice(escapeCells(row))...); err != nil {
			return fmt.Errorf("compare table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("compare table: %w", err)
	}
	var notes []string
	var rangeNs []int
	for _, d := range c.Deltas {
		for _, s := range []bench.Summary{d.Base, d.New} {
			if s.N >= 2 && !finite(s.Lo, s.Hi) {
				rangeNs = append(rangeNs, s.N)
			}
		}
	}
	if len(rangeNs) > 0 {
		notes = append(notes, rangeNote(c.Options.Confidence, rangeNs))
	}
	if simulated {
		notes = append(notes, "\\* "+simulatedNote+".")
	}
	if len(c.BaseOnly) > 0 {
		notes = append(notes, "only in base: "+strings.Join(c.BaseOnly, "; "))
	}
	if len(c.NewOnly) > 0 {
		notes = append(notes, "only in new: "+strings.Join(c.NewOnly, "; "))
	}
	regs := c.Regressions()
	if len(regs) == 0 {
		notes = append(notes, fmt.Sprintf("no significant regression beyond %s.", formatPct(c.Options.Threshold)))
	} else {
		var names []string
		for _, d := range regs {
			names = append(names, fmt.Sprintf("%s %s %+.1f%%", d.Label, d.Metric, d.Test.Change*100))
		}
		notes = append(notes, fmt.Sprintf("%d significant regression(s) beyond %s: %s.", len(regs), formatPct(c.Options.Threshold), strings.Join(names, "; ")))
	}
	b.WriteString("\n")
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON writes the comparison as one JSON document.
func (c *Comparison) JSON(w io.Writer) error {
	type side struct {
		N      int      `json:"n"`
		Median *float64 `json:"median"`
		CILow  *float64 `json:"ci_low"`
		CIHigh *float64 `json:"ci_high"`
	}
	type deltaJSON struct {
		Cell        bench.Cell `json:"cell"`
		Label       string     `json:"label"`
		Metric      string     `json:"metric"`
		Base        side       `json:"base"`
		New         side       `json:"new"`
		Change      *float64   `json:"change"` // relative, 0.05 = +5%
		Delta       string     `json:"delta"`
		P           float64    `json:"p"`
		Significant bool       `json:"significant"`
		Regression  bool       `json:"regression"`
		Improvement bool       `json:"improvement"`
		Simulated   bool       `json:"simulated"`
	}
	toSide := func(s bench.Summary) side {
		return side{s.N, jsonNumber(s.Median), jsonNumber(ciBound(s, s.Lo)), jsonNumber(ciBound(s, s.Hi))}
	}
	doc := struct {
		Alpha     float64     `json:"alpha"`
		Threshold float64     `json:"threshold"`
		Axis      []string    `json:"axis"`
		Deltas    []deltaJSON `json:"deltas"`
		BaseOnly  []string    `json:"base_only"`
		NewOnly   []string    `json:"new_only"`
	}{c.Options.Alpha, c.Options.Threshold, nonNil(c.Axis), nil, nonNil(c.BaseOnly), nonNil(c.NewOnly)}
	for _, d := range c.Deltas {
		doc.Deltas = append(doc.Deltas, deltaJSON{d.Cell, d.Label, d.Metric, toSide(d.Base), toSide(d.New),
			jsonNumber(d.Test.Change), d.Test.Delta, d.Test.P, d.Test.Significant, d.Regression, d.Improvement, d.Simulated})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

func formatPct(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f*100), "0"), ".") + "%"
}
