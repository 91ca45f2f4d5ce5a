package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

func TestInfoCommand(t *testing.T) {
	for _, tc := range []struct {
		file string
		want modelInfo
	}{
		{"golden/v6.pth", modelInfo{Format: "pth", Version: "6", Layers: 3, Embd: 128, Heads: 2, HeadSize: 64, FFN: 448, Vocab: 300,
			LoRA: map[string]int{"mix": 32, "decay": 64}, DType: "f32", GroupNormEps: 64e-5}},
		{"golden/v7-bf16.pth", modelInfo{Format: "pth", Version: "7", Layers: 3, Embd: 128, Heads: 2, HeadSize: 64, FFN: 512, Vocab: 300,
			LoRA: map[string]int{"decay": 32, "alpha": 32, "value": 32, "gate": 64}, DType: "bf16", GroupNormEps: 64e-5}},
		// Parameter counts from rwkv.cpp's test table (the shared reference rwkv-math.md §10.2).
		{"rwkv_cpp_tiny/tiny-rwkv-5v2-730K-Q5_0.bin", modelInfo{Format: "rwkv.cpp", Version: "5.2", Layers: 12, Embd: 64, Heads: 8, HeadSize: 8, FFN: 256, Vocab: 256,
			Params: 731904, DType: "q5_0", GroupNormEps: 1e-5}},
		{"rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP16.bin", modelInfo{Format: "rwkv.cpp", Version: "7", Layers: 12, Embd: 64, Heads: 1, HeadSize: 64, FFN: 256, Vocab: 256,
			LoRA: map[string]int{"decay": 32, "alpha": 32, "value": 32, "gate": 32}, Params: 829888, DType: "f16", GroupNormEps: 64e-5}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := fixtures.Path(t, tc.file)
			code, stdout, stderr := run(t, "info", "--model", path, "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got modelInfo
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Path = path
			if want.Params == 0 {
				want.Params = got.Params // golden counts are checked in package model
			}
			if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
				t.Errorf("info\n got %s\nwant %s", g, w)
			}

			code, stdout, stderr = run(t, "info", "--model", path)
			if code != 0 {
				t.Fatalf("text: exit %d: %s", code, stderr)
			}
			for _, line := range []string{"version               RWKV " + want.Version, "storage dtype"} {
				if !strings.Contains(stdout, line) {
					t.Errorf("text output lacks %q:\n%s", line, stdout)
				}
			}
		})
	}
	code, _, stderr := run(t, "info", "--model", fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-4v0-660K-FP32.bin"))
	if code != 1 || !strings.Contains(stderr, "RWKV-4") {
		t.Errorf("v4 file: exit %d, stderr %q; want a refusal naming RWKV-4", code, stderr)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
