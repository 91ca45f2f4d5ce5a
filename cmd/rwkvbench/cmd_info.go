package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/rwkvbench/rwkvbench/model"
)

func runInfo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "info", "", "Show a checkpoint's architecture as read from its tensor shapes: version, layers (L),\n"+
		"width (C), heads (H) and head size (N), FFN size (F), vocabulary (V), LoRA ranks,\n"+
		"parameter count, storage dtype, container format and group-norm epsilon.")
	path := fs.String("model", "", "checkpoint `file`: PyTorch .pth, safetensors or rwkv.cpp .bin (required)")
	output := fs.StringP("output", "o", "text", "output `format`: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the checkpoint goes in --model)", fs.Arg(0))
	}
	if *path == "" {
		return errors.New("--model is required")
	}
	if *output != "text" && *output != "json" {
		return fmt.Errorf("--output %q: want text or json", *output)
	}
	m, err := model.Load(*path)
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.Config
	info := modelInfo{
		Path: m.Path, Format: m.Format, Version: string(c.Version),
		Layers: c.Layers, Embd: c.Embd, Heads: c.Heads, HeadSize: c.HeadSize, FFN: c.FFN, Vocab: c.Vocab,
		Params: c.Params, DType: string(c.DType), GroupNormEps: c.GroupNormEps,
	}
	switch c.Version {
	case model.V6:
		info.LoRA = map[string]int{"mix": c.MixLoRA, "decay": c.DecayLoRA}
	case model.V7:
		info.LoRA = map[string]int{"decay": c.DecayLoRA, "alpha": c.AlphaLoRA, "value": c.ValueLoRA, "gate": c.GateLoRA}
	}
	if *output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "file\t%s\n", info.Path)
	fmt.Fprintf(w, "format\t%s\n", info.Format)
	fmt.Fprintf(w, "version\tRWKV %s\n", info.Version)
	fmt.Fprintf(w, "layers (L)\t%d\n", info.Layers)
	fmt.Fprintf(w, "width (C)\t%d\n", info.Embd)
	fmt.Fprintf(w, "heads × size (H × N)\t%d × %d\n", info.Heads, info.HeadSize)
	fmt.Fprintf(w, "ffn (F)\t%d\n", info.FFN)
	fmt.Fprintf(w, "vocab (V)\t%d\n", info.Vocab)
	switch c.Version {
	case model.V6:
		fmt.Fprintf(w, "LoRA ranks\tmix %d, decay %d\n", c.MixLoRA, c.DecayLoRA)
	case model.V7:
		fmt.Fprintf(w, "LoRA ranks\tdecay %d, alpha %d, value %d, gate %d\n", c.DecayLoRA, c.AlphaLoRA, c.ValueLoRA, c.GateLoRA)
	default:
		fmt.Fprintf(w, "LoRA ranks\tnone\n")
	}
	fmt.Fprintf(w, "parameters\t%d (%.2fM)\n", info.Params, float64(info.Params)/1e6)
	fmt.Fprintf(w, "storage dtype\t%s\n", info.DType)
	fmt.Fprintf(w, "group-norm eps\t%g\n", info.GroupNormEps)
	return w.Flush()
}

// modelInfo is what info prints; the JSON field names are part of the CLI's output
// contract.
type modelInfo struct {
	Path         string         `json:"path"`
	Format       string         `json:"format"`
	Version      string         `json:"version"`
	Layers       int            `json:"n_layer"`
	Embd         int            `json:"n_embd"`
	Heads        int            `json:"n_head"`
	HeadSize     int            `json:"head_size"`
	FFN          int            `json:"dim_ffn"`
	Vocab        int            `json:"n_vocab"`
	LoRA         map[string]int `json:"lora_ranks,omitempty"`
	Params       int64          `json:"params"`
	DType        string         `json:"dtype"`
	GroupNormEps float32        `json:"group_norm_eps"`
}
