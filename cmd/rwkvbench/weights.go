package main

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/kernel"
	"github.com/spf13/pflag"
)

// weightsFlag adds --weights, the CPU engine's weight storage (model.Options.
// WeightStorage), to a command. It is the host engine's own storage mode, not one of
// the simulated device precisions of --precision.
func weightsFlag(fs *pflag.FlagSet) *string {
	return fs.String("weights", string(kernel.F32), "CPU engine weight `storage`: f32 (the reference), f16, or int8 (one scale per row); "+
		"f16 and int8 round the projection weights once and dequantize them in the kernel — a speed mode of the host engine, "+
		"not a simulated device precision")
}

// parseWeights reads --weights.
func parseWeights(s string) (kernel.Storage, error) {
	st, err := kernel.ParseStorage(s)
	if err != nil {
		return "", fmt.Errorf("--weights %q: want f32, f16 or int8 (how the CPU engine stores the projection weights)", s)
	}
	return st, nil
}

// weightsNote describes a storage other than f32 for output lines, "" for f32.
func weightsNote(st kernel.Storage) string {
	switch st {
	case kernel.F16:
		return "held as f16 by the engine (--weights f16: projections dequantized in the kernel; a speed mode, not the f32 reference)"
	case kernel.Int8:
		return "held as int8 with one scale per row by the engine (--weights int8: projections dequantized in the kernel; a speed mode, not the f32 reference)"
	}
	return ""
}

// openEngine loads the checkpoint at path and starts a CPU engine over it with the
// given weight storage; closing the session closes the model too.
func openEngine(path string, opts model.Options) (closeBoth, error) {
	m, err := model.Load(path)
	if err != nil {
		return closeBoth{}, err
	}
	eng, err := model.NewEngine(m, opts)
	if err != nil {
		m.Close()
		return closeBoth{}, err
	}
	return closeBoth{eng, m}, nil
}
