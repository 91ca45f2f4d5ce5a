package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
)

// Local is this host as a device. Commands go through /bin/sh with the same
// CommandLine quoting as remote devices, so the host exercises the exact command
// lines a phone receives.
type Local struct {
	dir string
}

// NewLocal returns the host as a device working in dir, which is created if needed.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local device: work directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local device: %w", err)
	}
	return &Local{dir: abs}, nil
}

// Serial implements Device.
func (l *Local) Serial() string { return "local" }

// Transport implements Device.
func (l *Local) Transport() string { return "local" }

// Workdir implements Device.
func (l *Local) Workdir() string { return l.dir }

// Run implements Device.
func (l *Local) Run(ctx context.Context, c Cmd) error {
	line, err := CommandLine(c, l.dir)
	if err != nil {
		return fmt.Errorf("device local: %w", err)
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	cmd.Stdin, cmd.Stdout = c.Stdin, c.Stdout
	tail := &Tail{}
	cmd.Stderr = tail
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, tail)
	}
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() >= 0 && ctx.Err() == nil {
		return &ExitError{Device: "local", Args: c.Args, Code: exit.ExitCode(), Stderr: tail.String()}
	}
	if err != nil {
		return fmt.Errorf("device local: run %q: %w", c.Args, err)
	}
	return nil
}

// Push implements Device.
func (l *Local) Push(ctx context.Context, local, remote string, progress func(int64)) error {
	remote = l.abs(remote)
	src, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("push %s: %w", local, err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(remote), 0o755); err != nil {
		return fmt.Errorf("push %s to local:%s: %w", local, remote, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(remote), ".push-*")
	if err != nil {
		return fmt.Errorf("push %s to local:%s: %w", local, remote, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	var w io.Writer = tmp
	if progress != nil {
		w = &countingWriter{w: tmp, report: progress}
	}
	if _, err := io.Copy(w, readerWithContext{ctx, src}); err != nil {
		tmp.Close()
		return fmt.Errorf("push %s to local:%s: %w", local, remote, err)
	}
	if st, err := src.Stat(); err == nil {
		_ = tmp.Chmod(st.Mode().Perm())
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("push %s to local:%s: %w", local, remote, err)
	}
	if err := os.Rename(tmp.Name(), remote); err != nil {
		return fmt.Errorf("push %s to local:%s: %w", local, remote, err)
	}
	return nil
}

// Pull implements Device.
func (l *Local) Pull(ctx context.Context, remote, local string) error {
	src, err := os.Open(l.abs(remote))
	if err != nil {
		return fmt.Errorf("pull local:%s: %w", remote, err)
	}
	defer src.Close()
	dst, err := os.Create(local)
	if err != nil {
		return fmt.Errorf("pull local:%s: %w", remote, err)
	}
	if _, err := io.Copy(dst, readerWithContext{ctx, src}); err != nil {
		dst.Close()
		return fmt.Errorf("pull local:%s to %s: %w", remote, local, err)
	}
	return dst.Close()
}

// Stat implements Device.
func (l *Local) Stat(ctx context.Context, remote string) (FileInfo, error) {
	st, err := os.Stat(l.abs(remote))
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat local:%s: %w", remote, err)
	}
	return FileInfo{Size: st.Size(), ModTime: st.ModTime()}, nil
}

// SHA256 implements Device.
func (l *Local) SHA256(ctx context.Context, remote string) (string, error) {
	return FileSHA256(l.abs(remote))
}

// Describe implements Device.
func (l *Local) Describe(ctx context.Context) (Info, error) {
	return DescribePOSIX(ctx, l, nil)
}

// ThermalState implements Device and bench.Thermal.
func (l *Local) ThermalState(ctx context.Context) (bench.ThermalState, error) {
	info, err := l.Describe(ctx)
	if err != nil {
		return bench.ThermalState{}, err
	}
	return info.ThermalState(), nil
}

// Close implements Device; the work directory is kept, as deploys are meant to
// outlive a process.
func (l *Local) Close() error { return nil }

func (l *Local) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir, p)
}

// FileSHA256 returns the hex sha256 of a local file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("sha256 %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("sha256 %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ModelSHA256 is what results are keyed by: a checkpoint file's SHA-256, or for a
// synthetic model (synthetic:<name>, built rather than read) the digest of its name,
// shape and seed.
func ModelSHA256(path string) (string, error) {
	if name, ok := strings.CutPrefix(path, synthetic.PathPrefix); ok {
		sum, err := synthetic.Digest(name)
		if err != nil {
			return "", fmt.Errorf("model %s: %w", path, err)
		}
		return sum, nil
	}
	return FileSHA256(path)
}

// Tail keeps the last 2 KiB written to it: the end of a failed command's standard
// error, which is where the reason usually is. It is safe for concurrent writes.
type Tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 2048

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

// String returns the kept text, trimmed.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

type countingWriter struct {
	w      io.Writer
	n      int64
	report func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.report(c.n)
	return n, err
}

// CountingReader wraps r and calls report with the running byte count, for
// progress bars over streamed pushes.
func CountingReader(r io.Reader, report func(int64)) io.Reader {
	if report == nil {
		return r
	}
	return &countingReader{r: r, report: report}
}

type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.report(c.n)
	}
	return n, err
}

// readerWithContext stops a copy when the context ends.
type readerWithContext struct {
	ctx context.Context
	r   io.Reader
}

func (r readerWithContext) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
