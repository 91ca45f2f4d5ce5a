package convert

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rwkvbench/rwkvbench/hexagon"
	"github.com/rwkvbench/rwkvbench/model"
)

// Options describe one conversion.
type Options struct {
	// ModelName names the graphs and files; sanitized to [A-Za-z0-9_].
	ModelName string
	Config    model.Config
	// Precision is fp16, a16w8 or a16w4.
	Precision string
	Chips     []hexagon.Chip
	// Chunks splits the layers over that many graphs (context binaries).
	Chunks int
	// PrefillLen is the prefill graph's window (16 by default).
	PrefillLen int
	WKV        WKV
	// OutDir receives onnx/, encodings/, dlc/ and one folder per chip.
	OutDir string
	// SDK is the SDK to run; nil plans with "$QNN_SDK_ROOT" placeholders (--dry-run).
	SDK *SDK
	// FloatWidth overrides the per-chip float bit width (0 = FloatWidth(chip)).
	FloatWidth int
	// OpPackage is the x86-64 build of the WKV op package (libQnnRwkvWkvOpPackage.so)
	// the generator loads for WKVCustomOp graphs.
	OpPackage string
	// OpPackageConfig is the op package's CPU XML the converter reads op definitions
	// from for WKVCustomOp graphs.
	OpPackageConfig string
	// Encodings maps graph names to the AIMET encodings file passed as quantization
	// overrides when converting that graph; empty for fp16.
	Encodings map[string]string
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// GraphName returns the graph (and DLC file stem) name of one graph, following the
// original project's scheme: <model>[_prefill][_chunk<i>of<N>].
func GraphName(model string, prefill bool, chunk, chunks int) string {
	name := strings.Trim(unsafeName.ReplaceAllString(model, "_"), "_")
	if name == "" {
		name = "rwkv"
	}
	if prefill {
		name += "_prefill"
	}
	if chunks > 1 {
		name += fmt.Sprintf("_chunk%dof%d", chunk, chunks)
	}
	return name
}

// ContextBinaryName is the file a chip's chunk compiles to (without ".bin").
func ContextBinaryName(model string, chunk, chunks int) string {
	name := strings.Trim(unsafeName.ReplaceAllString(model, "_"), "_") + "_combined"
	if chunks > 1 {
		name += fmt.Sprintf("_chunk%dof%d", chunk, chunks)
	}
	return name
}

// GraphFile is one exported ONNX graph the plan converts.
type GraphFile struct {
	Spec GraphSpec
	Name string // graph name, also the file stem
	Path string // .onnx path
	// Encodings is where the graph's AIMET encodings go for quantized precisions.
	Encodings string
}

// Graphs lists the ONNX graphs a conversion exports: decode and prefill per chunk.
func (o *Options) Graphs() []GraphFile {
	var out []GraphFile
	for c := 1; c <= o.Chunks; c++ {
		for _, seq := range []int{1, o.PrefillLen} {
			name := GraphName(o.ModelName, seq > 1, c, o.Chunks)
			out = append(out, GraphFile{
				Spec:      GraphSpec{SeqLen: seq, Chunks: o.Chunks, Chunk: c, WKV: o.WKV, Name: name},
				Name:      name,
				Path:      filepath.Join(o.OutDir, "onnx", name+".onnx"),
				Encodings: filepath.Join(o.OutDir, "encodings", name+".encodings"),
			})
		}
	}
	return out
}

func (o *Options) check() error {
	if o.Chunks < 1 {
		o.Chunks = 1
	}
	if o.PrefillLen == 0 {
		o.PrefillLen = 16
	}
	if o.PrefillLen < 2 {
		return fmt.Errorf("prefill length %d: must be at least 2", o.PrefillLen)
	}
	if o.WKV == "" {
		o.WKV = WKVPrimitive
	}
	switch o.Precision {
	case "fp16", "a16w8", "a16w4":
	default:
		return fmt.Errorf("precision %q: the NPU runs fp16, a16w8 or a16w4", o.Precision)
	}
	if len(o.Chips) == 0 {
		return fmt.Errorf("no target chip: pass --chip (for example SM8650)")
	}
	for _, c := range o.Chips {
		if c.Arch == 0 || c.SocModel == 0 {
			return fmt.Errorf("chip %s: the catalog has no HTP arch or soc_model for it", c.SoC)
		}
	}
	return nil
}

// sdkPath returns a path inside the SDK, or a $QNN_SDK_ROOT placeholder when planning
// without one.
func (o *Options) sdkTool(name string) string {
	if o.SDK == nil {
		return filepath.Join("$QNN_SDK_ROOT", "bin", hostTarget, name)
	}
	return o.SDK.Tool(name)
}

func (o *Options) sdkLib(name string) string {
	if o.SDK == nil {
		return filepath.Join("$QNN_SDK_ROOT", "lib", hostTarget, name)
	}
	return o.SDK.HostLib(name)
}

// BuildPlan returns the SDK steps for a conversion whose ONNX graphs (and encodings)
// are already written: DLC conversion (and quantization) once per float width, then
// one context binary per chip and chunk holding that chunk's decode and prefill
// graphs with shared weights.
func BuildPlan(o Options) (*Plan, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.WKV == WKVCustomOp && (o.OpPackage == "" || o.OpPackageConfig == "") {
		return nil, fmt.Errorf("the custom WKV op needs the op package's x86-64 library and its CPU XML config (--op-package, --op-package-config)")
	}
	plan := &Plan{}
	graphs := o.Graphs()
	quantized := o.Precision != "fp16"

	widths := map[int]bool{}
	for _, c := range o.Chips {
		widths[o.floatWidth(c)] = true
	}
	for _, w := range []int{16, 32} {
		if !widths[w] {
			continue
		}
		for _, g := range graphs {
			dlc := o.dlcPath(g.Name, w)
			args := []string{o.sdkTool("qairt-converter"), "--input_network", g.Path, "--output_path", dlc}
			args = append(args, o.layoutArgs(g.Spec)...)
			args = append(args, "--float_bitwidth", fmt.Sprint(w), "--float_bias_bitwidth", fmt.Sprint(w))
			if o.WKV == WKVCustomOp {
				args = append(args, "--op_package_config", o.OpPackageConfig)
			}
			if quantized {
				enc, ok := o.Encodings[g.Name]
				if !ok {
					return nil, fmt.Errorf("precision %s needs encodings for graph %s", o.Precision, g.Name)
				}
				args = append(args, "--quantization_overrides", enc)
			}
			plan.Steps = append(plan.Steps, Step{
				Name: fmt.Sprintf("convert %s to DLC (float width %d)", g.Name, w), Args: args,
				Log: filepath.Join(o.OutDir, "logs", fmt.Sprintf("qairt-converter_%s_fw%d.log", g.Name, w)), Outputs: []string{dlc},
			})
			if quantized {
				plan.Steps = append(plan.Steps, Step{
					Name: fmt.Sprintf("quantize %s (float width %d)", g.Name, w),
					Args: []string{o.sdkTool("qairt-quantizer"), "-i", dlc, "-o", dlc, "--enable_float_fallback", "--act_bitwidth", "16", "--bias_bitwidth", "8"},
					Log:  filepath.Join(o.OutDir, "logs", fmt.Sprintf("qairt-quantizer_%s_fw%d.log", g.Name, w)), Outputs: []string{dlc},
				})
			}
		}
	}

	for _, chip := range o.Chips {
		dir := filepath.Join(o.OutDir, chip.SoC)
		for c := 1; c <= o.Chunks; c++ {
			decode := GraphName(o.ModelName, false, c, o.Chunks)
			prefill := GraphName(o.ModelName, true, c, o.Chunks)
			stem := ContextBinaryName(o.ModelName, c, o.Chunks)
			htpPath := filepath.Join(dir, stem+"_htp_config.json")
			linkPath := filepath.Join(dir, stem+"_htp_link.json")
			htp, err := HTPConfig(chip, []string{decode, prefill})
			if err != nil {
				return nil, err
			}
			link, err := linkConfig(o.sdkLib("libQnnHtpNetRunExtensions.so"), htpPath)
			if err != nil {
				return nil, err
			}
			plan.Files = append(plan.Files, File{Path: htpPath, Content: htp}, File{Path: linkPath, Content: link})
			w := o.floatWidth(chip)
			args := []string{
				o.sdkTool("qnn-context-binary-generator"),
				"--backend", o.sdkLib("libQnnHtp.so"),
				"--model", o.sdkLib("libQnnModelDlc.so"),
				"--dlc_path", o.dlcPath(decode, w) + "," + o.dlcPath(prefill, w),
				"--output_dir", dir,
				"--binary_file", stem,
				"--config_file", linkPath,
				"--input_output_tensor_mem_type", "memhandle",
			}
			if o.WKV == WKVCustomOp {
				args = append(args, "--op_packages", o.OpPackage+":RwkvWkvOpPackageInterfaceProvider")
			}
			plan.Steps = append(plan.Steps, Step{
				Name: fmt.Sprintf("context binary %s for %s (%s)", stem, chip.SoC, chip.DSPArch()), Args: args,
				Log:     filepath.Join(o.OutDir, "logs", fmt.Sprintf("qnn-context-binary-generator_%s_%s.log", chip.SoC, stem)),
				Outputs: []string{filepath.Join(dir, stem+".bin")},
			})
		}
	}
	return plan, nil
}

func (o *Options) floatWidth(c hexagon.Chip) int {
	if o.FloatWidth != 0 {
		return o.FloatWidth
	}
	return FloatWidth(c)
}

func (o *Options) dlcPath(graph string, width int) string {
	return filepath.Join(o.OutDir, "dlc", fmt.Sprintf("fw%d", width), graph+".dlc")
}

// layoutArgs keeps the wkv-state inputs (and, for chunks, v_first and the hidden
// input) from being layout-transformed by the converter, as the original pipeline does.
func (o *Options) layoutArgs(spec GraphSpec) []string {
	var args []string
	begin, end := ChunkLayers(o.Config.Layers, spec.Chunks, spec.Chunk)
	for l := begin; l < end; l++ {
		args = append(args, "--source_model_input_layout", fmt.Sprintf("state%d_in", 3*l+1), "NONTRIVIAL")
	}
	if spec.Chunks > 1 && spec.Chunk > 1 {
		io := ioNames(spec)
		args = append(args, "--source_model_input_layout", io.vFirstIn, "NONTRIVIAL")
		args = append(args, "--source_model_input_layout", io.in, "NFC")
	}
	return args
}

func linkConfig(extensions, htpConfigPath string) ([]byte, error) {
	return marshalIndent(map[string]any{
		"backend_extensions": map[string]string{
			"shared_library_path": extensions,
			"config_file_path":    htpConfigPath,
		},
	})
}
