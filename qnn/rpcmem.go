package qnn

import (
	"fmt"
	"unsafe"
)

// rpcmem is libcdsprpc's shared-memory allocator: buffers the DSP maps without a
// copy, registered with memRegister (qnn-abi.md §5.4).
type rpcmem struct {
	alloc, free, toFd uintptr
}

// loadRPCMem loads the allocator; nil (plain buffers) when it is absent or disabled.
func loadRPCMem(path, goos string) *rpcmem {
	if path == "none" {
		return nil
	}
	if path == "" {
		path = "libcdsprpc.so"
		if goos == "windows" {
			path = "libcdsprpc.dll"
		}
	}
	lib, err := dlopen(path)
	if err != nil {
		return nil
	}
	var m rpcmem
	for _, s := range []struct {
		name string
		fn   *uintptr
	}{{"rpcmem_alloc", &m.alloc}, {"rpcmem_free", &m.free}, {"rpcmem_to_fd", &m.toFd}} {
		if *s.fn, err = dlsym(lib, s.name); err != nil || *s.fn == 0 {
			return nil
		}
	}
	return &m
}

// The heap and flags public QNN integrations pass (RPCMEM_HEAP_ID_SYSTEM,
// RPCMEM_DEFAULT_FLAGS); not checked against the Hexagon SDK's rpcmem.h.
const (
	rpcmemHeapSystem  = 25
	rpcmemFlagDefault = 1
)

// allocate returns a shared buffer of n bytes, its C address and its fd.
func (m *rpcmem) allocate(n int) ([]byte, uintptr, int32, error) {
	p := ccall(m.alloc, rpcmemHeapSystem, rpcmemFlagDefault, uintptr(n))
	if p == 0 {
		return nil, 0, 0, fmt.Errorf("rpcmem_alloc(%d bytes) failed", n)
	}
	fd := int32(ccall(m.toFd, p))
	if fd < 0 {
		ccall(m.free, p)
		return nil, 0, 0, fmt.Errorf("rpcmem_to_fd failed for a %d-byte buffer", n)
	}
	return unsafe.Slice((*byte)(cptr(p)), n), p, fd, nil
}

func (m *rpcmem) release(p uintptr) { ccall(m.free, p) }
