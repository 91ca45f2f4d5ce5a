package adbemu

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Packet ids of adb's shell protocol v2: each packet is an id byte, a little-endian
// uint32 length and the data.
const (
	shellStdin      = 0
	shellStdout     = 1
	shellStderr     = 2
	shellExit       = 3
	shellCloseStdin = 4
	shellWindowSize = 5
)

// devicePrefixes are the device directories that exist under the root; commands
// name them by their device paths, rewriteDevicePaths points them into the root.
var devicePrefixes = []string{
	"/data", "/sdcard", "/system", "/vendor",
	"/sys/devices/soc0", "/sys/class/thermal", "/sys/class/power_supply",
}

// rewriteDevicePaths replaces each device path prefix that starts a word (after
// the start, a blank, a quote, =, :, or a shell operator) and ends at a path
// boundary with root+prefix. root holds only characters that mean nothing to the
// shell (New enforces it), so the substitution keeps every quote and every word of
// the command as it was: a file name cannot break out of its quoting here.
//
// The limitation is that this is text, not a filesystem: a device path that a
// command builds at run time ("/da"+"ta") or reads from a file is not rewritten, a
// literal such as echo '/data' is, and output shows host paths.
func rewriteDevicePaths(command, root string) string {
	var b strings.Builder
	for i := 0; i < len(command); {
		if command[i] == '/' && (i == 0 || strings.IndexByte(" \t\n'\"=:;&|()<>`", command[i-1]) >= 0) {
			if p := matchPrefix(command[i:]); p != "" {
				b.WriteString(root)
				b.WriteString(p)
				i += len(p)
				continue
			}
		}
		b.WriteByte(command[i])
		i++
	}
	return b.String()
}

func matchPrefix(s string) string {
	for _, p := range devicePrefixes {
		if !strings.HasPrefix(s, p) {
			continue
		}
		rest := s[len(p):]
		if rest == "" || !isPathChar(rest[0]) {
			return p
		}
	}
	return ""
}

func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// shellEnv is the whole environment of device commands: the host PATH behind the
// device's /system/bin, and the variables an Android shell has, inside the root.
// Nothing else of the emulator's environment leaks in.
func shellEnv(root string) []string {
	return []string{
		"PATH=" + filepath.Join(root, "system/bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + root,
		"TMPDIR=" + filepath.Join(root, "data/local/tmp"),
		"ANDROID_DATA=" + filepath.Join(root, "data"),
		"ANDROID_ROOT=" + filepath.Join(root, "system"),
		"EXTERNAL_STORAGE=" + filepath.Join(root, "sdcard"),
		"ADBEMU_ROOT=" + root,
		"LANG=C.UTF-8",
	}
}

// runShell runs one shell or exec service. An empty command is an interactive
// shell, without a terminal. With v2 the output travels in shell protocol packets
// and ends with the exit code; raw, stdout and stderr share the stream and the exit
// code is lost, as with a real device.
func (d *Device) runShell(ctx context.Context, s *stream, command string, v2 bool) {
	args := []string{"-c", rewriteDevicePaths(command, d.rootDir)}
	if command == "" {
		args = nil
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = d.rootDir
	cmd.Env = d.env
	setProcessGroup(cmd)

	var stdout, stderr io.Writer = s, s
	if v2 {
		stdout = &packetWriter{s: s, id: shellStdout}
		stderr = &packetWriter{s: s, id: shellStderr}
	}
	code, err := d.execute(ctx, s, cmd, stdout, stderr, v2)
	if err != nil {
		s.c.log.Info("shell command could not run", "command", command, "err", err)
		fmt.Fprintf(stderr, "adbemu: %v\n", err)
		code = 127
	}
	s.c.log.Debug("shell command finished", "command", command, "exit", code)
	if v2 {
		exit := []byte{shellExit, 1, 0, 0, 0, byte(code)}
		s.Write(exit)
	}
}

// execute starts cmd with pipes the emulator reads itself, so that everything the
// command and its children print is forwarded before the exit code, however slow
// the host. Closing the stream or the connection kills the whole process group.
func (d *Device) execute(ctx context.Context, s *stream, cmd *exec.Cmd, stdout, stderr io.Writer, v2 bool) (int, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer outR.Close()
	cmd.Stdout, cmd.Stderr = outW, outW
	var errR *os.File
	if v2 {
		var errW *os.File
		errR, errW, err = os.Pipe()
		if err != nil {
			outW.Close()
			return 0, err
		}
		defer errR.Close()
		cmd.Stderr = errW
	}
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	// The child holds its own copies of the write ends now.
	outW.Close()
	if f, ok := cmd.Stderr.(*os.File); ok {
		f.Close()
	}
	if err != nil {
		return 0, err
	}

	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-s.done:
		case <-ctx.Done():
		case <-finished:
			return
		}
		killProcessGroup(cmd)
		// A child that left the process group may still hold the pipes: stop
		// reading them rather than wait for it.
		outR.Close()
		if errR != nil {
			errR.Close()
		}
	}()
	go pumpStdin(s, stdin, v2)

	var copies sync.WaitGroup
	copies.Go(func() { io.Copy(stdout, outR) })
	if errR != nil {
		copies.Go(func() { io.Copy(stderr, errR) })
	}
	waitErr := cmd.Wait()
	copies.Wait()
	return exitCode(waitErr)
}

// pumpStdin forwards the host's input to the command: raw bytes, or the stdin and
// close-stdin packets of shell protocol v2 (window sizes are ignored: no terminal).
// It ends when the stream does.
func pumpStdin(s *stream, stdin io.WriteCloser, v2 bool) {
	defer stdin.Close()
	// A command that closed its stdin or exited must not stall the stream: what it
	// no longer reads is dropped.
	sink := &stdinSink{w: stdin}
	if !v2 {
		io.Copy(sink, s)
		return
	}
	var h [5]byte
	for {
		if _, err := io.ReadFull(s, h[:]); err != nil {
			return
		}
		length := int64(binary.LittleEndian.Uint32(h[1:]))
		var dst io.Writer = io.Discard
		switch h[0] {
		case shellStdin:
			dst = sink
		case shellCloseStdin:
			stdin.Close()
		}
		if _, err := io.CopyN(dst, s, length); err != nil {
			return
		}
	}
}

// stdinSink writes to a command's stdin until the first error, then discards.
type stdinSink struct {
	w      io.Writer
	broken bool
}

func (k *stdinSink) Write(p []byte) (int, error) {
	if !k.broken {
		if _, err := k.w.Write(p); err != nil {
			k.broken = true
		}
	}
	return len(p), nil
}

// packetWriter frames writes as shell protocol v2 packets of one id.
type packetWriter struct {
	s  *stream
	id byte
}

func (w *packetWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), w.s.max-5)
		buf := make([]byte, 5, 5+n)
		buf[0] = w.id
		binary.LittleEndian.PutUint32(buf[1:], uint32(n))
		buf = append(buf, p[:n]...)
		if _, err := w.s.Write(buf); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}
