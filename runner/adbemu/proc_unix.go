//go:build unix

package adbemu

import (
	"errors"
	"io/fs"
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in a process group of its own, so that the
// whole tree it starts can be killed when the host goes away.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// exitCode reports a command's exit status the way sh does: 128+n for a command
// killed by signal n.
func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}

// statDetails returns the fields of stat(2) that fs.FileInfo does not carry.
func statDetails(fi fs.FileInfo) (dev, ino uint64, mode, nlink, uid, gid uint32, atime, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, unixMode(fi.Mode()), 1, 0, 0, fi.ModTime().Unix(), fi.ModTime().Unix()
	}
	atime, ctime = statTimes(st, fi)
	return uint64(st.Dev), uint64(st.Ino), uint32(st.Mode), uint32(st.Nlink), st.Uid, st.Gid, atime, ctime
}
