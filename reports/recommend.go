package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/rwkvbench/rwkvbench/bench"
)

// RecommendOptions bounds the accuracy a faster precision may cost.
type RecommendOptions struct {
	// Reference is the precision losses are measured against (fp16 or fp32).
	Reference string
	// MaxAccDrop is the largest LAMBADA accuracy loss accepted, in percentage points.
	MaxAccDrop float64
	// MaxKLD is the largest mean KL divergence from the reference accepted; a
	// negative value turns the check off (for results without KLD).
	MaxKLD float64
	// SpeedMetric ranks precisions; empty means generation_tokens_per_second. Its
	// values come from one test (tg128 rather than pp512+tg128; see Table.GenerationTest).
	SpeedMetric string
}

// Recommendation names the precision to use for one model on one chip.
type Recommendation struct {
	Model, SoC string
	// Choice is the fastest precision within the bounds; empty when none is.
	Choice     string
	Candidates []Candidate // fastest first
}

// Candidate is one precision weighed for a recommendation.
type Candidate struct {
	Precision string
	// Speed is the median of the speed metric; NaN when not measured.
	Speed float64
	// Acc is the LAMBADA accuracy in percent and AccDrop the loss against the
	// reference in points. KLD is the stored mean KL divergence (measured against
	// whatever reference the eval used) and KLDDelta its increase over the
	// reference precision's own. NaN when not measured.
	Acc, AccDrop, KLD, KLDDelta float64
	Simulated                   bool
	Accepted                    bool
	Reason                      string // why it was rejected, or what it was accepted on
}

// Recommend picks, for every model and chip (SoC), the fastest precision whose
// accuracy loss against the reference precision on the same chip stays within the
// bounds. Every rejected precision carries its reason. Warm-up samples are dropped.
func Recommend(samples []bench.Sample, opt RecommendOptions) ([]Recommendation, error) {
	if opt.Reference == "" {
		opt.Reference = "fp16"
	}
	if opt.SpeedMetric == "" {
		opt.SpeedMetric = metricGeneration
	}
	if higher, known := higherIsBetter(opt.SpeedMetric); !known || !higher {
		return nil, fmt.Errorf("speed metric %q: want a throughput (higher is better), such as %s", opt.SpeedMetric, metricGeneration)
	}
	if opt.MaxAccDrop < 0 || math.IsNaN(opt.MaxAccDrop) {
		return nil, fmt.Errorf("max accuracy drop %v: want a non-negative number of points", opt.MaxAccDrop)
	}
	type chipKey struct{ model, soc string }
	type precisionData struct {
		speed, acc, kld []float64
		accUnit         string
		simulated       bool
	}
	data := map[chipKey]map[string]*precisionData{}
	speedTest := headlineTest(samples, opt.SpeedMetric)
	for _, s := range samples {
		if s.Warmup || s.Metric == opt.SpeedMetric && s.Test != speedTest {
			continue
		}
		k := chipKey{s.Model, s.SoC}
		if data[k] == nil {
			data[k] = map[string]*precisionData{}
		}
		p := data[k][s.Precision]
		if p == nil {
			p = &precisionData{}
			data[k][s.Precision] = p
		}
		switch s.Metric {
		case opt.SpeedMetric:
			p.speed = append(p.speed, s.Value)
		case metricAcc:
			p.acc = append(p.acc, s.Value)
			p.accUnit = s.Unit
		case metricKLD:
			p.kld = append(p.kld, s.Value)
		default:
			continue
		}
		p.simulated = p.simulated || s.Simulated
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("no measured samples")
	}
	median := func(v []float64) float64 {
		if len(v) == 0 {
			return math.NaN()
		}
		return bench.Summarize(v, 0.95).Median
	}
	percent := func(p *precisionData) float64 {
		a := median(p.acc)
		if p.accUnit != "%" {
			a *= 100
		}
		return a
	}

	var recs []Recommendation
	for k, precisions := range data {
		rec := Recommendation{Model: k.model, SoC: k.soc}
		// Without a kld_mean of its own, the reference is taken to be what the
		// stored divergences were measured against.
		refAcc, refKLD := math.NaN(), 0.0
		if ref, ok := precisions[opt.Reference]; ok {
			refAcc = percent(ref)
			if k := median(ref.kld); !math.IsNaN(k) {
				refKLD = k
			}
		}
		// The stored divergences are measured against one run of the group (fp32 on
		// the CPU engine): when exactly one precision has accuracy but no kld_mean
		// while others have one, it is that reference, and its divergence from
		// itself is zero.
		kldSource := ""
		for name, p := range precisions {
			if len(p.kld) > 0 || len(p.acc) == 0 {
				continue
			}
			if kldSource != "" {
				kldSource = ""
				break
			}
			kldSource = name
		}
		for name, p := range precisions {
			c := Candidate{Precision: name, Speed: median(p.speed), Acc: percent(p), KLD: median(p.kld), Simulated: p.simulated}
			if name == kldSource && len(precisions) > 1 {
				c.KLD = 0
			}
			c.AccDrop, c.KLDDelta = refAcc-c.Acc, c.KLD-refKLD
			if name == opt.Reference {
				c.AccDrop, c.KLDDelta = 0, 0 // the reference loses nothing against itself
			}
			c.Accepted, c.Reason = judge(c, name == opt.Reference, refAcc, opt)
			rec.Candidates = append(rec.Candidates, c)
		}
		slices.SortFunc(rec.Candidates, func(a, b Candidate) int {
			switch {
			case math.IsNaN(a.Speed) != math.IsNaN(b.Speed):
				if math.IsNaN(a.Speed) {
					return 1
				}
				return -1
			case a.Speed != b.Speed && !math.IsNaN(a.Speed):
				if a.Speed > b.Speed {
					return -1
				}
				return 1
			}
			return precisionRank(a.Precision) - precisionRank(b.Precision)
		})
		for _, c := range rec.Candidates {
			if c.Accepted {
				rec.Choice = c.Precision
				break
			}
		}
		recs = append(recs, rec)
	}
	slices.SortFunc(recs, func(a, b Recommendation) int {
		return compareKeys([]string{"model", "soc"}, []string{a.Model, a.SoC}, []string{b.Model, b.SoC})
	})
	return recs, nil
}

// judge decides one candidate; the reason says which number decided it.
func judge(c Candidate, isRef bool, refAcc float64, opt RecommendOptions) (bool, string) {
	if math.IsNaN(c.Speed) {
		return false, fmt.Sprintf("no %s measured", opt.SpeedMetric)
	}
	if isRef {
		return true, "reference precision"
	}
	switch {
	case math.IsNaN(refAcc):
		return false, fmt.Sprintf("reference %s has no LAMBADA acc on this chip to measure the loss against", opt.Reference)
	case math.IsNaN(c.Acc):
		return false, "no LAMBADA acc measured"
	case c.AccDrop > opt.MaxAccDrop:
		return false, fmt.Sprintf("Δacc %.2f points > %.2f", c.AccDrop, opt.MaxAccDrop)
	}
	if opt.MaxKLD >= 0 {
		switch {
		case math.IsNaN(c.KLDDelta):
			return false, fmt.Sprintf("no kld_mean measured (bound %g; a negative --max-kld skips the check)", opt.MaxKLD)
		case c.KLDDelta > opt.MaxKLD:
			return false, fmt.Sprintf("ΔKLD %.3g > %g", c.KLDDelta, opt.MaxKLD)
		}
		return true, fmt.Sprintf("Δacc %.2f points ≤ %.2f, ΔKLD %.3g ≤ %g", c.AccDrop, opt.MaxAccDrop, c.KLDDelta, opt.MaxKLD)
	}
	return true, fmt.Sprintf("Δacc %.2f points ≤ %.2f (KLD not checked)", c.AccDrop, opt.MaxAccDrop)
}

// WriteRecommendationsMarkdown writes one line per model and chip with the choice,
// then every candidate with its numbers and reason.
func WriteRecommendationsMarkdown(w io.Writer, recs []Recommendation, opt RecommendOptions) error {
	var b strings.Builder
	kld := fmt.Sprintf("ΔKLD ≤ %g", opt.MaxKLD)
	if opt.MaxKLD < 0 {
		kld = "KLD not checked"
	}
	fmt.Fprintf(&b, "Fastest precision per chip with LAMBADA Δacc ≤ %.2f points and %s against %s on the same chip; speed is the median %s.\n\n",
		opt.MaxAccDrop, kld, orDefault(opt.Reference, "fp16"), orDefault(opt.SpeedMetric, metricGeneration))
	tbl := tablewriter.NewTable(&b,
		tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	tbl.Header("model", "chip", "precision", "tok/s", "acc", "Δacc", "KLD", "ΔKLD", "verdict")
	simulated := false
	for _, r := range recs {
		for _, c := range r.Candidates {
			verdict := "rejected: " + c.Reason
			switch {
			case c.Precision == r.Choice:
				verdict = "**recommended** (" + c.Reason + ")"
			case c.Accepted:
				verdict = "within bounds, slower (" + c.Reason + ")"
			}
			p := c.Precision
			if c.Simulated {
				p += " *"
				simulated = true
			}
			row := []string{r.Model, r.SoC, p, formatNumber(c.Speed), pctOrDash(c.Acc), pointsOrDash(c.AccDrop), formatKLD(c.KLD), formatKLD(c.KLDDelta), verdict}
			if err := tbl.Append(anySlice(escapeCells(row))...); err != nil {
				return fmt.Errorf("recommend table: %w", err)
			}
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("recommend table: %w", err)
	}
	b.WriteString("\n")
	for _, r := range recs {
		if r.Choice == "" {
			fmt.Fprintf(&b, "- %s on %s: no precision within the bounds.\n", r.Model, orDefault(r.SoC, "(no chip)"))
		} else {
			fmt.Fprintf(&b, "- %s on %s: use **%s**.\n", r.Model, orDefault(r.SoC, "(no chip)"), r.Choice)
		}
	}
	if simulated {
		fmt.Fprintf(&b, "- \\* %s.\n", simulatedNote)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRecommendationsJSON writes the recommendations as one JSON document.
func WriteRecommendationsJSON(w io.Writer, recs []Recommendation, opt RecommendOptions) error {
	type candJSON struct {
		Precision string   `json:"precision"`
		Speed     *float64 `json:"speed"`
		Acc       *float64 `json:"acc_percent"`
		AccDrop   *float64 `json:"acc_drop_points"`
		KLD       *float64 `json:"kld_mean"`
		KLDDelta  *float64 `json:"kld_delta"`
		Simulated bool     `json:"simulated"`
		Accepted  bool     `json:"accepted"`
		Reason    string   `json:"reason"`
	}
	type recJSON struct {
		Model      string     `json:"model"`
		SoC        string     `json:"soc"`
		Choice     *string    `json:"choice"` // null: no precision within the bounds
		Candidates []candJSON `json:"candidates"`
	}
	doc := struct {
		Reference       string    `json:"reference"`
		MaxAccDrop      float64   `json:"max_acc_drop_points"`
		MaxKLD          *float64  `json:"max_kld"`
		SpeedMetric     string    `json:"speed_metric"`
		Recommendations []recJSON `json:"recommendations"`
	}{orDefault(opt.Reference, "fp16"), opt.MaxAccDrop, nil, orDefault(opt.SpeedMetric, metricGeneration), []recJSON{}}
	if opt.MaxKLD >= 0 {
		doc.MaxKLD = &opt.MaxKLD
	}
	for _, r := range recs {
		rj := recJSON{Model: r.Model, SoC: r.SoC}
		if r.Choice != "" {
			rj.Choice = &r.Choice
		}
		for _, c := range r.Candidates {
			rj.Candidates = append(rj.Candidates, candJSON{c.Precision, jsonNumber(c.Speed), jsonNumber(c.Acc),
				jsonNumber(c.AccDrop), jsonNumber(c.KLD), jsonNumber(c.KLDDelta), c.Simulated, c.Accepted, c.Reason})
		}
		doc.Recommendations = append(doc.Recommendations, rj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func pctOrDash(v float64) string {
	if !finite(v) {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func pointsOrDash(v float64) string {
	if !finite(v) {
		return "—"
	}
	change := -v // shown as a change: a loss is negative
	if math.Abs(change) < 0.005 {
		change = 0 // no "-0.00"
	}
	return fmt.Sprintf("%+.2f", change)
}

func formatKLD(v float64) string {
	if !finite(v) {
		return "—"
	}
	// Three significant digits: small models and good precisions diverge by 1e-6
	// and less, which a fixed four decimals would show as zero.
	return fmt.Sprintf("%.3g", v)
}
