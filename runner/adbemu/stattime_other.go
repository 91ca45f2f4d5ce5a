//go:build unix && !linux

package adbemu

import (
	"io/fs"
	"syscall"
)

// statTimes stands in the modification time for the access and change times, whose
// Stat_t fields are named differently on each BSD; the emulator is a Linux device.
func statTimes(_ *syscall.Stat_t, fi fs.FileInfo) (atime, ctime int64) {
	return fi.ModTime().Unix(), fi.ModTime().Unix()
}
