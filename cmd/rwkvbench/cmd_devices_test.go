package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/runner/devicetest"
)

// TestDevicesThreeEmulatedPhones lists three emulated phones through the real adb
// client and checks the HTP arch and QNN soc_model the catalog gives each SoC.
func TestDevicesThreeEmulatedPhones(t *testing.T) {
	lab := devicetest.StartADBLab(t, []string{"SM8650", "SM8750", "SM8550"}, nil)
	port := strconv.Itoa(lab.Client.Port)
	code, out, errOut := run(t, "devices", "-o", "json", "-P", port)
	if code != 0 {
		t.Fatalf("devices exited %d: %s", code, errOut)
	}
	var rows []deviceRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("devices -o json: %v\n%s", err, out)
	}
	want := map[string]struct {
		arch     string
		socModel int
	}{"SM8650": {"v75", 57}, "SM8750": {"v79", 69}, "SM8550": {"v73", 43}}
	if len(rows) != 3 {
		t.Fatalf("%d devices listed, want 3:\n%s", len(rows), out)
	}
	for _, r := range rows {
		w, ok := want[r.SoC]
		if !ok || r.HTPArch != w.arch || r.QNNSocModel != w.socModel || r.State != "device" || r.Transport != "adb" {
			t.Errorf("row %+v: want SoC in %v with its arch and soc_model", r, want)
		}
	}
	code, text, _ := run(t, "devices", "-P", port)
	if code != 0 || !strings.Contains(text, "v79") || !strings.Contains(text, "SM8550") {
		t.Errorf("text listing (exit %d):\n%s", code, text)
	}
}

// TestDeployLocalTwice deploys an agent and a model whose name has spaces, quotes
// and a command substitution, then deploys again: the second run pushes nothing.
func TestDeployLocalTwice(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(t.TempDir(), "tiny 'q' $(touch pwned).bin")
	b, err := os.ReadFile(fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-7v0-834K-FP32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(model, b, 0o644); err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(t.TempDir(), "agent") // any file stands in for the agent here
	if err := os.WriteFile(agent, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"deploy", "--no-adb", "--local", dir, "--agent", agent, "--model", model}
	code, out, errOut := run(t, args...)
	if code != 0 || !strings.Contains(out, "local: pushed 2 files") {
		t.Fatalf("first deploy (exit %d):\n%s%s", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "models", filepath.Base(model))); !bytes.Equal(got, b) {
		t.Errorf("model did not arrive intact")
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "pwned")); err == nil {
		t.Errorf("the model's name was executed")
	}
	code, out, errOut = run(t, args...)
	if code != 0 || !strings.Contains(out, "local: pushed 0 files (0 B), skipped 2 unchanged") {
		t.Fatalf("second deploy (exit %d):\n%s%s", code, out, errOut)
	}
}

func TestDeployErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing model", []string{"deploy", "--no-adb", "--local", t.TempDir(), "--model", "/nonexistent.bin"}, nil, "--model /nonexistent.bin"},
		{"unknown device", []string{"deploy", "--no-adb", "--local", t.TempDir(), "--device", "R58M"}, nil, "--device R58M: no such device"},
		{"qnn without sdk", []string{"deploy", "--no-adb", "--local", t.TempDir(), "--qnn"}, map[string]string{"QNN_SDK_ROOT": ""}, "QNN_SDK_ROOT is not set"},
		{"bad output", []string{"devices", "--no-adb", "-o", "yaml"}, nil, `--output "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, _, errOut := run(t, tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want failure mentioning %q", code, errOut, tt.want)
			}
		})
	}
}
