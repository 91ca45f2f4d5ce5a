package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Test names (Cell.Test) and metric names (Sample.Metric) shared with the store and
// the reports. The prompt-dependent tests are named as llama-bench names them
// (pp512, tg128, pp512+tg128); TTFT is always measured with the run's prompt length,
// which the run's metadata records.
const (
	TestTTFT     = "ttft"
	TestLoadCold = "load-cold"
	TestLoadWarm = "load-warm"
	TestLAMBADA  = "lambada"

	MetricPrefillTokensPerSecond    = "prefill_tokens_per_second"
	MetricGenerationTokensPerSecond = "generation_tokens_per_second"
	// MetricTokensPerSecond is llama-bench's combined pp+tg rate: all tokens over the
	// total time. ppN+tgM cells also carry the split prefill and generation rates.
	MetricTokensPerSecond = "tokens_per_second"
	MetricTTFTMillis      = "ttft_ms"
	MetricLoadMillis      = "load_ms"
	MetricPeakRSSBytes    = "peak_rss_bytes"
	MetricPeakPSSBytes    = "peak_pss_bytes"
	MetricPerplexity      = "ppl"
	MetricAccuracy        = "acc"
	MetricKLDMean         = "kld_mean"
	MetricTop1Agreement   = "top1_agreement"
)

// Test is one measurement a Runner can make.
type Test struct {
	Kind TestKind
	// Prompt is the prefill length (N of ppN, the prompt of ttft); Generate is the
	// number of generated tokens (M of tgM).
	Prompt, Generate int
}

// TestKind says what a Test measures.
type TestKind int

// Test kinds.
const (
	Prefill           TestKind = iota + 1 // ppN: N tokens in one Forward call from a fresh state
	Generation                            // tgM: M single-token steps after a one-token start
	PrefillGeneration                     // ppN+tgM: both, in one timed run
	TTFT                                  // prefill N and the first decode step
	LoadCold                              // open a session with nothing cached
	LoadWarm                              // open a session again, caches warm
)

// String returns the test's name as Cell.Test records it.
func (t Test) String() string {
	switch t.Kind {
	case Prefill:
		return "pp" + strconv.Itoa(t.Prompt)
	case Generation:
		return "tg" + strconv.Itoa(t.Generate)
	case PrefillGeneration:
		return fmt.Sprintf("pp%d+tg%d", t.Prompt, t.Generate)
	case TTFT:
		return TestTTFT
	case LoadCold:
		return TestLoadCold
	case LoadWarm:
		return TestLoadWarm
	}
	return fmt.Sprintf("test(%d)", int(t.Kind))
}

// ParseTest parses a test name: ppN, tgM, ppN+tgM, load-cold or load-warm, or ttft,
// which takes its prompt length from prompt.
func ParseTest(name string, prompt int) (Test, error) {
	switch name {
	case TestTTFT:
		if prompt < 1 {
			return Test{}, fmt.Errorf("test %q: prompt length %d, need at least 1", name, prompt)
		}
		return Test{Kind: TTFT, Prompt: prompt}, nil
	case TestLoadCold:
		return Test{Kind: LoadCold}, nil
	case TestLoadWarm:
		return Test{Kind: LoadWarm}, nil
	}
	if pp, tg, ok := strings.Cut(name, "+"); ok {
		n, err := count(name, pp, "pp")
		if err != nil {
			return Test{}, err
		}
		m, err := count(name, tg, "tg")
		if err != nil {
			return Test{}, err
		}
		return Test{Kind: PrefillGeneration, Prompt: n, Generate: m}, nil
	}
	if strings.HasPrefix(name, "pp") {
		n, err := count(name, name, "pp")
		return Test{Kind: Prefill, Prompt: n}, err
	}
	if strings.HasPrefix(name, "tg") {
		m, err := count(name, name, "tg")
		return Test{Kind: Generation, Generate: m}, err
	}
	return Test{}, fmt.Errorf("test %q: unknown; want ppN, tgN, ppN+tgM, ttft, load-cold or load-warm", name)
}

// maxTokens bounds a test's length so that a typo cannot allocate gigabytes.
const maxTokens = 1 << 20

func count(name, part, prefix string) (int, error) {
	digits, ok := strings.CutPrefix(part, prefix)
	if !ok {
		return 0, fmt.Errorf("test %q: %q does not start with %q", name, part, prefix)
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > maxTokens || digits != strconv.Itoa(n) {
		return 0, fmt.Errorf("test %q: %q needs a token count from 1 to %d", name, part, maxTokens)
	}
	return n, nil
}
