package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/qnn"
)

func TestDoctorABIJSON(t *testing.T) {
	code, out, stderr := run(t, "doctor", "--abi", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var abi struct {
		Structs map[string]struct {
			Size   int            `json:"size"`
			Fields map[string]int `json:"fields"`
		} `json:"structs"`
		Slots       map[string]int `json:"slots"`
		SystemSlots map[string]int `json:"systemSlots"`
	}
	if err := json.Unmarshal([]byte(out), &abi); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// Values from qnn-abi.md (QAIRT 2.43).
	checks := []struct {
		what      string
		got, want int
	}{
		{"Qnn_TensorV2_t size", abi.Structs["Qnn_TensorV2_t"].Size, 136},
		{"Qnn_TensorV2_t.name", abi.Structs["Qnn_TensorV2_t"].Fields["name"], 8},
		{"Qnn_TensorV2_t.quantizeParams", abi.Structs["Qnn_TensorV2_t"].Fields["quantizeParams"], 32},
		{"Qnn_TensorV2_t.rank", abi.Structs["Qnn_TensorV2_t"].Fields["rank"], 72},
		{"Qnn_TensorV2_t.clientBuf", abi.Structs["Qnn_TensorV2_t"].Fields["clientBuf"], 96},
		{"Qnn_Tensor_t size", abi.Structs["Qnn_Tensor_t"].Size, 144},
		{"Qnn_Tensor_t.v2.dimensions", abi.Structs["Qnn_Tensor_t"].Fields["v2.dimensions"], 88},
		{"QnnSystemContext_GraphInfo_t size", abi.Structs["QnnSystemContext_GraphInfo_t"].Size, 88},
		{"QnnSystemContext_BinaryInfoV3_t.graphs", abi.Structs["QnnSystemContext_BinaryInfoV3_t"].Fields["graphs"], 96},
		{"Qnn_MemDescriptor_t size", abi.Structs["Qnn_MemDescriptor_t"].Size, 48},
		{"QnnHtpPerfInfrastructure_PowerConfig_t size", abi.Structs["QnnHtpPerfInfrastructure_PowerConfig_t"].Size, 68},
		{"QnnInterface_t table", abi.Structs["QnnInterface_t"].Fields["v2_32"], 40},
		{"slot graphExecute", abi.Slots["graphExecute"], 21},
		{"slot contextCreateFromBinary", abi.Slots["contextCreateFromBinary"], 13},
		{"slot logCreate", abi.Slots["logCreate"], 25},
		{"slot deviceGetInfrastructure", abi.Slots["deviceGetInfrastructure"], 39},
		{"system slot systemContextGetMetaData", abi.SystemSlots["systemContextGetMetaData"], 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestDoctorABIText(t *testing.T) {
	code, out, _ := run(t, "doctor", "--abi")
	if code != 0 || !strings.Contains(out, "Qnn_Tensor_t (size 144)") || !strings.Contains(out, "graphExecute") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestDoctorHost runs the checks over a fake device tree: an SM8650 (soc_id 557)
// with the HTP libraries but no op package.
func TestDoctorHost(t *testing.T) {
	root := t.TempDir()
	libs := t.TempDir()
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "sys/devices/soc0/soc_id"), "557\n")
	write(filepath.Join(root, "sys/devices/soc0/family"), "Snapdragon\n")
	for _, l := range []string{"libQnnHtp.so", "libQnnSystem.so", "libQnnHtpV75Stub.so", "libQnnHtpV75Skel.so"} {
		write(filepath.Join(libs, l), "not a real library")
	}
	t.Setenv("QNN_SDK_ROOT", "")
	code, out, stderr := run(t, "doctor", "--root", root, "--lib-dir", libs, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Findings []struct{ Check, Status, Detail string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.Check] = f.Status + ": " + f.Detail
	}
	want := map[string]string{
		"SoC":            "ok: soc_id 557: SM8650 Snapdragon 8 Gen 3, HTP v75",
		"HTP stub":       "ok: ",
		"HTP skel":       "ok: ",
		"op package":     "warn: libQnnRwkvWkvOpPackageV75.so missing",
		"backend htp":    "ok: ",
		"system library": "ok: ",
		"backend cpu":    "warn: ",
		"QNN_SDK_ROOT":   "warn: not set",
		"FastRPC":        "info: ",
	}
	for check, prefix := range want {
		if !strings.HasPrefix(got[check], prefix) {
			t.Errorf("%s: %q, want prefix %q", check, got[check], prefix)
		}
	}

	// Without the stub the text output fails, naming the file.
	os.Remove(filepath.Join(libs, "libQnnHtpV75Stub.so"))
	code, out, stderr = run(t, "doctor", "--root", root, "--lib-dir", libs)
	if code != 1 || !strings.Contains(out, "libQnnHtpV75Stub.so missing") || !strings.Contains(stderr, "1 check(s) failed") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestDoctorFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "-o", "yaml"}, "want text or json"},
		{[]string{"doctor", "--device", "abc123", "--no-adb"}, "no device abc123"},
		{[]string{"doctor", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %q", tt.args, code, stderr)
		}
	}
}

// TestDoctorDevice runs the checks on a device through the agent: here the local
// device, a work directory on this host, where no QNN library was deployed — so the
// agent's own findings come back and the missing backend library fails the check.
func TestDoctorDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	dir := t.TempDir()
	code, stdout, stderr := run(t, "doctor", "--device", "local", "--local", dir, "--no-adb", "-o", "json")
	var report struct {
		Findings []qnn.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", code, stdout, stderr, err)
	}
	found := false
	for _, f := range report.Findings {
		if strings.Contains(f.Detail, dir) || strings.Contains(f.Detail, "libQnnHtp") {
			found = true
		}
	}
	if !found {
		t.Errorf("findings %+v do not speak of the device's work directory or its libraries", report.Findings)
	}
	if _, err := os.Stat(filepath.Join(dir, "rwkvbench-agent")); err != nil {
		t.Errorf("the agent was not deployed to the device: %v", err)
	}
}
