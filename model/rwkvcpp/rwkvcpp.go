// Package pth reads rwkv.cpp model files.
package rwkvcpp

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Read loads every tensor of a rwkv.cpp .bin file.
func Read(path string) (*tensor.Set, error) {
	return nil, fmt.Errorf("read %s: rwkv.cpp .bin reader not implemented yet", path)
}
