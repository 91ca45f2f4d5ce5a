package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

func recordedSamples(t *testing.T, name string) string {
	return filepath.Join(fixtures.Root(t), "reports", "testdata", name)
}

// TestCompareExitCodes is the CI gate on recorded samples (reports/testdata): two
// runs of one build exit 0; a run with every generation sample ×0.9 exits 3.
func TestCompareExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"same build", []string{"--base", recordedSamples(t, "base.jsonl"), "--new", recordedSamples(t, "same.jsonl")}, 0, "no significant regression beyond 3%"},
		{"10% slower", []string{"--base", recordedSamples(t, "base.jsonl"), "--new", recordedSamples(t, "slow.jsonl")}, 3, "10 significant regression(s)"},
		{"10% slower, 15% threshold", []string{"--base", recordedSamples(t, "base.jsonl"), "--new", recordedSamples(t, "slow.jsonl"), "--threshold", "15%"}, 0, "no significant regression beyond 15%"},
		{"faster is no regression", []string{"--base", recordedSamples(t, "slow.jsonl"), "--new", recordedSamples(t, "base.jsonl")}, 0, "improvement"},
		{"file selection with a filter", []string{"--base", "file=" + recordedSamples(t, "base.jsonl") + ",chip=SM8650", "--new", "file=" + recordedSamples(t, "slow.jsonl") + ",soc=SM8650"}, 3, "3 significant regression(s)"},
		{"json", []string{"--base", recordedSamples(t, "base.jsonl"), "--new", recordedSamples(t, "slow.jsonl"), "-o", "json"}, 3, `"regression": true`},
		{"bad threshold", []string{"--base", recordedSamples(t, "base.jsonl"), "--new", recordedSamples(t, "slow.jsonl"), "--threshold", "3"}, 1, ""},
		{"unknown metric", []string{"--base", recordedSamples(t, "base.jsonl"), "--new", recordedSamples(t, "slow.jsonl"), "--metric", "joules"}, 1, ""},
		{"missing new", []string{"--base", recordedSamples(t, "base.jsonl")}, 1, ""},
		{"missing file", []string{"--base", recordedSamples(t, "nope.jsonl"), "--new", recordedSamples(t, "base.jsonl")}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"compare"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Fatalf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
			if tt.wantCode == 1 && errOut == "" {
				t.Fatal("failure without a message")
			}
		})
	}
}

// TestReportFromStore imports recorded samples, then reports, compares and
// recommends from the store as a user would.
func TestReportFromStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "results.db")
	for _, f := range []string{"base.jsonl", "slow.jsonl"} {
		if code, _, errOut := run(t, "report", "--store", db, "--import", recordedSamples(t, f)); code != 0 {
			t.Fatalf("import %s: exit %d: %s", f, code, errOut)
		}
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"latest run", []string{"report", "--store", db}, 0, "| rwkv7-1.5b | a16w4     |"},
		{"benchfmt", []string{"report", "--store", db, "-o", "benchfmt"}, 0, "Unit generation_tokens_per_second better=higher"},
		{"chosen run, csv", []string{"report", "--store", db, "--run", "fixture-base", "-o", "csv"}, 0, "model,precision,soc,test,metric"},
		{"mean, rows by chip", []string{"report", "--store", db, "--rows", "chip", "--cols", "precision", "--stat", "mean"}, 0, "mean ± sample standard deviation"},
		{"previous vs latest", []string{"compare", "--store", db, "--base", "run=previous", "--new", "run=latest"}, 3, "REGRESSION"},
		{"precision axis", []string{"compare", "--store", db, "--base", "run=fixture-base,precision=fp16", "--new", "run=fixture-base,precision=a16w8"}, 0, "matched across precision"},
		{"recommend", []string{"recommend", "--store", db, "--run", "fixture-base"}, 0, "rwkv7-1.5b on SM8650: use **a16w8**"},
		{"recommend none", []string{"recommend", "--store", db, "--run", "fixture-base", "--reference", "fp32"}, 0, "SM8650: no precision within the bounds"},
		{"recommend json", []string{"recommend", "--store", db, "--run", "fixture-base", "-o", "json"}, 0, `"choice": "a16w4"`},
		{"unknown run", []string{"report", "--store", db, "--run", "nope"}, 1, ""},
		{"unknown field", []string{"report", "--store", db, "--rows", "colour"}, 1, ""},
		{"missing store", []string{"report", "--store", filepath.Join(dir, "none.db")}, 1, ""},
		{"bad reference", []string{"recommend", "--store", db, "--reference", "int8"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Fatalf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
		})
	}
}

func TestReportPlotsAndExport(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "out.jsonl")
	code, _, errOut := run(t, "report", "--jsonl", recordedSamples(t, "base.jsonl"), "--plots", filepath.Join(dir, "plots"), "--export", export)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"throughput.svg", "throughput.png", "pareto.svg", "pareto.png"} {
		if !strings.Contains(errOut, filepath.Join(dir, "plots", f)) {
			t.Errorf("no %s reported written:\n%s", f, errOut)
		}
	}
	// The export reads back as the same table.
	_, fromFile, _ := run(t, "report", "--jsonl", recordedSamples(t, "base.jsonl"))
	_, fromExport, _ := run(t, "report", "--jsonl", export)
	if fromFile != fromExport || fromFile == "" {
		t.Fatalf("report of the export differs:\n%s\n---\n%s", fromFile, fromExport)
	}
}

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"3%", 0.03, false},
		{"0.03", 0.03, false},
		{" 10% ", 0.10, false},
		{"0", 0, false},
		{"3", 0, true},
		{"-1%", 0, true},
		{"abc", 0, true},
		{"%", 0, true},
	}
	for _, tt := range tests {
		got, err := parseThreshold(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && (got-tt.want > 1e-12 || tt.want-got > 1e-12)) {
			t.Errorf("parseThreshold(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
