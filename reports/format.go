package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/rwkvbench/rwkvbench/bench"
)

// simulatedNote explains the mark on simulated cells in every output.
const simulatedNote = "simulated on CPU: fake-quantized weights and activations run by the host engine, not a measurement of the named hardware"

// Markdown writes the table as GitHub-flavoured Markdown: a line saying what the
// cells show, the table, and footnotes.
func (t *Table) Markdown(w io.Writer) error {
	var b strings.Builder
	if t.perTest() {
		fmt.Fprintf(&b, "Cells: each test's main metric (ppN: prefill tok/s; tgN: generation tok/s; ppN+tgM: all tokens over the total time, tok/s; ttft, load: ms; lambada: ppl, acc). Timings show %s; LAMBADA numbers are single full passes. — = not run%s.\n\n",
			t.statisticText(), t.naLegend())
	} else {
		fmt.Fprintf(&b, "Cells: generation tok/s (%s) | LAMBADA ppl, acc. Speed shows %s; LAMBADA numbers are single full passes. — = not run%s.\n\n",
			orDash(t.GenerationTest), t.statisticText(), t.naLegend())
	}
	header := append(slices.Clone(t.Rows), t.colHeaders()...)
	if len(t.Rows) == 0 {
		header = append([]string{""}, t.colHeaders()...)
	}
	tbl := tablewriter.NewTable(&b,
		tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	tbl.Header(anySlice(escapeCells(header))...)
	simulated, failed := false, false
	var rangeNs []int // sizes of cells shown with a † interval
	for i, row := range t.RowKeys {
		line := slices.Clone(row)
		if len(t.Rows) == 0 {
			line = []string{"all"}
		}
		for _, e := range t.Entries[i] {
			line = append(line, t.cellText(e))
			simulated = simulated || e.Simulated
			failed = failed || len(e.Failed) > 0
			if t.Statistic == Median && e.Generation != nil && !finite(e.Generation.Lo, e.Generation.Hi) && e.Generation.N >= 2 {
				rangeNs = append(rangeNs, e.Generation.N)
			}
		}
		if err := tbl.Append(anySlice(escapeCells(line))...); err != nil {
			return fmt.Errorf("markdown table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("markdown table: %w", err)
	}
	var notes []string
	if len(rangeNs) > 0 {
		notes = append(notes, rangeNote(t.Confidence, rangeNs))
	}
	if simulated {
		notes = append(notes, "\\* "+simulatedNote+".")
	}
	if failed {
		for i, row := range t.RowKeys {
			for j, e := range t.Entries[i] {
				if len(e.Failed) > 0 {
					notes = append(notes, fmt.Sprintf("NA at %s: %s.", t.label(row, t.ColKeys[j]), failureText(e.Failed)))
				}
			}
		}
	}
	notes = append(notes, t.Notes...)
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// naLegend explains "NA" in the header line when the table has failed cells.
func (t *Table) naLegend() string {
	for _, row := range t.Entries {
		for _, e := range row {
			if len(e.Failed) > 0 {
				return "; NA = failed, the reason is in the notes"
			}
		}
	}
	return ""
}

func (t *Table) statisticText() string {
	if t.Statistic == Mean {
		return "mean ± sample standard deviation"
	}
	return fmt.Sprintf("median [%.0f%% confidence interval]", t.Confidence*100)
}

func (t *Table) colHeaders() []string {
	if len(t.Cols) == 0 {
		return []string{"result"}
	}
	out := make([]string, len(t.ColKeys))
	for i, k := range t.ColKeys {
		out[i] = strings.Join(nonEmpty(k), " ")
		if out[i] == "" {
			out[i] = "(none)"
		}
	}
	return out
}

// cellText renders an entry like the original project's table, with spread:
// "62.5 [61.9, 63.1] | 3.97, 67.8%".
func (t *Table) cellText(e Entry) string {
	if e.Empty() {
		if len(e.Failed) > 0 {
			return "NA"
		}
		return "—"
	}
	if t.perTest() && e.PPL == nil && e.Acc == nil {
		return t.mainMetricText(e)
	}
	speed := "—"
	switch {
	case e.Generation != nil:
		speed = t.spread(e.Generation.Summary)
	case e.failedTest(t.GenerationTest, "tg"):
		speed = "NA"
	}
	ppl, acc := "—", "—"
	if e.PPL != nil {
		ppl = t.quality(e.PPL.Summary, formatNumber)
	}
	if e.Acc != nil {
		acc = t.quality(e.Acc.Summary, func(v float64) string { return formatPercent(v, e.Acc.Unit) })
	}
	text := speed + " | " + ppl + ", " + acc
	switch {
	case e.Acc == nil && e.PPL == nil && e.failedTest(bench.TestLAMBADA, ""):
		text = speed + " | NA"
	case e.Acc == nil && e.PPL == nil:
		text = speed + " | —"
	case t.perTest(): // a lambada cell: no speed to show
		text = ppl + ", " + acc
	}
	if e.Simulated {
		text += " *"
	}
	return text
}

// perTest reports whether the table has a test row or column; its cells then show
// each test's own main metric, as llama-bench's rows do, instead of the combined
// "generation | LAMBADA" cell.
func (t *Table) perTest() bool {
	return slices.Contains(t.Rows, "test") || slices.Contains(t.Cols, "test")
}

// mainMetricText formats the metric a test exists to measure, with its unit.
func (t *Table) mainMetricText(e Entry) string {
	order := []string{bench.MetricTokensPerSecond, bench.MetricGenerationTokensPerSecond, bench.MetricPrefillTokensPerSecond,
		bench.MetricTTFTMillis, bench.MetricLoadMillis, bench.MetricPeakRSSBytes, bench.MetricPeakPSSBytes}
	var chosen *MetricSummary
	for _, metric := range order {
		for _, k := range slices.Sorted(maps.Keys(e.Metrics)) {
			if m := e.Metrics[k]; m.Metric == metric && chosen == nil {
				chosen = &m
			}
		}
	}
	if chosen == nil { // a metric this package has no rank for: show the first
		m := e.Metrics[slices.Sorted(maps.Keys(e.Metrics))[0]]
		chosen = &m
	}
	sum, unit := chosen.Summary, chosen.Unit
	if unit == "bytes" || strings.HasSuffix(chosen.Metric, "_bytes") {
		for _, p := range []*float64{&sum.Median, &sum.Lo, &sum.Hi, &sum.Mean, &sum.SD, &sum.Min, &sum.Max} {
			*p /= 1 << 20
		}
		unit = "MiB"
	}
	text := t.spread(sum)
	if unit != "" && unit != "tok/s" {
		text += " " + unit
	}
	if e.Simulated {
		text += " *"
	}
	return text
}

// spread formats a speed summary with the table's statistic.
func (t *Table) spread(s bench.Summary) string {
	if t.Statistic == Mean {
		if s.N < 2 || math.IsNaN(s.SD) {
			return fmt.Sprintf("%s (n=%d)", formatNumber(s.Mean), s.N)
		}
		return fmt.Sprintf("%s ±%s", formatNumber(s.Mean), formatNumber(s.SD))
	}
	return medianText(s)
}

// medianText formats a median with its confidence interval. With too few values
// for the requested level, it shows [min, max] marked †: the widest distribution-free
// interval, whose confidence is lower (see rangeNote).
func medianText(s bench.Summary) string {
	switch {
	case s.N == 0:
		return "—"
	case finite(s.Lo, s.Hi):
		return fmt.Sprintf("%s [%s, %s]", formatNumber(s.Median), formatNumber(s.Lo), formatNumber(s.Hi))
	case s.N >= 2:
		return fmt.Sprintf("%s [%s, %s]†", formatNumber(s.Median), formatNumber(s.Min), formatNumber(s.Max))
	}
	return fmt.Sprintf("%s (n=%d)", formatNumber(s.Median), s.N)
}

// rangeNote explains the † intervals: [min, max] of n values covers the median with
// probability 1 − 2·0.5ⁿ, whatever the distribution.
func rangeNote(confidence float64, ns []int) string {
	slices.Sort(ns)
	ns = slices.Compact(ns)
	var levels []string
	for _, n := range ns {
		levels = append(levels, fmt.Sprintf("%.1f%% for n=%d", 100*(1-2*math.Pow(0.5, float64(n))), n))
	}
	return fmt.Sprintf("† too few repetitions for a %.0f%% interval of the median; [min, max] is shown, which covers the median with confidence 1 − 2·0.5ⁿ (%s).",
		confidence*100, strings.Join(levels, ", "))
}

// quality formats a LAMBADA number: a single pass shows plainly, repeated passes
// with the table's statistic.
func (t *Table) quality(s bench.Summary, format func(float64) string) string {
	center := s.Median
	if t.Statistic == Mean {
		center = s.Mean
	}
	if s.N == 1 {
		return format(center)
	}
	if t.Statistic == Mean && !math.IsNaN(s.SD) {
		return format(s.Mean) + " ±" + format(s.SD)
	}
	return format(center) + fmt.Sprintf(" (n=%d)", s.N)
}

// formatNumber keeps three significant figures or one decimal, whichever is more:
// 142.3, 62.5, 3.97.
func formatNumber(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case a >= 1e6:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 10 || a == 0:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.01:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// formatPercent shows an accuracy as a percentage; values without a "%" unit are
// fractions.
func formatPercent(v float64, unit string) string {
	if unit != "%" {
		v *= 100
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func failureText(failures []Failure) string {
	var parts []string
	for _, f := range failures {
		parts = append(parts, f.Test+": "+f.Reason)
	}
	return strings.Join(parts, "; ")
}

// escapeCells keeps a '|' inside a cell from ending it in GitHub Markdown.
func escapeCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return out
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// CSV writes the table in long form for spreadsheets and scripts: one line per
// table cell, test and metric, with numeric columns (n, median, CI, mean, sd, min,
// max) rather than formatted text. Empty fields mean "not available".
func (t *Table) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := append(append(slices.Clone(t.Rows), t.Cols...),
		"test", "metric", "unit", "n", "median", "ci_low", "ci_high", "confidence", "mean", "sd", "min", "max", "simulated", "status")
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	for i, row := range t.RowKeys {
		for j, col := range t.ColKeys {
			e := t.Entries[i][j]
			keys := append(slices.Clone(row), col...)
			blank := func(test, status string) []string {
				return append(slices.Clone(keys), test, "", "", "", "", "", "", "", "", "", "", "", strconv.FormatBool(e.Simulated), status)
			}
			if e.Empty() && len(e.Failed) == 0 {
				if err := cw.Write(blank("", "not run")); err != nil {
					return fmt.Errorf("csv: %w", err)
				}
			}
			for _, f := range e.Failed {
				if err := cw.Write(blank(f.Test, "failed: "+f.Reason)); err != nil {
					return fmt.Errorf("csv: %w", err)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(e.Metrics)) {
				m := e.Metrics[name]
				line := append(slices.Clone(keys), m.Test, m.Metric, m.Unit, strconv.Itoa(m.N),
					csvNumber(m.Median), csvNumber(ciBound(m.Summary, m.Lo)), csvNumber(ciBound(m.Summary, m.Hi)), csvNumber(m.Confidence),
					csvNumber(m.Mean), csvNumber(m.SD), csvNumber(m.Min), csvNumber(m.Max),
					strconv.FormatBool(e.Simulated), "ok")
				if err := cw.Write(line); err != nil {
					return fmt.Errorf("csv: %w", err)
				}
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

func csvNumber(v float64) string {
	if !finite(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', significantDigits, 64)
}

// significantDigits bounds the digits machine-readable outputs carry: statistics
// of timings mean nothing at 1e-16, and the last bits differ between platforms
// (arm64 fuses multiply-adds), which would make outputs differ for equal inputs.
const significantDigits = 10

func roundSignificant(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', significantDigits, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// JSON writes the table as one JSON document. Non-finite statistics (a CI that
// needs more repetitions, the SD of one value) are null.
func (t *Table) JSON(w io.Writer) error {
	type metricJSON struct {
		Test       string   `json:"test"`
		Metric     string   `json:"metric"`
		Unit       string   `json:"unit"`
		N          int      `json:"n"`
		Median     *float64 `json:"median"`
		CILow      *float64 `json:"ci_low"`
		CIHigh     *float64 `json:"ci_high"`
		Confidence float64  `json:"confidence"`
		Mean       *float64 `json:"mean"`
		SD         *float64 `json:"sd"`
		Min        *float64 `json:"min"`
		Max        *float64 `json:"max"`
		Warnings   []string `json:"warnings,omitempty"`
	}
	type entryJSON struct {
		Row       map[string]string `json:"row"`
		Col       map[string]string `json:"col"`
		Text      string            `json:"text"` // the Markdown cell
		Simulated bool              `json:"simulated"`
		Failed    []Failure         `json:"failed,omitempty"`
		Metrics   []metricJSON      `json:"metrics"`
	}
	doc := struct {
		Statistic      Statistic   `json:"statistic"`
		Confidence     float64     `json:"confidence"`
		Rows           []string    `json:"rows"`
		Cols           []string    `json:"cols"`
		GenerationTest string      `json:"generation_test"`
		SimulatedNote  string      `json:"simulated_note"`
		Entries        []entryJSON `json:"entries"`
		Notes          []string    `json:"notes"`
	}{t.Statistic, t.Confidence, nonNil(t.Rows), nonNil(t.Cols), t.GenerationTest, simulatedNote, []entryJSON{}, nonNil(t.Notes)}
	for i, row := range t.RowKeys {
		for j, col := range t.ColKeys {
			e := t.Entries[i][j]
			ej := entryJSON{Row: zipMap(t.Rows, row), Col: zipMap(t.Cols, col), Text: t.cellText(e),
				Simulated: e.Simulated, Failed: e.Failed, Metrics: []metricJSON{}}
			for _, name := range slices.Sorted(maps.Keys(e.Metrics)) {
				m := e.Metrics[name]
				ej.Metrics = append(ej.Metrics, metricJSON{Test: m.Test, Metric: m.Metric, Unit: m.Unit, N: m.N,
					Median: jsonNumber(m.Median), CILow: jsonNumber(ciBound(m.Summary, m.Lo)), CIHigh: jsonNumber(ciBound(m.Summary, m.Hi)), Confidence: m.Confidence,
					Mean: jsonNumber(m.Mean), SD: jsonNumber(m.SD), Min: jsonNumber(m.Min), Max: jsonNumber(m.Max), Warnings: m.Warnings})
			}
			doc.Entries = append(doc.Entries, ej)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// ciBound returns a bound of the median's interval, or NaN (shown as empty or null)
// unless both bounds are finite: a half-open interval from too few values would read
// as a real one.
func ciBound(s bench.Summary, bound float64) float64 {
	if !finite(s.Lo, s.Hi) {
		return math.NaN()
	}
	return bound
}

func jsonNumber(v float64) *float64 {
	if !finite(v) {
		return nil
	}
	v = roundSignificant(v)
	return &v
}

func zipMap(keys, values []string) map[string]string {
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = values[i]
	}
	return m
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
