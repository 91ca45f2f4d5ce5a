// Package pth reads PyTorch checkpoints written by torch.save without Python.
package pth

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Read loads every tensor of a .pth file.
func Read(path string) (*tensor.Set, error) {
	return nil, fmt.Errorf("read %s: .pth reader not implemented yet", path)
}
