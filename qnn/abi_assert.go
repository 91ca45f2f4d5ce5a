//go:build amd64 || arm64

package qnn

import "unsafe"

// Compile-time layout checks for the 64-bit targets the binding supports: each
// line fails to compile (constant index out of range) unless the size or offset
// equals the documented one, so every GOOS/GOARCH this package is built for —
// linux/arm64 and windows/arm64 included, which the tests cannot run here — has
// been checked by the compiler itself.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(cInterfaceHeader{})-40]
	_ = [1]struct{}{}[unsafe.Sizeof(cInterface{})-608]
	_ = [1]struct{}{}[unsafe.Sizeof(cSystemInterfaceHeader{})-32]
	_ = [1]struct{}{}[unsafe.Sizeof(cQuantizeParams{})-40]
	_ = [1]struct{}{}[unsafe.Sizeof(cTensorV2{})-136]
	_ = [1]struct{}{}[unsafe.Sizeof(cTensor{})-144]
	_ = [1]struct{}{}[unsafe.Offsetof(cTensorV2{}.QuantizeParams)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(cTensorV2{}.Rank)-72]
	_ = [1]struct{}{}[unsafe.Offsetof(cTensorV2{}.Dimensions)-80]
	_ = [1]struct{}{}[unsafe.Offsetof(cTensorV2{}.MemType)-88]
	_ = [1]struct{}{}[unsafe.Offsetof(cTensorV2{}.ClientBuf)-96]
	_ = [1]struct{}{}[unsafe.Offsetof(cTensorV2{}.IsProduced)-132]
	_ = [1]struct{}{}[unsafe.Sizeof(cGraphInfo{})-88]
	_ = [1]struct{}{}[unsafe.Sizeof(cBinaryInfo{})-144]
	_ = [1]struct{}{}[unsafe.Offsetof(cBinaryInfoV2{}.Graphs)-120]
	_ = [1]struct{}{}[unsafe.Offsetof(cBinaryInfoV3{}.Graphs)-96]
	_ = [1]struct{}{}[unsafe.Offsetof(cBinaryInfoV3{}.SocModel)-128]
	_ = [1]struct{}{}[unsafe.Sizeof(cMemDescriptor{})-48]
	_ = [1]struct{}{}[unsafe.Sizeof(cPowerConfig{})-68]
	_ = [1]struct{}{}[unsafe.Sizeof(cHtpInfrastructure{})-40]
	_ = [1]struct{}{}[unsafe.Sizeof(cConfig{})-16]
	_ = [1]struct{}{}[unsafe.Sizeof(cHtpContextCustomConfig{})-24]
)
