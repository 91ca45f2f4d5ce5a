package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/rwkvbench/rwkvbench/bench"
)

// WriteBenchfmt writes the measured samples in the Go benchmark format, so that
// benchstat and the rest of golang.org/x/perf can read them: one result line per
// repetition, named BenchmarkRWKV/model=…/precision=…/soc=…/test=…, with the metric
// as the unit, "better" unit metadata where the direction is known, and the other
// cell fields, the run and "simulated" as file configuration.
func WriteBenchfmt(w io.Writer, samples []bench.Sample) error {
	bw := benchfmt.NewWriter(w)
	var units []string
	for _, s := range samples {
		if !s.Warmup && !slices.Contains(units, s.Metric) {
			units = append(units, s.Metric)
		}
	}
	slices.Sort(units)
	for _, u := range units {
		higher, known := higherIsBetter(u)
		if !known {
			continue
		}
		better := "lower"
		if higher {
			better = "higher"
		}
		md := &benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: u, Key: "better"}, OrigUnit: u, Value: better}
		if err := bw.Write(md); err != nil {
			return fmt.Errorf("benchfmt: %w", err)
		}
	}
	for _, s := range samples {
		if s.Warmup {
			continue
		}
		r := &benchfmt.Result{Iters: 1}
		for _, kv := range [][2]string{
			{"run", s.RunID}, {"harness", s.HarnessVersion}, {"model_hash", s.ModelHash}, {"backend", s.Backend},
			{"device", s.Device}, {"htp_arch", s.HTPArch}, {"runtime", s.Runtime}, {"perf_profile", s.PerfProfile},
			{"simulated", fmt.Sprint(s.Simulated)},
		} {
			if kv[1] != "" { // an empty file configuration value means "unset"
				r.Config = append(r.Config, benchfmt.Config{Key: kv[0], Value: []byte(benchfmtValue(kv[1])), File: true})
			}
		}
		name := fmt.Sprintf("RWKV/model=%s/precision=%s/soc=%s/test=%s",
			benchfmtName(s.Model), benchfmtName(s.Precision), benchfmtName(s.SoC), benchfmtName(s.Test))
		r.Name = benchfmt.Name(name)
		r.Values = []benchfmt.Value{{Value: s.Value, Unit: s.Metric}}
		if err := bw.Write(r); err != nil {
			return fmt.Errorf("benchfmt: %w", err)
		}
	}
	return nil
}

// benchfmtName keeps a name part from splitting the name: no '/', '=' or spaces.
func benchfmtName(s string) string {
	if s == "" {
		return "none"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '=', ' ', '\t', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

// benchfmtValue keeps a configuration value on its line.
func benchfmtValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
