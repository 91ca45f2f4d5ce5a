package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/hexagon"
	"github.com/rwkvbench/rwkvbench/model"
)

// standInTool is a shell script that plays one QNN SDK tool in tests. It is NOT
// Qualcomm's tool: it records its argv and writes placeholder outputs where the real
// tool would, and fails on request, so the plan's command lines can be checked
// without the SDK.
const standInTool = `#!/bin/sh
# STAND-IN for the QNN SDK tool %[1]s (rwkvbench tests). Not Qualcomm's tool:
# records its argv and writes placeholder outputs.
{ printf '%%s' '%[1]s'; for a in "$@"; do printf '\037%%s' "$a"; done; printf '\036'; } >> '%[2]s'
if [ "$STANDIN_FAIL" = '%[1]s' ]; then echo "ERROR: stand-in %[1]s asked to fail: bad graph" >&2; exit 3; fi
prev=""; outdir=""; bin=""
for a in "$@"; do
  case "$prev" in
    --output_path|-o) printf 'STAND-IN output of %[1]s\n' > "$a" ;;
    --output_dir) outdir="$a" ;;
    --binary_file) bin="$a" ;;
  esac
  prev="$a"
done
if [ -n "$outdir" ]; then printf 'STAND-IN context binary\n' > "$outdir/$bin.bin"; fi
`

// standInSDK lays out a fake SDK root of the given version with stand-in tools and
// empty host libraries, and returns it with the path of the argv log.
func standInSDK(t *testing.T, version string) (root, argvLog string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "qairt", version)
	argvLog = filepath.Join(t.TempDir(), "argv.log")
	bin := filepath.Join(root, "bin", hostTarget)
	lib := filepath.Join(root, "lib", hostTarget)
	for _, d := range []string{bin, lib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"qairt-converter", "qairt-quantizer", "qnn-context-binary-generator"} {
		script := fmt.Sprintf(standInTool, tool, argvLog)
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"libQnnHtp.so", "libQnnModelDlc.so", "libQnnHtpNetRunExtensions.so"} {
		if err := os.WriteFile(filepath.Join(lib, l), []byte("STAND-IN library\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, argvLog
}

func readArgv(t *testing.T, path string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	for _, rec := range strings.Split(strings.TrimSuffix(string(raw), "\x1e"), "\x1e") {
		calls = append(calls, strings.Split(rec, "\x1f"))
	}
	return calls
}

// flagValues returns every value that follows flag in argv.
func flagValues(argv []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag {
			out = append(out, argv[i+1])
		}
	}
	return out
}

func chip(t *testing.T, name string) hexagon.Chip {
	t.Helper()
	c, ok := hexagon.Lookup(name)
	if !ok {
		t.Fatalf("chip %s not in the catalog", name)
	}
	return c
}

func TestFindSDK(t *testing.T) {
	root, _ := standInSDK(t, "2.42.0.251225")
	sdk, err := FindSDK(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := sdk.Version.String(); got != "2.42.0.251225" {
		t.Errorf("version %s", got)
	}
	old, _ := standInSDK(t, "2.20.0.240223")
	if _, err := FindSDK(old); err == nil || !strings.Contains(err.Error(), "2.22") {
		t.Errorf("old SDK: err = %v, want a refusal naming the minimum", err)
	}
	broken, _ := standInSDK(t, "2.42.0")
	os.Remove(filepath.Join(broken, "bin", hostTarget, "qairt-quantizer"))
	if _, err := FindSDK(broken); err == nil || !strings.Contains(err.Error(), "qairt-quantizer") {
		t.Errorf("incomplete SDK: err = %v, want the missing tool named", err)
	}
	if _, err := FindSDK(""); err == nil || !strings.Contains(err.Error(), "QNN_SDK_ROOT") {
		t.Errorf("no SDK: err = %v", err)
	}
}

func TestRunWithStandInSDK(t *testing.T) {
	set, cfg, _ := loadGoldenV7(t)
	root, argvLog := standInSDK(t, "2.42.0.251225")
	sdk, err := FindSDK(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, _, enc := goldenEncodings(t, "a16w8")
	opts := Options{
		ModelName: "RWKV-x070-test.v7", Config: cfg, Precision: "a16w8",
		Chips:  []hexagon.Chip{chip(t, "SM8650"), chip(t, "SM8350"), chip(t, "SM8635")},
		Chunks: 2, PrefillLen: 16, OutDir: out, SDK: sdk,
	}
	manifests, err := Run(context.Background(), m, "deadbeef", opts, &enc, Encodings100)
	if err != nil {
		t.Fatal(err)
	}
	calls := readArgv(t, argvLog)

	// DLC conversion: once per graph (2 chunks × decode/prefill) per float width
	// (16 for v73+/v75, 32 for the v68 SM8350), each followed by quantization.
	var converts, quantizes, generates [][]string
	for _, c := range calls {
		switch c[0] {
		case "qairt-converter":
			converts = append(converts, c)
		case "qairt-quantizer":
			quantizes = append(quantizes, c)
		case "qnn-context-binary-generator":
			generates = append(generates, c)
		}
	}
	if len(converts) != 8 || len(quantizes) != 8 || len(generates) != 6 {
		t.Fatalf("calls: %d converter, %d quantizer, %d generator; want 8, 8, 6", len(converts), len(quantizes), len(generates))
	}
	for _, c := range converts {
		in := flagValues(c, "--input_network")
		if len(in) != 1 || !strings.HasSuffix(in[0], ".onnx") {
			t.Errorf("converter input %v", in)
		}
		if _, err := os.Stat(in[0]); err != nil {
			t.Errorf("converter input not written: %v", err)
		}
		if w := flagValues(c, "--float_bitwidth"); len(w) != 1 || (w[0] != "16" && w[0] != "32") {
			t.Errorf("float bitwidth %v", w)
		}
		if enc := flagValues(c, "--quantization_overrides"); len(enc) != 1 {
			t.Errorf("quantized conversion without overrides: %v", c)
		} else if want := strings.TrimSuffix(filepath.Base(in[0]), ".onnx") + ".encodings"; filepath.Base(enc[0]) != want {
			t.Errorf("graph %s converted with encodings %s, want its own %s", filepath.Base(in[0]), enc[0], want)
		} else if _, err := os.Stat(enc[0]); err != nil {
			t.Errorf("encodings not written: %v", err)
		}
		// Every wkv-state input of the chunk keeps its layout (facts §3.1, §3.2).
		layouts := flagValues(c, "--source_model_input_layout")
		chunk2 := strings.Contains(in[0], "chunk2of2")
		wantStates := []string{"state1_in", "state4_in"}
		if chunk2 {
			wantStates = []string{"state7_in"}
		}
		for _, s := range wantStates {
			if !slices.Contains(layouts, s) {
				t.Errorf("%s: no layout override for %s (have %v)", filepath.Base(in[0]), s, layouts)
			}
		}
		if chunk2 {
			vf := "v_first_in_chunk2"
			if strings.Contains(in[0], "_prefill_") {
				vf = "v_first_in_prefill_chunk2"
			}
			if !slices.Contains(layouts, vf) {
				t.Errorf("%s: no layout override for %s", filepath.Base(in[0]), vf)
			}
		}
	}
	for _, q := range quantizes {
		for _, want := range []string{"--enable_float_fallback", "--act_bitwidth", "16", "--bias_bitwidth", "8"} {
			if !slices.Contains(q, want) {
				t.Errorf("quantizer argv %v lacks %s", q, want)
			}
		}
	}
	for _, g := range generates {
		if b := flagValues(g, "--backend"); len(b) != 1 || !strings.HasSuffix(b[0], "lib/x86_64-linux-clang/libQnnHtp.so") {
			t.Errorf("generator backend %v", b)
		}
		if mdl := flagValues(g, "--model"); len(mdl) != 1 || !strings.HasSuffix(mdl[0], "libQnnModelDlc.so") {
			t.Errorf("generator model %v", mdl)
		}
		if dlcs := flagValues(g, "--dlc_path"); len(dlcs) != 1 || strings.Count(dlcs[0], ",") != 1 {
			t.Errorf("generator should link decode and prefill DLCs: %v", dlcs)
		}
		if mt := flagValues(g, "--input_output_tensor_mem_type"); len(mt) != 1 || mt[0] != "memhandle" {
			t.Errorf("mem type %v", mt)
		}
	}

	// The HTP configs carry each chip's soc_model and dsp_arch (facts §6.3, §7.1).
	wantChips := map[string]struct {
		socModel int
		arch     string
		relaxed  bool
	}{"SM8650": {57, "v75", true}, "SM8350": {30, "v68", true}, "SM8635": {68, "v73", false}}
	for soc, want := range wantChips {
		raw, err := os.ReadFile(filepath.Join(out, soc, "RWKV_x070_test_v7_combined_chunk1of2_htp_config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cfgJSON struct {
			Graphs []struct {
				GraphNames []string `json:"graph_names"`
				O          int      `json:"O"`
				Relaxed    *int     `json:"fp16_relaxed_precision"`
			} `json:"graphs"`
			Devices []struct {
				SocModel  int    `json:"soc_model"`
				DSPArch   string `json:"dsp_arch"`
				PDSession string `json:"pd_session"`
			} `json:"devices"`
			Context struct {
				WeightSharing bool `json:"weight_sharing_enabled"`
			} `json:"context"`
			Memory struct {
				MemType string `json:"mem_type"`
			} `json:"memory"`
		}
		if err := json.Unmarshal(raw, &cfgJSON); err != nil {
			t.Fatal(err)
		}
		d := cfgJSON.Devices[0]
		if d.SocModel != want.socModel || d.DSPArch != want.arch || d.PDSession != "unsigned" {
			t.Errorf("%s: device %+v", soc, d)
		}
		g := cfgJSON.Graphs[0]
		if !slices.Equal(g.GraphNames, []string{"RWKV_x070_test_v7_chunk1of2", "RWKV_x070_test_v7_prefill_chunk1of2"}) || g.O != 3 {
			t.Errorf("%s: graphs %+v", soc, g)
		}
		if (g.Relaxed != nil) != want.relaxed {
			t.Errorf("%s: fp16_relaxed_precision present=%v, want %v", soc, g.Relaxed != nil, want.relaxed)
		}
		if !cfgJSON.Context.WeightSharing || cfgJSON.Memory.MemType != "shared_buffer" {
			t.Errorf("%s: context/memory %s", soc, raw)
		}
	}

	// Manifests verify against the files on disk.
	if len(manifests) != 3 {
		t.Fatalf("%d manifests", len(manifests))
	}
	for _, soc := range []string{"SM8650", "SM8350", "SM8635"} {
		man, err := ReadManifest(filepath.Join(out, soc, "manifest.json"), true)
		if err != nil {
			t.Fatal(err)
		}
		if man.Chip != soc || man.SDKVersion != "2.42.0.251225" || man.Precision != "a16w8" || len(man.Graphs) != 4 {
			t.Errorf("manifest %+v", man)
		}
	}
	// A file changed after conversion is caught.
	bin := filepath.Join(out, "SM8650", "RWKV_x070_test_v7_combined_chunk1of2.bin")
	if err := os.WriteFile(bin, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(filepath.Join(out, "SM8650", "manifest.json"), true); err == nil {
		t.Error("tampered artifact passed verification")
	}
}

func TestRunReportsTheToolsOwnError(t *testing.T) {
	set, cfg, _ := loadGoldenV7(t)
	root, _ := standInSDK(t, "2.42.0")
	sdk, err := FindSDK(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromSet(set)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STANDIN_FAIL", "qnn-context-binary-generator")
	out := t.TempDir()
	_, err = Run(context.Background(), m, "x", Options{
		ModelName: "m", Config: cfg, Precision: "fp16", Chips: []hexagon.Chip{chip(t, "SM8750")},
		OutDir: out, SDK: sdk,
	}, nil, Encodings100)
	if err == nil || !strings.Contains(err.Error(), "bad graph") || !strings.Contains(err.Error(), "SM8750") {
		t.Fatalf("err = %v, want the tool's own message and the chip", err)
	}
	if _, statErr := os.Stat(filepath.Join(out, "SM8750", "manifest.json")); statErr == nil {
		t.Error("a failed conversion left a manifest")
	}
}

func TestBuildPlanRefusesBadOptions(t *testing.T) {
	cfg := model.Config{Version: model.V7, Layers: 2}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"precision", Options{Precision: "int3", Chips: []hexagon.Chip{chip(t, "SM8650")}, Config: cfg}, "precision"},
		{"no chip", Options{Precision: "fp16", Config: cfg}, "chip"},
		{"unknown arch", Options{Precision: "fp16", Chips: []hexagon.Chip{{SoC: "SM0000"}}, Config: cfg}, "SM0000"},
		{"custom op without package", Options{Precision: "fp16", WKV: WKVCustomOp, Chips: []hexagon.Chip{chip(t, "SM8650")}, Config: cfg}, "op package"},
		{"quantized without encodings", Options{Precision: "a16w4", Chips: []hexagon.Chip{chip(t, "SM8650")}, Config: cfg}, "encodings"},
	}
	for _, tc := range tests {
		if _, err := BuildPlan(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want mention of %q", tc.name, err, tc.want)
		}
	}
}
