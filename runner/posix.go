package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// The helpers below implement Device file operations with nothing but a POSIX
// shell, coreutils/toybox and the command's standard streams, for transports that
// have no file-transfer protocol of their own (SSH without SFTP). Paths always
// travel as positional parameters ("$1"), never inside the script text.

// TempName returns a name beside remote for a push in progress: hidden, unique,
// in the same directory so that the final rename is atomic.
func TempName(remote string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return path.Join(path.Dir(remote), ".rwkvbench-push-"+hex.EncodeToString(b[:]))
}

// PushViaStdin streams a local file into `cat` on the device, writing a temporary
// name and renaming it when complete.
func PushViaStdin(ctx context.Context, d Device, local, remote string, progress func(int64)) error {
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("push %s: %w", local, err)
	}
	defer f.Close()
	mode := "644"
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o111 != 0 {
		mode = "755"
	}
	tmp := TempName(remote)
	const script = `mkdir -p "$(dirname "$1")" && cat > "$2" && chmod "$3" "$2" && mv -f "$2" "$1" || { rm -f "$2"; exit 1; }`
	err = d.Run(ctx, Cmd{Args: []string{"sh", "-c", script, "sh", remote, tmp, mode}, Dir: "/", Stdin: CountingReader(f, progress)})
	if err != nil {
		return fmt.Errorf("push %s to %s:%s: %w", local, d.Serial(), remote, err)
	}
	return nil
}

// PullViaStdout copies a remote file to local with `cat`.
func PullViaStdout(ctx context.Context, d Device, remote, local string) error {
	out, err := os.Create(local)
	if err != nil {
		return fmt.Errorf("pull %s:%s: %w", d.Serial(), remote, err)
	}
	err = d.Run(ctx, Cmd{Args: []string{"cat", remote}, Dir: "/", Stdout: out})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(local)
		return fmt.Errorf("pull %s:%s: %w", d.Serial(), remote, err)
	}
	return nil
}

// statMissing is the exit status the stat and sha256 scripts use for a missing
// file, so that it can be told from a broken command.
const statMissing = 3

// StatPOSIX stats a remote file with `stat -c`; a missing file is fs.ErrNotExist.
func StatPOSIX(ctx context.Context, d Device, remote string) (FileInfo, error) {
	var out strings.Builder
	err := d.Run(ctx, Cmd{Args: []string{"sh", "-c", `[ -f "$1" ] || exit 3; stat -c '%s %Y' "$1"`, "sh", remote}, Dir: "/", Stdout: &out})
	if err != nil {
		return FileInfo{}, missingOr(err, "stat", d, remote)
	}
	fi, err := parseStat(out.String())
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat %s:%s: %w", d.Serial(), remote, err)
	}
	return fi, nil
}

func parseStat(out string) (FileInfo, error) {
	f := strings.Fields(out)
	if len(f) != 2 {
		return FileInfo{}, fmt.Errorf("unexpected stat output %q", out)
	}
	size, err1 := strconv.ParseInt(f[0], 10, 64)
	mtime, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || size < 0 {
		return FileInfo{}, fmt.Errorf("unexpected stat output %q", out)
	}
	return FileInfo{Size: size, ModTime: time.Unix(mtime, 0).UTC()}, nil
}

// SHA256POSIX hashes a remote file with sha256sum (coreutils, busybox, toybox).
func SHA256POSIX(ctx context.Context, d Device, remote string) (string, error) {
	var out strings.Builder
	err := d.Run(ctx, Cmd{Args: []string{"sh", "-c", `[ -f "$1" ] || exit 3; sha256sum < "$1"`, "sh", remote}, Dir: "/", Stdout: &out})
	if err != nil {
		return "", missingOr(err, "sha256", d, remote)
	}
	f := strings.Fields(out.String())
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("sha256 %s:%s: unexpected sha256sum output %q", d.Serial(), remote, out.String())
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		return "", fmt.Errorf("sha256 %s:%s: unexpected sha256sum output %q", d.Serial(), remote, out.String())
	}
	return strings.ToLower(f[0]), nil
}

func missingOr(err error, op string, d Device, remote string) error {
	var exit *ExitError
	if errors.As(err, &exit) && exit.Code == statMissing {
		return fmt.Errorf("%s %s:%s: %w", op, d.Serial(), remote, fs.ErrNotExist)
	}
	return fmt.Errorf("%s %s:%s: %w", op, d.Serial(), remote, err)
}

// ReadRemote returns a small remote file's content, or fs.ErrNotExist.
func ReadRemote(ctx context.Context, d Device, remote string, limit int64) ([]byte, error) {
	var out limitedBuffer
	out.limit = limit
	err := d.Run(ctx, Cmd{Args: []string{"sh", "-c", `[ -f "$1" ] || exit 3; cat "$1"`, "sh", remote}, Dir: "/", Stdout: &out})
	if err != nil {
		return nil, missingOr(err, "read", d, remote)
	}
	if out.over {
		return nil, fmt.Errorf("read %s:%s: larger than %d bytes", d.Serial(), remote, limit)
	}
	return out.buf, nil
}

type limitedBuffer struct {
	buf   []byte
	limit int64
	over  bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if int64(len(l.buf)+len(p)) > l.limit {
		l.over = true
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

var _ io.Writer = (*limitedBuffer)(nil)
