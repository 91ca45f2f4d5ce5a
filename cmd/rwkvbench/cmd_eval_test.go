package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

// evalData writes a few short LAMBADA-style passages as JSON lines.
func evalData(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, text := range []string{
		"The cat sat on the mat. Then the cat slept on the mat",
		"She opened the door and saw that it was raining, so she took her umbrella",
		"One, two, three, four, five, six, seven, eight, nine, ten",
	} {
		line, _ := json.Marshal(map[string]string{"text": text})
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(t.TempDir(), "lambada.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvalCommandJSON(t *testing.T) {
	modelPath := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	data := evalData(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "fp32.ref.gz")
	samples := filepath.Join(dir, "samples.jsonl")
	base := []string{"eval", "--model", modelPath, "--task", "lambada", "--data", data, "--threads", "1", "--format", "json"}

	code, stdout, stderr := runIn(t, "", append(base, "--save-reference", ref, "--log-samples", samples, "--limit", "2")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(stdout), &fields); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"acc", "acc_stderr", "docs", "ppl", "ppl_stderr", "prefix_token", "task", "tokenizer"}
	if !slices.Equal(keys, want) {
		t.Errorf("JSON fields %v, want exactly %v", keys, want)
	}
	if fields["task"] != "lambada" || fields["docs"] != 2.0 || fields["tokenizer"] != "bytes" || fields["prefix_token"] != 0.0 {
		t.Errorf("JSON %v", fields)
	}
	if ppl, _ := fields["ppl"].(float64); ppl <= 1 {
		t.Errorf("ppl %v", fields["ppl"])
	}
	if b, err := os.ReadFile(samples); err != nil || strings.Count(string(b), "\n") != 2 {
		t.Errorf("sample log: %d lines, %v", strings.Count(string(b), "\n"), err)
	}
	if _, err := os.Stat(ref + ".partial"); !os.IsNotExist(err) {
		t.Errorf("temporary reference file left behind: %v", err)
	}

	// Against its own reference: the KL fields appear, zero divergence.
	code, stdout, stderr = runIn(t, "", append(base, "--reference", ref, "--limit", "2")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fields = nil
	if err := json.Unmarshal([]byte(stdout), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kld_mean", "kld_median", "kld_p99", "kld_max", "delta_ppl"} {
		if v, ok := fields[k]; !ok || v != 0.0 {
			t.Errorf("%s = %v (present %v), want 0", k, v, ok)
		}
	}
	if fields["top1_agreement"] != 1.0 {
		t.Errorf("top1_agreement = %v, want 1", fields["top1_agreement"])
	}

	// The Markdown form adds the KL table.
	mdArgs := append(slices.Clone(base[:len(base)-2]), "--reference", ref, "--limit", "2")
	code, stdout, stderr = runIn(t, "", mdArgs...)
	if code != 0 || !strings.Contains(stdout, "| KLD mean | KLD median | KLD p99 | KLD max | top-1 agreement | Δppl |") || !strings.Contains(stdout, "| 100.00% |") {
		t.Errorf("markdown with --reference: exit %d, %s\n%s", code, stdout, stderr)
	}

	// A different document count is a clear error naming the file.
	code, _, stderr = runIn(t, "", append(base, "--reference", ref)...)
	if code == 0 || !strings.Contains(stderr, ref) || !strings.Contains(stderr, "ends after 2 documents") {
		t.Errorf("mismatched reference: exit %d, %q", code, stderr)
	}
}

func TestEvalCommandMarkdown(t *testing.T) {
	modelPath := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	code, stdout, stderr := runIn(t, "", "eval", "--model", modelPath, "--data", evalData(t), "--threads", "1", "--prefix-token", "-1", "--start", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"| task | docs | ppl | acc |", "| lambada | 2 |", "| none | bytes |", "documents 1–2 of 3", "CPU reference engine"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("markdown lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("progress written to a non-terminal stderr without --progress: %q", stderr)
	}
}

// TestEvalCommandWeights evaluates with the CPU engine's f16 and int8 weight storage:
// the description line and the JSON name the storage; the f32 reference's output
// is unchanged (TestEvalCommandJSON checks its exact fields).
func TestEvalCommandWeights(t *testing.T) {
	modelPath := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	data := evalData(t)
	for _, tc := range []struct {
		weights, format string
		want            []string
	}{
		{"f32", "md", []string{"RWKV 7, f32 weights computed in float32 on the CPU reference engine."}},
		{"f16", "md", []string{"RWKV 7, f32 weights held as f16 by the engine (--weights f16", "not the f32 reference", "| lambada | 3 |"}},
		{"int8", "md", []string{"held as int8 with one scale per row by the engine (--weights int8", "| lambada | 3 |"}},
		{"f16", "json", []string{`"weight_storage": "f16"`, `"docs": 3`}},
		{"int8", "json", []string{`"weight_storage": "int8"`}},
	} {
		t.Run(tc.weights+"-"+tc.format, func(t *testing.T) {
			code, stdout, stderr := runIn(t, "", "eval", "--model", modelPath, "--data", data, "--threads", "1",
				"--format", tc.format, "--weights", tc.weights)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			if tc.format == "json" {
				var fields map[string]any
				if err := json.Unmarshal([]byte(stdout), &fields); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, stdout)
				}
				if ppl, _ := fields["ppl"].(float64); ppl <= 1 {
					t.Errorf("ppl %v", fields["ppl"])
				}
			}
			if tc.weights == "f32" && strings.Contains(stdout, "held as") {
				t.Errorf("f32 run names a weight storage:\n%s", stdout)
			}
		})
	}
}

func TestEvalCommandInterrupted(t *testing.T) {
	modelPath := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	// Cancel from the progress line, after the first document, as Ctrl-C would.
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &cancelWriter{&errb, cancel}}
	ref := filepath.Join(t.TempDir(), "partial.ref")
	code := dispatch(ctx, e, []string{"eval", "--model", modelPath, "--data", evalData(t), "--threads", "1",
		"--format", "json", "--progress", "--save-reference", ref})
	if code == 0 {
		t.Fatal("interrupted run exited 0")
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("no partial result on stdout: %v\n%s", err, out.String())
	}
	if res["docs"] != 1.0 {
		t.Errorf("partial result covers %v documents, want 1", res["docs"])
	}
	if !strings.Contains(errb.String(), "interrupted after 1 of 3 documents") {
		t.Errorf("stderr %q", errb.String())
	}
	for _, p := range []string{ref, ref + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after an interrupted run", p)
		}
	}
}

// cancelWriter cancels a context on the first write (the first progress line).
type cancelWriter struct {
	w      *bytes.Buffer
	cancel func()
}

func (c *cancelWriter) Write(p []byte) (int, error) {
	c.cancel()
	return c.w.Write(p)
}

func TestEvalCommandErrors(t *testing.T) {
	modelPath := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin")
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"eval"}, "--model is required"},
		{[]string{"eval", "--model", modelPath, "--task", "hellaswag"}, "only lambada"},
		{[]string{"eval", "--model", modelPath, "--format", "csv"}, "want md or json"},
		{[]string{"eval", "--model", modelPath, "--tokenizer", "world"}, "65536 ids but the model has 256"},
		{[]string{"eval", "--model", modelPath, "--data", missing}, "missing.jsonl"},
		{[]string{"eval", "--model", modelPath, "--limit", "-1"}, "--limit -1"},
		{[]string{"eval", "--model", modelPath, "--prefix-token", "-2"}, "--prefix-token -2"},
		{[]string{"eval", "--model", modelPath, "--data", evalData(t), "--start", "3"}, "--start 3 leaves no documents"},
		{[]string{"eval", "--model", modelPath, "--weights", "int4"}, `--weights "int4": want f32, f16 or int8`},
		{[]string{"eval", "--model", modelPath, "--weights", "a16w8"}, `--weights "a16w8"`},
	} {
		code, _, stderr := runIn(t, "", tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want an error containing %q", tc.args, code, stderr, tc.wantErr)
		}
	}
}

func TestTokenizeCommand(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		stdin, want string
	}{
		{[]string{"tokenize"}, "I love you", "[74,31337,22799]\n"},
		{[]string{"tokenize", "--tokenizer", "world"}, " the", "[22590]\n"},
		{[]string{"tokenize", "--tokenizer", "bytes"}, `"in`, "[34,105,110]\n"},
		{[]string{"tokenize"}, "", "[]\n"},
		{[]string{"tokenize", "--decode"}, "[74, 31337, 22799]", "I love you"},
		{[]string{"tokenize", "--decode", "--tokenizer", "bytes"}, "[34,105,110]", `"in`},
	} {
		code, stdout, stderr := runIn(t, tc.stdin, tc.args...)
		if code != 0 || stdout != tc.want {
			t.Errorf("%v < %q: exit %d, %q (stderr %q); want %q", tc.args, tc.stdin, code, stdout, stderr, tc.want)
		}
	}
	for _, tc := range []struct {
		args           []string
		stdin, wantErr string
	}{
		{[]string{"tokenize", "--decode"}, "74 31337", "want a JSON array"},
		{[]string{"tokenize", "--decode"}, "[65535]", "id 65535"},
		{[]string{"tokenize", "--tokenizer", "gpt2"}, "x", "unknown tokenizer"},
	} {
		code, _, stderr := runIn(t, tc.stdin, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.wantErr) {
			t.Errorf("%v < %q: exit %d, stderr %q; want %q", tc.args, tc.stdin, code, stderr, tc.wantErr)
		}
	}
}
