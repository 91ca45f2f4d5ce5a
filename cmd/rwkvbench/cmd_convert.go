package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwkvbench/rwkvbench/convert"
	"github.com/rwkvbench/rwkvbench/hexagon"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

func runConvert(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "convert", "", `Convert a checkpoint into per-chip QNN context binaries, without Python: the ONNX
graphs (decode and prefill, optionally chunked) and AIMET encodings are written in Go,
then only Qualcomm's own tools run (qairt-converter, qairt-quantizer,
qnn-context-binary-generator). Quantization encodings come from calibrating the CPU
engine, the same encodings the CPU simulation of a16w8/a16w4 uses.

Examples:
  rwkvbench convert --model rwkv7-1.5b.pth --precision a16w4 --chip SM8650,SM8750 --dry-run
  rwkvbench convert --model rwkv7-0.1b.pth --precision fp16 --chip SM8650 --emit onnx --out build/`)
	modelPath := fs.String("model", "", "checkpoint (.pth, .safetensors or rwkv.cpp .bin)")
	prec := fs.String("precision", "a16w8", "fp16, a16w8 or a16w4")
	chips := fs.StringSlice("chip", nil, "target chips, e.g. SM8650,SM8750 (nicknames such as 8gen3 work)")
	chunks := fs.Int("chunks", 1, "split the layers over this many graphs / context binaries")
	prefillLen := fs.Int("prefill-len", 16, "prefill graph window in tokens")
	out := fs.String("out", "", "output folder (default: the artifact cache, content-addressed)")
	dryRun := fs.Bool("dry-run", false, "print the whole plan (files, configs, command lines) and run nothing")
	emit := fs.String("emit", "all", "onnx (graphs only), encodings (graphs and encodings), or all (through context binaries)")
	wkv := fs.String("wkv", "primitive", "WKV as primitive ONNX ops, or customop (needs the HTP op package)")
	opPackage := fs.String("op-package", "", "x86-64 build of libQnnRwkvWkvOpPackage.so (for --wkv customop)")
	opPackageConfig := fs.String("op-package-config", "", "the op package's CPU XML (for --wkv customop)")
	sdkRoot := fs.String("sdk", os.Getenv("QNN_SDK_ROOT"), "QAIRT / QNN SDK root")
	floatWidth := fs.Int("float-width", 0, "converter float bit width, 16 or 32 (default: per chip, 16 on v73 and newer)")
	calib := fs.String("calib", "", "calibration text file (default: the built-in text)")
	encFormat := fs.String("encodings-format", string(convert.Encodings100), "AIMET encodings format: legacy or 1.0.0")
	name := fs.String("name", "", "graph and file name stem (default: the checkpoint's file name)")
	lpbq := fs.Int("lpbq-block", 0, "a16w4: encode the 4-bit weights blockwise (LPBQ) in blocks of this `size` along the input (16 or 32 in the original project; 0: per channel)")
	w4Head := fs.Bool("w4-head", false, "a16w4: quantize the head to 4 bits too (by default it stays 8-bit, as in the original recipe)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" {
		return errors.New("--model is required")
	}
	switch *emit {
	case "onnx", "encodings", "all":
	default:
		return fmt.Errorf("--emit %q: want onnx, encodings or all", *emit)
	}
	targets, err := lookupChips(*chips)
	if err != nil {
		return err
	}
	m, err := model.Load(*modelPath)
	if err != nil {
		return err
	}
	defer m.Close()
	modelHash, _, err := convert.HashFile(*modelPath)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(*modelPath), filepath.Ext(*modelPath))
	}
	o := convert.Options{
		ModelName: *name, Config: m.Config, Precision: *prec, Chips: targets, Chunks: *chunks,
		PrefillLen: *prefillLen, WKV: convert.WKV(*wkv), FloatWidth: *floatWidth,
		OpPackage: *opPackage, OpPackageConfig: *opPackageConfig,
	}
	if *emit == "all" && !*dryRun {
		if o.SDK, err = convert.FindSDK(*sdkRoot); err != nil {
			return err
		}
	}
	sdkVersion := "no-sdk"
	if o.SDK != nil {
		sdkVersion = o.SDK.Version.String()
	}
	o.OutDir = *out
	if o.OutDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no --out and no user cache folder: %w", err)
		}
		o.OutDir = filepath.Join(cache, "rwkvbench", "artifacts", convert.ArtifactKey(modelHash, o, strings.Join(*chips, ","), sdkVersion))
	}
	quantized := *prec != precision.FP16

	if *dryRun {
		return printPlan(e.stdout, o, quantized)
	}
	if *emit == "all" && cachedArtifacts(o) {
		fmt.Fprintf(e.stdout, "cached: %s (every chip's manifest verifies; nothing to do)\n", o.OutDir)
		return nil
	}

	var enc *precision.Encodings
	if quantized && *emit != "onnx" {
		fmt.Fprintf(e.stderr, "calibrating %s for %s on the CPU engine...\n", *name, *prec)
		enc, err = calibrate(ctx, m, *prec, *calib, *w4Head, *lpbq)
		if err != nil {
			return err
		}
	}
	format := convert.EncodingsFormat(*encFormat)
	if *emit != "all" {
		if err := convert.WriteGraphs(m.Tensors(), &o, enc, format); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %d graphs under %s\n", len(o.Graphs()), o.OutDir)
		return nil
	}
	manifests, err := convert.Run(ctx, m, modelHash, o, enc, format)
	if err != nil {
		return err
	}
	for _, man := range manifests {
		fmt.Fprintf(e.stdout, "%s (%s): %d context binaries, manifest %s\n", man.Chip, man.HTPArch, o.Chunks,
			filepath.Join(o.OutDir, man.Chip, "manifest.json"))
	}
	return nil
}

func lookupChips(names []string) ([]hexagon.Chip, error) {
	if len(names) == 0 {
		return nil, errors.New("--chip is required (for example --chip SM8650)")
	}
	var out []hexagon.Chip
	for _, n := range names {
		c, ok := hexagon.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("chip %q is not in the catalog (rwkvbench doctor lists what is known)", n)
		}
		out = append(out, c)
	}
	return out, nil
}

// calibrate computes a precision's encodings by running the CPU engine over the
// calibration text.
func calibrate(ctx context.Context, m *model.Model, prec, calibPath string, w4Head bool, lpbqBlock int) (*precision.Encodings, error) {
	recipe, err := precision.Plan(m.Config, prec)
	if err != nil {
		return nil, err
	}
	if w4Head {
		if prec != precision.A16W4 {
			return nil, fmt.Errorf("--w4-head applies to a16w4, not %s", prec)
		}
		head := recipe.Weights["head.weight"]
		head.Bits, head.MSE = 4, true
		recipe.Weights["head.weight"] = head
	}
	if lpbqBlock != 0 {
		if recipe, err = recipe.WithLPBQ(lpbqBlock); err != nil {
			return nil, err
		}
	}
	var tokens []int
	if calibPath == "" {
		tokens, err = precision.CalibrationTokens(m.Config.Vocab)
	} else {
		var text []byte
		text, err = os.ReadFile(calibPath)
		if err == nil {
			var tok tokenizer.Tokenizer
			tok, err = tokenizer.ForVocab(m.Config.Vocab)
			if err == nil {
				tokens = tok.Encode(text)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	ranges, err := precision.Calibrate(ctx, m, tokens)
	if err != nil {
		return nil, err
	}
	enc, err := precision.Encode(m.Tensors(), recipe, ranges)
	if err != nil {
		return nil, err
	}
	return &enc, nil
}

// cachedArtifacts reports whether every chip of o already has a manifest whose files
// verify.
func cachedArtifacts(o convert.Options) bool {
	for _, c := range o.Chips {
		if _, err := convert.ReadManifest(filepath.Join(o.OutDir, c.SoC, "manifest.json"), true); err != nil {
			return false
		}
	}
	return true
}

// printPlan shows what a conversion would do: the graphs and encodings it writes, each
// config file with its content, and every command line, quoted for a POSIX shell.
func printPlan(w io.Writer, o convert.Options, quantized bool) error {
	if quantized {
		o.Encodings = map[string]string{}
		for _, g := range o.Graphs() {
			o.Encodings[g.Name] = g.Encodings
		}
	}
	plan, err := convert.BuildPlan(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# rwkvbench convert plan: %s, v%s, %s, chips %s, %d chunk(s), prefill %d, WKV %s\n",
		o.ModelName, o.Config.Version, o.Precision, chipNames(o.Chips), o.Chunks, o.PrefillLen, o.WKV)
	fmt.Fprintf(w, "# output: %s\n\n## ONNX graphs written by rwkvbench\n", o.OutDir)
	for _, g := range o.Graphs() {
		fmt.Fprintf(w, "%s\n", g.Path)
		if quantized {
			fmt.Fprintf(w, "%s  (encodings from CPU-engine calibration)\n", g.Encodings)
		}
	}
	fmt.Fprintln(w, "\n## Config files")
	for _, f := range plan.Files {
		fmt.Fprintf(w, "### %s\n%s\n", f.Path, strings.TrimRight(string(f.Content), "\n"))
	}
	fmt.Fprintln(w, "\n## Commands")
	for i, s := range plan.Steps {
		quoted := make([]string, len(s.Args))
		for j, a := range s.Args {
			if strings.HasPrefix(a, "$QNN_SDK_ROOT/") {
				quoted[j] = `"$QNN_SDK_ROOT"/` + runner.ShellQuote(strings.TrimPrefix(a, "$QNN_SDK_ROOT/"))
			} else {
				quoted[j] = runner.ShellQuote(a)
			}
		}
		fmt.Fprintf(w, "# %d. %s (log: %s)\n%s\n", i+1, s.Name, s.Log, strings.Join(quoted, " "))
	}
	return nil
}

func chipNames(chips []hexagon.Chip) string {
	names := make([]string, len(chips))
	for i, c := range chips {
		names[i] = fmt.Sprintf("%s (%s, soc_model %d)", c.SoC, c.DSPArch(), c.SocModel)
	}
	return strings.Join(names, ", ")
}
