package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

func TestConvertDryRun(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run(t, "convert", "--model", fixtures.Path(t, "golden/v7.pth"), "--precision", "a16w8",
		"--chip", "SM8650,8elite", "--chunks", "2", "--dry-run", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`"soc_model": 57`, `"dsp_arch": "v75"`, `"soc_model": 69`, `"dsp_arch": "v79"`,
		`"$QNN_SDK_ROOT"/bin/x86_64-linux-clang/qairt-converter --input_network`,
		"--source_model_input_layout state1_in NONTRIVIAL",
		"--source_model_input_layout v_first_in_chunk2 NONTRIVIAL",
		"qairt-quantizer -i", "--enable_float_fallback",
		"qnn-context-binary-generator --backend", "--binary_file v7_combined_chunk2of2",
		"--quantization_overrides " + filepath.Join(out, "encodings", "v7_prefill_chunk2of2.encodings"),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry-run plan lacks %q", want)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("--dry-run wrote %d entries into %s", len(entries), out)
	}
}

func TestConvertErrors(t *testing.T) {
	v7 := fixtures.Path(t, "golden/v7.pth")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"convert", "--chip", "SM8650"}, "--model is required"},
		{[]string{"convert", "--model", v7}, "--chip is required"},
		{[]string{"convert", "--model", v7, "--chip", "SM1234"}, `chip "SM1234" is not in the catalog`},
		{[]string{"convert", "--model", v7, "--chip", "SM8650", "--precision", "int2", "--dry-run"}, "precision"},
		{[]string{"convert", "--model", v7, "--chip", "SM8650", "--sdk", "", "--out", t.TempDir()}, "QNN_SDK_ROOT"},
		{[]string{"convert", "--model", fixtures.Path(t, "golden/v5.pth"), "--chip", "SM8650", "--emit", "onnx", "--wkv", "customop", "--out", t.TempDir()}, "v7 only"},
	}
	for _, tc := range tests {
		code, _, stderr := run(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}
