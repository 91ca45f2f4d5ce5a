//go:build !(((linux && !android) || darwin || (android && cgo) || windows) && (amd64 || arm64))

package qnn

// This build has no foreign-function interface: android without cgo (purego needs
// cgo and the NDK there) or a platform purego does not cover. Loading fails with
// ErrUnavailable, so nothing below is ever called.

func dlopen(path string) (uintptr, error) { return 0, ErrUnavailable }

func dlsym(lib uintptr, name string) (uintptr, error) { return 0, ErrUnavailable }

func dlclose(lib uintptr) error { return nil }

// ccall reports QNN_COMMON_ERROR_PLATFORM_NOT_SUPPORTED; it is unreachable because
// dlopen fails first.
func ccall(fn uintptr, args ...uintptr) uintptr { return 1006 }

// available: this build cannot load QNN libraries.
const available = false
