//go:build ((linux && !android) || darwin || (android && cgo)) && (amd64 || arm64)

package qnn

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// RTLD_LOCAL keeps the backend's symbols out of the global namespace, as Qualcomm's
// samples load it; the backend still finds its Stub by name through the loader path.
func dlopen(path string) (uintptr, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return 0, fmt.Errorf("dlopen %s: %w", path, err)
	}
	return h, nil
}

func dlsym(lib uintptr, name string) (uintptr, error) {
	return purego.Dlsym(lib, name)
}

func dlclose(lib uintptr) error { return purego.Dlclose(lib) }

// ccall calls a C function taking only integer and pointer arguments. Every QNN entry
// point on the binding's path is of that kind (qnn-abi.md §5.5), so the untyped
// SyscallN path suffices.
//
//go:uintptrescapes
func ccall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// available: this build can load QNN libraries.
const available = true
