package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/hexagon"
)

// hostTarget is the SDK's folder name for the x86-64 Linux tools and libraries, the
// only host the context-binary generator runs on.
const hostTarget = "x86_64-linux-clang"

// SDK is a QAIRT / QNN SDK installation.
type SDK struct {
	Root    string
	Version Version
}

// Version is a QAIRT version such as 2.42.0.251225; Build is the trailing date stamp.
type Version struct{ Major, Minor, Patch, Build int }

func (v Version) String() string {
	if v.Build != 0 {
		return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Patch, v.Build)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// minSDK is the oldest SDK the DLC pipeline accepts: the original project's HTP
// configs change shape below 2.22 ("graphs" as an object), and its README pins 2.35.3
// for the older flow and 2.42 for the DLC one.
func minSDK() Version { return Version{Major: 2, Minor: 22} }

var versionInPath = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads a version from text such as an SDK folder name
// ("qairt/2.42.0.251225") or a tool's --version output.
func ParseVersion(s string) (Version, error) {
	m := versionInPath.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("no version number in %q", s)
	}
	n := func(i int) int { x, _ := strconv.Atoi(m[i]); return x }
	return Version{Major: n(1), Minor: n(2), Patch: n(3), Build: n(4)}, nil
}

// FindSDK checks an SDK root: the tools and host libraries the pipeline calls must be
// there, and the version (from the folder name, or sdk.yaml's version line) must be
// new enough. The error lists everything missing at once.
func FindSDK(root string) (*SDK, error) {
	if root == "" {
		return nil, fmt.Errorf("no QNN SDK: set $QNN_SDK_ROOT or pass --sdk (use --dry-run to see the plan without one)")
	}
	var missing []string
	for _, t := range []string{"qairt-converter", "qairt-quantizer", "qnn-context-binary-generator"} {
		p := filepath.Join(root, "bin", hostTarget, t)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			missing = append(missing, p)
		}
	}
	for _, l := range []string{"libQnnHtp.so", "libQnnModelDlc.so", "libQnnHtpNetRunExtensions.so"} {
		p := filepath.Join(root, "lib", hostTarget, l)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("QNN SDK at %s is incomplete, missing: %s", root, strings.Join(missing, ", "))
	}
	v, err := sdkVersion(root)
	if err != nil {
		return nil, fmt.Errorf("QNN SDK at %s: %w", root, err)
	}
	if v.Less(minSDK()) {
		return nil, fmt.Errorf("QNN SDK at %s is version %s; the DLC pipeline needs %s or newer", root, v, minSDK())
	}
	return &SDK{Root: root, Version: v}, nil
}

func sdkVersion(root string) (Version, error) {
	if raw, err := os.ReadFile(filepath.Join(root, "sdk.yaml")); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "version" {
				return ParseVersion(v)
			}
		}
	}
	v, err := ParseVersion(filepath.Base(filepath.Clean(root)))
	if err != nil {
		return Version{}, fmt.Errorf("cannot tell the SDK version: no sdk.yaml version line and %w", err)
	}
	return v, nil
}

// Tool returns the path of an SDK host tool.
func (s *SDK) Tool(name string) string { return filepath.Join(s.Root, "bin", hostTarget, name) }

// HostLib returns the path of an SDK host library.
func (s *SDK) HostLib(name string) string { return filepath.Join(s.Root, "lib", hostTarget, name) }

// Step is one external command of a plan.
type Step struct {
	Name string   // what it does, for logs and --dry-run
	Args []string // argv; Args[0] is the tool
	Log  string   // where its output is kept
	// Outputs are files the step must leave behind; a zero exit without them is
	// still a failure.
	Outputs []string
}

// File is a file a plan writes before running its steps (configs, encodings).
type File struct {
	Path    string
	Content []byte
}

// Plan is everything a conversion does outside Go: files to write and commands to run
// in order.
type Plan struct {
	Files []File
	Steps []Step
}

// Run writes the files and runs the steps, keeping each tool's output in its log.
// A failing step's error carries the end of the tool's own output, which is where
// Qualcomm's tools put the reason.
func (p *Plan) Run(ctx context.Context) error {
	for _, f := range p.Files {
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.Path, f.Content, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	for i, s := range p.Steps {
		if err := runStep(ctx, s); err != nil {
			return fmt.Errorf("step %d/%d (%s): %w", i+1, len(p.Steps), s.Name, err)
		}
	}
	return nil
}

func runStep(ctx context.Context, s Step) error {
	// Not every SDK tool creates the folder of its output; make them all first.
	for _, dir := range append([]string{filepath.Dir(s.Log)}, outputDirs(s)...) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	log, err := os.Create(s.Log)
	if err != nil {
		return err
	}
	defer log.Close()
	var tail tailBuffer
	cmd := exec.CommandContext(ctx, s.Args[0], s.Args[1:]...)
	out := io.MultiWriter(log, &tail)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed (%v); log %s; last output:\n%s", filepath.Base(s.Args[0]), err, s.Log, tail.String())
	}
	for _, out := range s.Outputs {
		if _, err := os.Stat(out); err != nil {
			return fmt.Errorf("%s exited 0 but did not write %s; log %s", filepath.Base(s.Args[0]), out, s.Log)
		}
	}
	return nil
}

func outputDirs(s Step) []string {
	dirs := make([]string, len(s.Outputs))
	for i, o := range s.Outputs {
		dirs[i] = filepath.Dir(o)
	}
	return dirs
}

// tailBuffer keeps the last lines a tool printed.
type tailBuffer struct{ buf bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if t.buf.Len() > 8192 {
		b := t.buf.Bytes()
		t.buf = *bytes.NewBuffer(append([]byte(nil), b[len(b)-4096:]...))
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	lines := strings.Split(strings.TrimRight(t.buf.String(), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// FloatWidth is the float bit width the converter uses for a chip's graphs: 16 where
// the HTP runs fp16 natively (v73 and newer), 32 on v68/v69 (the original project
// notes that SM8475, a v69, cannot use 16). This is rwkvbench's rule, derived from
// those notes; override it with ChipOptions.FloatWidth.
func FloatWidth(c hexagon.Chip) int {
	if c.Arch != 0 && c.Arch < 73 {
		return 32
	}
	return 16
}

// htpConfig is the HTP backend-extension JSON (qnn-abi.md §6.3).
type htpConfig struct {
	Graphs       []htpGraph     `json:"graphs"`
	Devices      []htpDevice    `json:"devices"`
	Context      map[string]any `json:"context,omitempty"`
	Memory       map[string]any `json:"memory"`
	GroupContext map[string]any `json:"groupContext"`
}

type htpGraph struct {
	GraphNames           []string `json:"graph_names"`
	VTCMMB               int      `json:"vtcm_mb"`
	O                    int      `json:"O"`
	FP16RelaxedPrecision *int     `json:"fp16_relaxed_precision,omitempty"`
}

type htpDevice struct {
	DeviceID  int              `json:"device_id"`
	SocModel  int              `json:"soc_model"`
	DSPArch   string           `json:"dsp_arch"`
	PDSession string           `json:"pd_session"`
	Cores     []map[string]any `json:"cores"`
}

// HTPConfig returns the HTP config JSON for a chip's context binary holding graphs.
// ("graphs" is a list, as SDKs from 2.22 on expect; FindSDK refuses older ones.)
func HTPConfig(c hexagon.Chip, graphs []string) ([]byte, error) {
	if c.Arch == 0 || c.SocModel == 0 {
		return nil, fmt.Errorf("chip %s: the catalog has no HTP arch or soc_model for it, so no context binary can target it", c.SoC)
	}
	g := htpGraph{GraphNames: graphs, VTCMMB: 0, O: 3}
	if !c.NoFP16RelaxedPrecision {
		one := 1
		g.FP16RelaxedPrecision = &one
	}
	cfg := htpConfig{
		Graphs: []htpGraph{g},
		Devices: []htpDevice{{
			DeviceID: 0, SocModel: c.SocModel, DSPArch: c.DSPArch(), PDSession: "unsigned",
			Cores: []map[string]any{{"perf_profile": "burst"}},
		}},
		Memory:       map[string]any{"mem_type": "shared_buffer"},
		GroupContext: map[string]any{"share_resources": true},
	}
	if len(graphs) > 1 {
		cfg.Context = map[string]any{"weight_sharing_enabled": true}
	}
	return marshalIndent(cfg)
}

func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
