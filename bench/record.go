// Package bench measures RWKV sessions the way llama-bench names its tests (ppN, tgN,
// ppN+tgM) plus time to first token, load time and peak memory, and keeps every raw
// sample with its timestamp and thermal state. Warm-up runs are recorded as such and
// never enter statistics.
package bench

import "time"

// Cell identifies one cell of a results table: what was measured, on what, how. Two
// samples with equal Cells are repetitions of the same measurement.
type Cell struct {
	Model       string `json:"model"`      // display name, e.g. "rwkv7-0.1b"
	ModelHash   string `json:"model_hash"` // sha256 of the checkpoint file (hex)
	Precision   string `json:"precision"`  // fp32, fp16, a16w8, a16w4
	Backend     string `json:"backend"`    // cpu, qnn-htp, qnn-cpu, qnn-gpu
	Device      string `json:"device"`     // device serial, "local" for the host
	SoC         string `json:"soc"`        // e.g. SM8650; the host CPU model for local
	HTPArch     string `json:"htp_arch"`   // e.g. v75; empty off the NPU
	Runtime     string `json:"runtime"`    // runtime or SDK version, e.g. "go1.26 cpu" or "QAIRT 2.43"
	PerfProfile string `json:"perf_profile"`
	Test        string `json:"test"` // pp512, tg128, pp512+tg128, ttft, load-cold, load-warm, lambada
}

// Sample is one measured value. Samples are append-only: a result already recorded
// is never rewritten.
type Sample struct {
	Cell
	RunID          string    `json:"run_id"`
	HarnessVersion string    `json:"harness_version"`
	Metric         string    `json:"metric"` // tokens_per_second, ms, rss_bytes, pss_bytes, ppl, acc, ...
	Unit           string    `json:"unit"`   // tok/s, ms, bytes, "" for ratios
	Value          float64   `json:"value"`
	Rep            int       `json:"rep"`    // repetition index; warm-ups count from -1 down
	Warmup         bool      `json:"warmup"` // logged, never in statistics
	Time           time.Time `json:"time"`   // when the sample was taken (UTC)
	ThermalBefore  string    `json:"thermal_before,omitempty"`
	ThermalAfter   string    `json:"thermal_after,omitempty"`
	// Simulated marks a number that does not come from the hardware it names, such as
	// a fake-quantized a16w4 run on the CPU engine.
	Simulated bool `json:"simulated"`
}
