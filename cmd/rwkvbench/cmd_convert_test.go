package main

import (
	"encoding/json"
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
		{[]string{"convert", "--model", fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"), "--chip", "SM8650", "--precision", "a16w8", "--w4-head", "--emit", "encodings", "--out", t.TempDir()}, "--w4-head applies to a16w4"},
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

func TestConvertW4Head(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := run(t, "convert", "--model", fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"), "--precision", "a16w4",
		"--w4-head", "--chip", "SM8650", "--emit", "encodings", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "encodings", "tiny_rwkv_7v0_834K_FP32.encodings"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Params []struct {
			Name string `json:"name"`
			BW   int    `json:"bw"`
		} `json:"param_encodings"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	bits := map[string]int{}
	for _, p := range f.Params {
		bits[p.Name] = p.BW
	}
	if bits["head.weight"] != 4 || bits["blocks.0.att.key.weight"] != 4 || bits["blocks.0.att.w2"] != 8 {
		t.Errorf("bit widths: head %d, att.key %d, att.w2 %d; want 4, 4, 8", bits["head.weight"], bits["blocks.0.att.key.weight"], bits["blocks.0.att.w2"])
	}
}
