package qnn

import "runtime"

const (
	hostGOOS = runtime.GOOS
	hostArch = runtime.GOARCH
)
