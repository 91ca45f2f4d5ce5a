//go:build windows && (amd64 || arm64)

package qnn

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/windows"
)

// LOAD_WITH_ALTERED_SEARCH_PATH with a full path lets QnnHtp.dll find the
// QnnHtpVxxStub.dll beside it (qnn-abi.md §5.1).
// The flag is only defined for absolute paths, so a bare name goes to the
// standard search order instead.
func dlopen(path string) (uintptr, error) {
	var flags uintptr
	if abs, err := filepath.Abs(path); err == nil {
		if _, err := os.Stat(abs); err == nil {
			path, flags = abs, windows.LOAD_WITH_ALTERED_SEARCH_PATH
		}
	}
	h, err := windows.LoadLibraryEx(path, 0, flags)
	if err != nil {
		return 0, fmt.Errorf("LoadLibraryEx %s: %w", path, err)
	}
	return uintptr(h), nil
}

func dlsym(lib uintptr, name string) (uintptr, error) {
	return windows.GetProcAddress(windows.Handle(lib), name)
}

func dlclose(lib uintptr) error { return windows.FreeLibrary(windows.Handle(lib)) }

//go:uintptrescapes
func ccall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// available: this build can load QNN libraries.
const available = true
