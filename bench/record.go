// Package bench measures RWKV sessions the way llama-bench names its tests (ppN, tgN,
// ppN+tgM) plus time to first token, load time and peak memory, and keeps every raw
// sample with its timestamp and thermal state. Warm-up runs are recorded as such and
// never enter statistics.
//
// Its opinions:
//
//   - A Runner records cell by cell through a Sink, and a cell is the unit of
//     atomicity: with the results store behind the Sink, a crash loses at most the
//     cell in flight, and a resumed run skips every recorded cell.
//   - Timed loops are the session's work and nothing else: inputs are drawn from a
//     fixed seed before timing starts, and the generation loop allocates nothing.
//   - ppN times one Forward of N tokens from a fresh state with last-position logits;
//     tgM times M single-token steps after an untimed one-token start; ppN+tgM times
//     both (and records the split rates beside llama-bench's combined one); ttft is
//     the prefill plus the first decode step, fed with the prefill's argmax.
//   - "Cold" load means nothing cached: on a Linux host the model file's page cache
//     is dropped (posix_fadvise DONTNEED, see DropFileCache) before each repetition;
//     a device that cannot drop caches gets one cold sample, its first load. Devices
//     document what they drop.
//   - Peak RSS is VmHWM, reset per cell through /proc/self/clear_refs so that one
//     cell's peak is not an earlier one's; Linux keeps no PSS peak, so PSS is read
//     right after the cell's runs with the session still loaded.
//   - The headline statistic is the median with a distribution-free confidence
//     interval (Summarize); comparisons use the Mann–Whitney U test (Compare), as
//     benchstat does.
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
