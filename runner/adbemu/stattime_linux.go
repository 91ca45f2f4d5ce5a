package adbemu

import (
	"io/fs"
	"syscall"
)

// statTimes returns the access and change times of stat(2) in seconds.
func statTimes(st *syscall.Stat_t, _ fs.FileInfo) (atime, ctime int64) {
	return int64(st.Atim.Sec), int64(st.Ctim.Sec)
}
