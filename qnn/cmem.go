package qnn

import (
	"fmt"
	"unsafe"
)

// cptr turns an address QNN returned into a pointer. The address is C memory (or
// pinned Go memory), never a Go object the collector could move or free, which is
// what makes the conversion sound; going through memory keeps vet's uintptr check
// for Go pointers quiet for exactly this case.
func cptr(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

// cread copies a T out of C memory at addr.
func cread[T any](addr uintptr) T { return *(*T)(cptr(addr)) }

// maxCString bounds reads of C strings from a library we do not trust to terminate them.
const maxCString = 1 << 16

// cstring copies a NUL-terminated C string.
func cstring(addr uintptr) string {
	if addr == 0 {
		return ""
	}
	var b []byte
	for i := uintptr(0); i < maxCString; i++ {
		c := *(*byte)(cptr(addr + i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// cstr is s as a NUL-terminated byte slice for C; it must stay referenced while C
// may read it.
func cstr(s string) []byte { return append([]byte(s), 0) }

// Version is a QNN API version.
type Version struct{ Major, Minor, Patch uint32 }

// String is "major.minor.patch".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

func (v cVersion) version() Version { return Version{v.Major, v.Minor, v.Patch} }
