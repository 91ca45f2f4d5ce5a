//go:build !unix

package adbemu

import (
	"errors"
	"io/fs"
	"os/exec"
)

// The emulator is meant for Unix hosts; elsewhere it builds, and commands run
// without process groups.

func setProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	return ee.ExitCode(), nil
}

func statDetails(fi fs.FileInfo) (dev, ino uint64, mode, nlink, uid, gid uint32, atime, ctime int64) {
	return 0, 0, unixMode(fi.Mode()), 1, 0, 0, fi.ModTime().Unix(), fi.ModTime().Unix()
}
