package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

// logitsOutput is the documented output of `rwkvbench logits`.
type logitsOutput struct {
	Version string      `json:"version"`
	Vocab   int         `json:"n_vocab"`
	Logits  [][]float32 `json:"logits"`
}

func decodeLogits(t *testing.T, stdout string) logitsOutput {
	t.Helper()
	// Exactly these three fields, in this order, with this spacing.
	if !regexp.MustCompile(`^\{"version": "[0-9.]+", "n_vocab": [0-9]+, "logits": \[\[`).MatchString(stdout) {
		t.Fatalf("output does not start as documented: %.80q", stdout)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var o logitsOutput
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("output is not the documented JSON: %v", err)
	}
	return o
}

func TestLogitsCommand(t *testing.T) {
	v7 := fixtures.Path(t, "golden/v7.pth")
	for _, tc := range []struct {
		name string
		args []string
		rows int
	}{
		{"last position", []string{"logits", "--model", v7, "--tokens", "5,17,3", "--format", "json"}, 1},
		{"all positions", []string{"logits", "--model", v7, "--tokens", "5, 17, 3", "--all-positions"}, 3},
		{"one token", []string{"logits", "--model", v7, "--tokens", "299", "--all-positions"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			o := decodeLogits(t, stdout)
			if o.Version != "7" || o.Vocab != 300 || len(o.Logits) != tc.rows {
				t.Fatalf("version %q, n_vocab %d, %d rows; want \"7\", 300, %d", o.Version, o.Vocab, len(o.Logits), tc.rows)
			}
			for i, row := range o.Logits {
				if len(row) != 300 {
					t.Errorf("row %d has %d logits", i, len(row))
				}
			}
		})
	}
}

// TestLogitsCommandGolden is the acceptance check as an outside user runs it: the
// CLI's logits at every position against the official runtime's.
func TestLogitsCommandGolden(t *testing.T) {
	for _, name := range []string{"v5", "v6", "v7", "v7-bf16"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(fixtures.Path(t, filepath.Join("golden", name+".golden.json")))
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				Version string      `json:"version"`
				Tokens  []int       `json:"tokens"`
				Logits  [][]float32 `json:"logits"`
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, tok := range g.Tokens {
				ids = append(ids, strconv.Itoa(tok))
			}
			code, stdout, stderr := run(t, "logits", "--model", fixtures.Path(t, filepath.Join("golden", name+".pth")),
				"--tokens", strings.Join(ids, ","), "--all-positions", "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			o := decodeLogits(t, stdout)
			if o.Version != g.Version || len(o.Logits) != len(g.Logits) {
				t.Fatalf("version %q with %d rows, want %q with %d", o.Version, len(o.Logits), g.Version, len(g.Logits))
			}
			var worst float64
			for i := range g.Logits {
				for j := range g.Logits[i] {
					worst = max(worst, math.Abs(float64(o.Logits[i][j])-float64(g.Logits[i][j])))
				}
			}
			if worst > 1e-4 {
				t.Errorf("max |Δlogit| %.3g > 1e-4", worst)
			}
		})
	}
}

// TestLogitsGroupNormOverride checks --gn-eps on the one fixture where it matters:
// rwkv.cpp's tiny v5.2 model says 1e-5 in the file; forcing the official 64e-5 moves
// logit 0 from -3.657 to -3.273 (the shared reference rwkv-math.md §10.2).
func TestLogitsGroupNormOverride(t *testing.T) {
	path := fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-5v2-730K-FP32.bin")
	for _, tc := range []struct {
		eps  string
		want float64
	}{{"0", -3.657056}, {"1e-5", -3.657056}, {"64e-5", -3.272532}} {
		code, stdout, stderr := run(t, "logits", "--model", path, "--tokens", "34,105,110", "--gn-eps", tc.eps)
		if code != 0 {
			t.Fatalf("--gn-eps %s: exit %d: %s", tc.eps, code, stderr)
		}
		o := decodeLogits(t, stdout)
		if got := float64(o.Logits[0][0]); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("--gn-eps %s: logit 0 = %.6f, want %.6f", tc.eps, got, tc.want)
		}
	}
}

// TestLogitsWeights runs logits with each CPU engine weight storage: the JSON keeps
// its documented form, the logits stay near the f32 reference's but f16 and int8 do
// change them (the storage reaches the engine), and stderr names the storage.
func TestLogitsWeights(t *testing.T) {
	v7 := fixtures.Path(t, "golden/v7.pth")
	logits := func(weights string) (logitsOutput, string) {
		t.Helper()
		code, stdout, stderr := run(t, "logits", "--model", v7, "--tokens", "5,17,3", "--all-positions", "--weights", weights)
		if code != 0 {
			t.Fatalf("--weights %s: exit %d: %s", weights, code, stderr)
		}
		return decodeLogits(t, stdout), stderr
	}
	ref, stderr := logits("f32")
	if stderr != "" {
		t.Errorf("--weights f32 wrote %q to stderr", stderr)
	}
	for _, tc := range []struct {
		weights string
		tol     float64
	}{{"f16", 0.01}, {"int8", 0.25}} {
		t.Run(tc.weights, func(t *testing.T) {
			o, stderr := logits(tc.weights)
			if !strings.Contains(stderr, "held as "+tc.weights) || !strings.Contains(stderr, "--weights "+tc.weights) {
				t.Errorf("stderr %q does not name the %s storage", stderr, tc.weights)
			}
			if len(o.Logits) != len(ref.Logits) {
				t.Fatalf("%d rows, want %d", len(o.Logits), len(ref.Logits))
			}
			var worst float64
			for i := range ref.Logits {
				for j := range ref.Logits[i] {
					worst = max(worst, math.Abs(float64(o.Logits[i][j])-float64(ref.Logits[i][j])))
				}
			}
			if worst == 0 || worst > tc.tol {
				t.Errorf("max |Δlogit| against f32 %.3g; want in (0, %g]", worst, tc.tol)
			}
		})
	}
}

func TestLogitsCommandErrors(t *testing.T) {
	v7 := fixtures.Path(t, "golden/v7.pth")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"logits", "--tokens", "1"}, "--model is required"},
		{"no tokens", []string{"logits", "--model", v7}, "--tokens is required"},
		{"bad token", []string{"logits", "--model", v7, "--tokens", "1,x,3"}, `entry 2 "x"`},
		{"token out of range", []string{"logits", "--model", v7, "--tokens", "1,300"}, "token 300 at position 1"},
		{"unknown format", []string{"logits", "--model", v7, "--tokens", "1", "--format", "csv"}, "only json"},
		{"missing file", []string{"logits", "--model", "nope.pth", "--tokens", "1"}, "nope.pth"},
		{"negative eps", []string{"logits", "--model", v7, "--tokens", "1", "--gn-eps", "-1"}, "--gn-eps"},
		{"bad weights", []string{"logits", "--model", v7, "--tokens", "1", "--weights", "int4"}, `--weights "int4": want f32, f16 or int8`},
		{"upper-case weights", []string{"logits", "--model", v7, "--tokens", "1", "--weights", "F16"}, `--weights "F16"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("printed %q on stdout for a failed run", stdout)
			}
		})
	}
}
