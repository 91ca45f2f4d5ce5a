package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rwkvbench/rwkvbench/bench"
)

// cellFields are the bench.Cell fields a table may be pivoted on, by their JSON names.
func cellFields() []string {
	return []string{"model", "model_hash", "precision", "backend", "device", "soc", "htp_arch", "runtime", "perf_profile", "test"}
}

// canonicalField resolves a user's field name; "chip" is the name people use for soc.
func canonicalField(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "chip" {
		name = "soc"
	}
	if slices.Contains(cellFields(), name) {
		return name, nil
	}
	return "", fmt.Errorf("unknown field %q (known: chip, %s)", name, strings.Join(cellFields(), ", "))
}

// ParseFields splits a comma-separated list of cell field names, as the --rows and
// --cols flags take them, and checks each.
func ParseFields(list string) ([]string, error) {
	var fields []string
	for _, name := range strings.Split(list, ",") {
		if strings.TrimSpace(name) == "" {
			continue
		}
		f, err := canonicalField(name)
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	return fields, nil
}

func fieldValue(c bench.Cell, field string) string {
	switch field {
	case "model":
		return c.Model
	case "model_hash":
		return c.ModelHash
	case "precision":
		return c.Precision
	case "backend":
		return c.Backend
	case "device":
		return c.Device
	case "soc":
		return c.SoC
	case "htp_arch":
		return c.HTPArch
	case "runtime":
		return c.Runtime
	case "perf_profile":
		return c.PerfProfile
	case "test":
		return c.Test
	}
	panic("reports: unchecked field " + field) // fields are validated on the way in
}

func fieldValues(c bench.Cell, fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = fieldValue(c, f)
	}
	return out
}

// precisionRank orders precisions from the widest to the narrowest, the order in
// which people read them; unknown ones sort after, by name.
func precisionRank(p string) int {
	if i := slices.Index([]string{"fp32", "fp16", "a16w8", "a16w4"}, p); i >= 0 {
		return i
	}
	return 100
}

// compareKeys orders two tuples of field values, precisions by width, the rest by text.
func compareKeys(fields, a, b []string) int {
	for i, f := range fields {
		if f == "precision" {
			if d := precisionRank(a[i]) - precisionRank(b[i]); d != 0 {
				return d
			}
		}
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// Metric directions: whether a larger value is an improvement. Compare and
// recommend refuse metrics not listed, since they cannot tell a regression.
func higherIsBetter(metric string) (higher, known bool) {
	switch metric {
	case bench.MetricPrefillTokensPerSecond, bench.MetricGenerationTokensPerSecond, bench.MetricTokensPerSecond,
		bench.MetricAccuracy, bench.MetricTop1Agreement:
		return true, true
	case bench.MetricTTFTMillis, bench.MetricLoadMillis, bench.MetricPeakRSSBytes, bench.MetricPeakPSSBytes,
		bench.MetricPerplexity, bench.MetricKLDMean:
		return false, true
	}
	return false, false
}
