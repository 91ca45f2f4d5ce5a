// Package adb reaches Android devices through the standard adb client binary as
// runner.Devices.
//
// Opinions: the harness shells out to `adb` rather than speaking to the adb server
// itself, so that whatever adb version the user trusts (and its remote-server
// setup, -H/-P, which is how a lab spreads phones over hosts) is what runs. Every
// command line is built by runner.CommandLine and handed to `adb shell` as one
// argument; adb passes it to the device shell unchanged. Exit codes come from shell
// protocol v2; a failure with the device no longer in state "device" is reported as
// a lost connection, not as the command's failure.
package adb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/runner"
)

// DefaultWorkdir is where deploys go on a phone: the one directory adb's shell user
// may write and execute in.
const DefaultWorkdir = "/data/local/tmp/rwkvbench"

// Client runs the adb binary against one adb server.
type Client struct {
	// Path is the adb binary; "adb" from PATH when empty.
	Path string
	// Host and Port select a remote adb server (adb -H/-P); empty and zero mean
	// adb's defaults.
	Host string
	Port int
}

// Entry is one line of `adb devices -l`.
type Entry struct {
	Serial string
	// State is "device" when usable; "offline", "unauthorized", "recovery" and so
	// on otherwise.
	State string
	// Attrs holds the key:value pairs adb prints (product, model, device,
	// transport_id, usb).
	Attrs map[string]string
}

func (c Client) bin() string {
	if c.Path == "" {
		return "adb"
	}
	return c.Path
}

// args prefixes adb's server selection flags.
func (c Client) args(rest ...string) []string {
	var a []string
	if c.Host != "" {
		a = append(a, "-H", c.Host)
	}
	if c.Port != 0 {
		a = append(a, "-P", strconv.Itoa(c.Port))
	}
	return append(a, rest...)
}

func (c Client) server() string {
	s := c.Host
	if s == "" {
		s = "localhost"
	}
	if c.Port != 0 {
		s += ":" + strconv.Itoa(c.Port)
	}
	return s
}

// output runs adb with args and returns its standard output.
func (c Client) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin(), c.args(args...)...)
	var out strings.Builder
	errOut := &runner.Tail{}
	cmd.Stdout, cmd.Stderr = &out, errOut
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("adb binary %q not found (install Debian package adb or pass --adb PATH): %w", c.bin(), err)
		}
		return out.String(), fmt.Errorf("adb %s (server %s): %w: %s", strings.Join(args, " "), c.server(), err, errOut.String())
	}
	return out.String(), nil
}

// Devices lists the devices the server knows, in every state.
func (c Client) Devices(ctx context.Context) ([]Entry, error) {
	out, err := c.output(ctx, "devices", "-l")
	if err != nil {
		return nil, err
	}
	return ParseDevices(out)
}

// ParseDevices parses the output of `adb devices -l`.
func ParseDevices(out string) ([]Entry, error) {
	var entries []Entry
	sawHeader := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "List of devices attached"):
			sawHeader = true
			continue
		case strings.HasPrefix(line, "*"):
			continue // "* daemon started successfully"
		}
		if !sawHeader {
			return nil, fmt.Errorf("adb devices: unexpected line before the header: %q", line)
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("adb devices: line %q has no state", line)
		}
		e := Entry{Serial: f[0], Attrs: map[string]string{}}
		// "no permissions (...)" and similar states contain spaces; take words up to
		// the first key:value pair as the state.
		i := 1
		var state []string
		for ; i < len(f) && !strings.Contains(f[i], ":"); i++ {
			state = append(state, f[i])
		}
		e.State = strings.Join(state, " ")
		for ; i < len(f); i++ {
			if k, v, ok := strings.Cut(f[i], ":"); ok && k != "" {
				e.Attrs[k] = v
			}
		}
		if e.State == "" {
			return nil, fmt.Errorf("adb devices: line %q has no state", line)
		}
		entries = append(entries, e)
	}
	if !sawHeader {
		return nil, fmt.Errorf("adb devices: no %q header in output %q", "List of devices attached", out)
	}
	return entries, nil
}

// Connect asks the server to connect to a network device (host:port), such as an
// emulated device or a phone in wireless debugging.
func (c Client) Connect(ctx context.Context, addr string) error {
	out, err := c.output(ctx, "connect", addr)
	if err != nil {
		return err
	}
	// adb connect exits 0 even when it fails; its words say what happened.
	if !strings.Contains(out, "connected to") {
		return fmt.Errorf("adb connect %s (server %s): %s", addr, c.server(), strings.TrimSpace(out))
	}
	return nil
}

// Disconnect drops a network device from the server.
func (c Client) Disconnect(ctx context.Context, addr string) error {
	_, err := c.output(ctx, "disconnect", addr)
	return err
}

// State returns a device's state as `adb get-state` reports it ("device" when
// usable).
func (c Client) State(ctx context.Context, serial string) (string, error) {
	out, err := c.output(ctx, "-s", serial, "get-state")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Device returns the device with the given serial; workdir is DefaultWorkdir when
// empty. It does not check that the device exists: Describe and Run will.
func (c Client) Device(serial, workdir string) *Device {
	if workdir == "" {
		workdir = DefaultWorkdir
	}
	return &Device{client: c, serial: serial, workdir: workdir}
}

// ensureWorkdir creates the work directory before the first command that runs in
// it; phones start without one.
func (d *Device) ensureWorkdir(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.haveWorkdir {
		return nil
	}
	if err := d.Run(ctx, runner.Cmd{Args: []string{"mkdir", "-p", d.workdir}, Dir: "/"}); err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	d.haveWorkdir = true
	return nil
}

// Device is one device behind an adb server.
type Device struct {
	client  Client
	serial  string
	workdir string

	mu          sync.Mutex
	haveWorkdir bool
}

// Serial implements runner.Device.
func (d *Device) Serial() string { return d.serial }

// Transport implements runner.Device.
func (d *Device) Transport() string { return "adb" }

// Workdir implements runner.Device.
func (d *Device) Workdir() string { return d.workdir }

// Client returns the adb client the device is reached through.
func (d *Device) Client() Client { return d.client }

// Run implements runner.Device.
func (d *Device) Run(ctx context.Context, c runner.Cmd) error {
	if c.Dir == "" {
		if err := d.ensureWorkdir(ctx); err != nil {
			return fmt.Errorf("device %s: %w", d.serial, err)
		}
	}
	line, err := runner.CommandLine(c, d.workdir)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.serial, err)
	}
	// -T: no pty, so binary output and exit codes pass through unchanged.
	cmd := exec.CommandContext(ctx, d.client.bin(), d.client.args("-s", d.serial, "shell", "-T", line)...)
	cmd.Stdin, cmd.Stdout = c.Stdin, c.Stdout
	tail := &runner.Tail{}
	cmd.Stderr = tail
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, tail)
	}
	if c.Stdin == nil {
		// adb reads its stdin whenever it has one; give it an empty one rather than
		// the harness's terminal.
		cmd.Stdin = strings.NewReader("")
	}
	err = cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("adb binary %q not found (install Debian package adb or pass --adb PATH): %w", d.client.bin(), err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("device %s: %q: %w", d.serial, c.Args, ctx.Err())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("device %s: %q: %w", d.serial, c.Args, err)
	}
	// adb exits with the command's status, but also fails on its own when the
	// device goes away; ask the server which it was.
	if state, serr := d.client.State(ctx, d.serial); serr != nil || state != "device" {
		if serr != nil {
			state = serr.Error()
		}
		return fmt.Errorf("device %s: connection lost running %q (state now %q): %s: %w", d.serial, c.Args, state, tail.String(), ErrLost)
	}
	return &runner.ExitError{Device: d.serial, Args: c.Args, Code: exit.ExitCode(), Stderr: tail.String()}
}

// ErrLost is wrapped by errors of commands whose device dropped off the server.
var ErrLost = errors.New("device connection lost")

// Push implements runner.Device with `adb push` to a temporary name and a rename.
// adb prints progress only to a terminal, so progress is reported at the end.
func (d *Device) Push(ctx context.Context, local, remote string, progress func(int64)) error {
	remote = d.abs(remote)
	tmp := runner.TempName(remote)
	if err := d.Run(ctx, runner.Cmd{Args: []string{"mkdir", "-p", path.Dir(remote)}, Dir: "/"}); err != nil {
		return fmt.Errorf("push %s to %s:%s: %w", local, d.serial, remote, err)
	}
	if _, err := d.client.output(ctx, "-s", d.serial, "push", local, tmp); err != nil {
		_ = d.Run(context.WithoutCancel(ctx), runner.Cmd{Args: []string{"rm", "-f", tmp}, Dir: "/"})
		return fmt.Errorf("push %s to %s:%s: %w", local, d.serial, remote, err)
	}
	if err := d.Run(ctx, runner.Cmd{Args: []string{"mv", "-f", tmp, remote}, Dir: "/"}); err != nil {
		return fmt.Errorf("push %s to %s:%s: rename: %w", local, d.serial, remote, err)
	}
	if progress != nil {
		if st, err := d.Stat(ctx, remote); err == nil {
			progress(st.Size)
		}
	}
	return nil
}

// Pull implements runner.Device with `adb pull`.
func (d *Device) Pull(ctx context.Context, remote, local string) error {
	if _, err := d.client.output(ctx, "-s", d.serial, "pull", d.abs(remote), local); err != nil {
		return fmt.Errorf("pull %s:%s: %w", d.serial, remote, err)
	}
	return nil
}

// Stat implements runner.Device.
func (d *Device) Stat(ctx context.Context, remote string) (runner.FileInfo, error) {
	return runner.StatPOSIX(ctx, d, d.abs(remote))
}

// SHA256 implements runner.Device.
func (d *Device) SHA256(ctx context.Context, remote string) (string, error) {
	return runner.SHA256POSIX(ctx, d, d.abs(remote))
}

// Properties returns the device's system properties (getprop).
func (d *Device) Properties(ctx context.Context) (map[string]string, error) {
	var out strings.Builder
	if err := d.Run(ctx, runner.Cmd{Args: []string{"getprop"}, Dir: "/", Stdout: &out}); err != nil {
		return nil, fmt.Errorf("getprop on %s: %w", d.serial, err)
	}
	return ParseGetprop(out.String()), nil
}

// ParseGetprop parses `getprop` output: lines of "[key]: [value]". A value may
// span lines; malformed lines are skipped, as a device may print warnings.
func ParseGetprop(out string) map[string]string {
	props := map[string]string{}
	var key string
	var value strings.Builder
	open := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if open {
			// Continuation of a multi-line value.
			if strings.HasSuffix(line, "]") {
				value.WriteString("\n" + strings.TrimSuffix(line, "]"))
				props[key] = value.String()
				open = false
			} else {
				value.WriteString("\n" + line)
			}
			continue
		}
		if !strings.HasPrefix(line, "[") {
			continue
		}
		k, rest, ok := strings.Cut(line[1:], "]: [")
		if !ok || k == "" {
			continue
		}
		key = k
		if strings.HasSuffix(rest, "]") {
			props[key] = strings.TrimSuffix(rest, "]")
			continue
		}
		value.Reset()
		value.WriteString(rest)
		open = true
	}
	return props
}

// Describe implements runner.Device: system properties plus the POSIX probe.
func (d *Device) Describe(ctx context.Context) (runner.Info, error) {
	props, err := d.Properties(ctx)
	if err != nil {
		return runner.Info{}, err
	}
	return runner.DescribePOSIX(ctx, d, props)
}

// ThermalState implements runner.Device and bench.Thermal.
func (d *Device) ThermalState(ctx context.Context) (bench.ThermalState, error) {
	info, err := runner.DescribePOSIX(ctx, d, nil)
	if err != nil {
		return bench.ThermalState{}, err
	}
	return info.ThermalState(), nil
}

// Reconnect waits until the device is back in state "device", for at most wait.
// A network device (serial host:port) is re-connected first, as the adb server
// forgets a TCP device whose connection dropped.
func (d *Device) Reconnect(ctx context.Context, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	network := false
	if _, port, err := net.SplitHostPort(d.serial); err == nil {
		_, perr := strconv.Atoi(port)
		network = perr == nil
	}
	var last string
	for {
		if network {
			_ = d.client.Connect(ctx, d.serial)
		}
		state, err := d.client.State(ctx, d.serial)
		if err == nil && state == "device" {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "state " + state
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("device %s did not come back within %v: %s", d.serial, wait, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Close implements runner.Device; the adb server keeps the device.
func (d *Device) Close() error { return nil }

func (d *Device) abs(p string) string {
	if path.IsAbs(p) {
		return p
	}
	return path.Join(d.workdir, p)
}
