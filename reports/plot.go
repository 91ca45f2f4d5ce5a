package reports

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/rwkvbench/rwkvbench/bench"
)

// Point is one model, chip and precision placed by speed and quality.
type Point struct {
	Label          string
	Speed, Quality float64
}

// ParetoFrontier returns the points no other point beats on both speed (higher is
// better) and quality, ordered by speed. qualityHigherIsBetter is true for accuracy
// and false for perplexity or KL divergence. Points with a NaN coordinate are never
// on the frontier.
func ParetoFrontier(points []Point, qualityHigherIsBetter bool) []Point {
	better := func(a, b float64) bool { // a is strictly better quality than b
		if qualityHigherIsBetter {
			return a > b
		}
		return a < b
	}
	var front []Point
	for i, p := range points {
		if math.IsNaN(p.Speed) || math.IsNaN(p.Quality) {
			continue
		}
		dominated := false
		for j, q := range points {
			if i == j || math.IsNaN(q.Speed) || math.IsNaN(q.Quality) {
				continue
			}
			notWorse := q.Speed >= p.Speed && !better(p.Quality, q.Quality)
			strictly := q.Speed > p.Speed || better(q.Quality, p.Quality)
			if notWorse && strictly {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, p)
		}
	}
	slices.SortStableFunc(front, func(a, b Point) int {
		switch {
		case a.Speed < b.Speed:
			return -1
		case a.Speed > b.Speed:
			return 1
		}
		return 0
	})
	return front
}

// ThroughputPlot draws the median of a speed metric as grouped bars: one group per
// chip (SoC), one bar per precision. Chips with simulated numbers are marked "*".
func ThroughputPlot(samples []bench.Sample, metric string) (*plot.Plot, error) {
	type key struct{ soc, precision string }
	values := map[key][]float64{}
	simulated := map[string]bool{}
	unit := ""
	for _, s := range headlineSamples(samples, metric) {
		k := key{s.SoC, s.Precision}
		values[k] = append(values[k], s.Value)
		simulated[s.SoC] = simulated[s.SoC] || s.Simulated
		unit = s.Unit
	}
	if len(values) == 0 {
		return nil, fmt.Errorf("throughput plot: no measured samples of %s", metric)
	}
	var chips, precisions []string
	for k := range values {
		if !slices.Contains(chips, k.soc) {
			chips = append(chips, k.soc)
		}
		if !slices.Contains(precisions, k.precision) {
			precisions = append(precisions, k.precision)
		}
	}
	slices.Sort(chips)
	slices.SortFunc(precisions, func(a, b string) int { return compareKeys([]string{"precision"}, []string{a}, []string{b}) })

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s): median per chip and precision (0 = not run)", metric, headlineTest(samples, metric))
	if slices.Contains(slices.Collect(maps.Values(simulated)), true) {
		p.Title.Text += "\n* " + "simulated on CPU (fake quantization), not the named hardware"
	}
	p.Y.Label.Text = strings.TrimSpace(metric + " " + bracket(unit))
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Min = 0
	barWidth := vg.Points(60 / float64(len(precisions)))
	highest := 0.0
	for i, prec := range precisions {
		heights := make(plotter.Values, len(chips))
		for j, chip := range chips {
			if v := values[key{chip, prec}]; len(v) > 0 {
				heights[j] = bench.Summarize(v, 0.95).Median
				highest = max(highest, heights[j])
			}
		}
		bars, err := plotter.NewBarChart(heights, barWidth)
		if err != nil {
			return nil, fmt.Errorf("throughput plot: %w", err)
		}
		bars.LineStyle.Width = vg.Length(0)
		bars.Color = plotutil.Color(i)
		bars.Offset = barWidth * vg.Length(float64(i)-float64(len(precisions)-1)/2)
		p.Add(bars)
		p.Legend.Add(prec, bars)
	}
	names := make([]string, len(chips))
	for i, c := range chips {
		names[i] = orDefault(c, "(no chip)")
		if simulated[c] {
			names[i] += " *"
		}
	}
	p.NominalX(names...)
	p.Y.Max = highest * 1.3 // room for the legend above the bars
	p.Add(plotter.NewGrid())
	return p, nil
}

// ParetoPlot places every model, chip and precision by median speed and LAMBADA
// quality (qualityMetric "acc", "ppl" or "kld_mean") and draws the Pareto frontier of
// each model on each chip: the precisions worth choosing between there.
func ParetoPlot(samples []bench.Sample, speedMetric, qualityMetric string) (*plot.Plot, error) {
	higherQuality, known := higherIsBetter(qualityMetric)
	if !known || (qualityMetric != metricAcc && qualityMetric != metricPPL && qualityMetric != metricKLD) {
		return nil, fmt.Errorf("pareto plot: quality metric %q: want acc, ppl or kld_mean", qualityMetric)
	}
	type key struct{ model, soc, precision string }
	speed, quality := map[key][]float64{}, map[key][]float64{}
	simulated := map[key]bool{}
	accUnit := ""
	speedTest := headlineTest(samples, speedMetric)
	for _, s := range samples {
		if s.Warmup || s.Metric == speedMetric && s.Test != speedTest {
			continue
		}
		k := key{s.Model, s.SoC, s.Precision}
		switch s.Metric {
		case speedMetric:
			speed[k] = append(speed[k], s.Value)
		case qualityMetric:
			quality[k] = append(quality[k], s.Value)
			accUnit = s.Unit
		default:
			continue
		}
		simulated[k] = simulated[k] || s.Simulated
	}
	type series struct{ model, soc string }
	bySeries := map[series][]Point{}
	models := map[string]bool{}
	for k, sp := range speed {
		q, ok := quality[k]
		if !ok {
			continue
		}
		qv := bench.Summarize(q, 0.95).Median
		if qualityMetric == metricAcc && accUnit != "%" {
			qv *= 100
		}
		label := k.precision
		if simulated[k] {
			label += "*"
		}
		s := series{k.model, k.soc}
		bySeries[s] = append(bySeries[s], Point{Label: label, Speed: bench.Summarize(sp, 0.95).Median, Quality: qv})
		models[k.model] = true
	}
	if len(bySeries) == 0 {
		return nil, fmt.Errorf("pareto plot: no cell has both %s and %s", speedMetric, qualityMetric)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s against %s (%s, medians); dashed: Pareto frontier per chip", qualityMetric, speedMetric, speedTest)
	if slices.Contains(slices.Collect(maps.Values(simulated)), true) {
		p.Title.Text += "\n* simulated on CPU (fake quantization), not the named hardware"
	}
	p.X.Label.Text = speedMetric
	p.Y.Label.Text = qualityMetric
	if qualityMetric == metricAcc {
		p.Y.Label.Text = "LAMBADA acc (%)"
	}
	p.Legend.Top = true
	keys := slices.SortedFunc(maps.Keys(bySeries), func(a, b series) int {
		return compareKeys([]string{"model", "soc"}, []string{a.model, a.soc}, []string{b.model, b.soc})
	})
	fastest := 0.0
	for i, key := range keys {
		points := bySeries[key]
		slices.SortFunc(points, func(a, b Point) int { return strings.Compare(a.Label, b.Label) })
		xys := make(plotter.XYs, len(points))
		labels := make([]string, len(points))
		for j, pt := range points {
			xys[j] = plotter.XY{X: pt.Speed, Y: pt.Quality}
			labels[j] = pt.Label
			fastest = max(fastest, pt.Speed)
		}
		scatter, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("pareto plot: %w", err)
		}
		scatter.Color = plotutil.Color(i)
		scatter.Shape = draw.CircleGlyph{}
		scatter.Radius = vg.Points(3)
		names, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("pareto plot: %w", err)
		}
		for j := range names.TextStyle {
			names.TextStyle[j].XAlign = draw.XLeft
		}
		names.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
		front := ParetoFrontier(points, higherQuality)
		line := make(plotter.XYs, len(front))
		for j, pt := range front {
			line[j] = plotter.XY{X: pt.Speed, Y: pt.Quality}
		}
		frontier, err := plotter.NewLine(line)
		if err != nil {
			return nil, fmt.Errorf("pareto plot: %w", err)
		}
		frontier.Color = plotutil.Color(i)
		frontier.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(frontier, scatter, names)
		legend := key.soc
		if len(models) > 1 {
			legend = key.model + " " + key.soc
		}
		p.Legend.Add(orDefault(legend, "(no chip)"), scatter, frontier)
	}
	p.X.Min = 0
	p.X.Max = fastest * 1.2 // room for the labels right of the fastest point
	p.Add(plotter.NewGrid())
	return p, nil
}

// WritePlots writes the throughput plot and the accuracy–speed Pareto plot as SVG
// and PNG into dir and returns the files written. A plot without data (no LAMBADA
// run, say) is skipped, and the reason is returned in skipped.
func WritePlots(dir string, samples []bench.Sample) (written, skipped []string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("plots: %w", err)
	}
	plots := []struct {
		name string
		make func() (*plot.Plot, error)
	}{
		{"throughput", func() (*plot.Plot, error) { return ThroughputPlot(samples, metricGeneration) }},
		{"pareto", func() (*plot.Plot, error) { return ParetoPlot(samples, metricGeneration, metricAcc) }},
	}
	for _, pl := range plots {
		p, err := pl.make()
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		for _, ext := range []string{"svg", "png"} {
			path := filepath.Join(dir, pl.name+"."+ext)
			if err := p.Save(18*vg.Centimeter, 12*vg.Centimeter, path); err != nil {
				return written, skipped, fmt.Errorf("plot %s: %w", path, err)
			}
			written = append(written, path)
		}
	}
	return written, skipped, nil
}

func bracket(unit string) string {
	if unit == "" {
		return ""
	}
	return "(" + unit + ")"
}
