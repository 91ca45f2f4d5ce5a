package qnn

import (
	"encoding/binary"
	"math"
	"unsafe"
)

func binaryAppendFloat32(b []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
}

// retrieveUnlisted asks the backend for a graph the metadata does not list, so the
// backend's own error for a missing graph can be seen.
func (c *Context) retrieveUnlisted(name string) error {
	var h uintptr
	n := cstr(name)
	return c.r.call("graphRetrieve", slotGraphRetrieve, c.handle, uintptr(unsafe.Pointer(&n[0])), uintptr(unsafe.Pointer(&h)))
}
