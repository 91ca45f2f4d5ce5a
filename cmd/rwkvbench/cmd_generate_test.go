package main

import (
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

func TestGenerateCommand(t *testing.T) {
	path := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	const prompt = "In the beginning"
	gen := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"generate", "--model", path, "--prompt", prompt}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "tok/s") || !strings.Contains(stderr, "prefill 16 tokens") {
			t.Errorf("speed line missing or wrong: %q", stderr)
		}
		text, ok := strings.CutPrefix(stdout, prompt)
		if !ok {
			t.Fatalf("output does not start with the prompt: %q", stdout)
		}
		return strings.TrimSuffix(text, "\n")
	}
	// Greedy decoding on a byte model: one byte per token, and deterministic.
	greedy := gen("-n", "12", "--temperature", "0")
	if len(greedy) != 12 {
		t.Errorf("greedy: %d bytes generated, want 12: %q", len(greedy), greedy)
	}
	if again := gen("-n", "12", "--temperature", "0", "--seed", "99"); again != greedy {
		t.Errorf("greedy output depends on the seed: %q vs %q", again, greedy)
	}
	// After `"in` the model's favourite byte is a space; after "beginning" too.
	if !strings.HasPrefix(greedy, " ") {
		t.Errorf("greedy continuation %q does not start with the model's argmax ' '", greedy)
	}
	a := gen("-n", "24", "--seed", "5")
	if b := gen("-n", "24", "--seed", "5"); a != b {
		t.Errorf("same seed, different text: %q vs %q", a, b)
	}
}

// TestGenerateCommandWeights runs generate with each CPU engine weight storage: it
// runs, and the speed line names any storage other than the f32 reference.
func TestGenerateCommandWeights(t *testing.T) {
	path := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	for _, tc := range []struct {
		weights string
		want    string // in the speed line; "" for none
	}{
		{"f32", ""},
		{"f16", "held as f16 by the engine (--weights f16"},
		{"int8", "held as int8 with one scale per row by the engine (--weights int8"},
	} {
		t.Run(tc.weights, func(t *testing.T) {
			code, stdout, stderr := run(t, "generate", "--model", path, "--prompt", "In the beginning", "-n", "8",
				"--temperature", "0", "--threads", "2", "--weights", tc.weights)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := len(strings.TrimSuffix(strings.TrimPrefix(stdout, "In the beginning"), "\n")); got != 8 {
				t.Errorf("%d bytes generated, want 8: %q", got, stdout)
			}
			if !strings.Contains(stderr, "tok/s") {
				t.Errorf("no speed line: %q", stderr)
			}
			if tc.want == "" {
				if strings.Contains(stderr, "held as") || strings.Contains(stderr, "--weights") {
					t.Errorf("f32 run names a weight storage: %q", stderr)
				}
			} else if !strings.Contains(stderr, tc.want) {
				t.Errorf("speed line %q lacks %q", stderr, tc.want)
			}
		})
	}
}

func TestGenerateCommandErrors(t *testing.T) {
	path := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--prompt", "x"}, "--model is required"},
		{"no prompt", []string{"--model", path}, "--prompt is required"},
		{"zero tokens", []string{"--model", path, "--prompt", "x", "-n", "0"}, "at least one token"},
		{"bad top-p", []string{"--model", path, "--prompt", "x", "--top-p", "0"}, "top-p"},
		{"bad temperature", []string{"--model", path, "--prompt", "x", "--temperature", "-1"}, "temperature"},
		{"stray argument", []string{"--model", path, "hello"}, "unexpected argument"},
		{"bad weights", []string{"--model", path, "--prompt", "x", "--weights", "int4"}, `--weights "int4": want f32, f16 or int8`},
		{"simulated precision as weights", []string{"--model", path, "--prompt", "x", "--weights", "fp16"}, `--weights "fp16"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"generate"}, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, tc.want)
			}
		})
	}
}
