// Package adbemu is an emulated Android device that the real adb client reaches over
// TCP (`adb connect 127.0.0.1:PORT`), so that tests, CI and users without phones can
// exercise the whole adb path: discovery, pushes, running the agent, devices that drop.
//
// It speaks the device side of the adb transport protocol (CNXN, OPEN, OKAY, WRTE,
// CLSE; no authentication, no TLS) and serves: shell: and exec: (raw), shell
// protocol v2 (shell,v2,...:) with exit codes, separate stderr and stdin, and sync:
// (STAT, STA2, LST2, LIST, SEND, RECV, QUIT). Its banner advertises only the
// features it implements: shell_v2, stat_v2, fixed_push_mkdir.
//
// Opinions, all of them limitations a test author must know:
//   - Shell commands really run on this host, with /bin/sh, as the emulator's user,
//     so uname and /proc describe the host. The device filesystem is a directory DIR;
//     commands start in DIR (the device's /) and device paths under /data, /sdcard,
//     /system, /vendor, /sys/devices/soc0, /sys/class/thermal and
//     /sys/class/power_supply are rewritten to DIR/... in the command text (see
//     rewriteDevicePaths); a bare / is not. Anything else in the command reaches the
//     host unchanged: a shell command is not sandboxed. The sync service is confined
//     to DIR with os.Root: no escape by .. or symlinks.
//   - Simulated, and labelled so: getprop and dumpsys (thermalservice, battery) are
//     generated scripts in DIR/system/bin, first in PATH, answering from the SoC
//     Profile; DIR/sys holds soc0 (soc_id, family, machine), thermal_zone0 and the
//     battery temperature; DIR/system/bin/linker64 is a placeholder that marks the
//     filesystem as Android's. The product names say "adbemu" and the properties
//     ro.adbemu.* tell a deployer that commands run on this host, and its GOOS and
//     GOARCH, whatever ABI the profile reports.
//   - pty requests are served raw: there is no terminal.
//   - Closing a stream or losing the connection kills the command's process group.
//   - Fault switches drop a connection after a number of bytes or a duration, once or
//     every time, and can keep the device away for a while afterwards; the adb
//     server then shows it offline and reconnects by itself.
package adbemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one emulated device.
type Config struct {
	// Addr is the TCP address to listen on, e.g. "127.0.0.1:5560"; port 0 picks a
	// free port (see Device.Addr). Only loopback addresses are accepted unless
	// AllowNonLoopback is set, because whoever connects can run commands on this host.
	Addr             string
	AllowNonLoopback bool
	// SoC names the Profile, e.g. "SM8650".
	SoC string
	// Root is the directory holding the device filesystem; it is created if missing.
	// Its absolute path may contain only letters, digits and / . _ + - @ , = %
	// because it is substituted into shell commands.
	Root string
	// Serial is reported as ro.serialno; it defaults to "adbemu-<soc>-<port>". adb
	// itself names a TCP device by its address.
	Serial string
	// Faults are the fault switches; the zero value never drops.
	Faults Faults
	// Logger receives one line per connection event and per protocol error; nil
	// discards them.
	Logger *slog.Logger
}

// Faults drop connections on purpose, so that callers can test how they survive a
// device that disconnects halfway.
type Faults struct {
	// AfterBytes drops a connection once it has carried this many bytes, counted in
	// both directions; 0 never.
	AfterBytes int64
	// After drops a connection this long after it was accepted; 0 never.
	After time.Duration
	// Once disarms both switches after the first drop, so that the device vanishes a
	// single time and then stays.
	Once bool
	// DownFor keeps the device unreachable for this long after a drop: connections
	// are accepted and closed at once, as a phone whose adbd restarts.
	DownFor time.Duration
}

// maxConns bounds the connections a device serves at once; an adb server uses one.
const maxConns = 16

func (f Faults) armed() bool { return f.AfterBytes > 0 || f.After > 0 }

// Device is an emulated adb device. Create it with New, run it with Serve, stop it
// with Close.
type Device struct {
	profile Profile
	serial  string
	rootDir string
	root    *os.Root
	ln      net.Listener
	log     *slog.Logger
	faults  Faults
	banner  string
	env     []string
	// shellDisabled refuses shell and exec services; the fuzz tests set it so that
	// random input can never run a command.
	shellDisabled bool

	mu        sync.Mutex
	conns     map[*conn]struct{}
	disarmed  bool
	downUntil time.Time
	closed    bool
	wg        sync.WaitGroup
}

// features is what the emulator implements of adb's optional features; adb changes
// its behaviour on each, so nothing unimplemented may be listed.
var features = []string{"shell_v2", "stat_v2", "fixed_push_mkdir"}

// safeRoot is the character set a root directory may use: none of them is special
// to /bin/sh inside or outside quotes.
var safeRoot = regexp.MustCompile(`^[A-Za-z0-9/._+@,=%-]+$`)

// New checks cfg, lays out the device filesystem under cfg.Root and starts
// listening. The device accepts nothing until Serve is called.
func New(cfg Config) (*Device, error) {
	profile, err := LookupProfile(cfg.SoC)
	if err != nil {
		return nil, err
	}
	if cfg.Root == "" {
		return nil, errors.New("adbemu: Config.Root is empty: the device needs a directory for its filesystem")
	}
	rootDir, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("adbemu: root %s: %w", cfg.Root, err)
	}
	if err := os.MkdirAll(rootDir, 0o755); err != nil {
		return nil, fmt.Errorf("adbemu: root %s: %w", rootDir, err)
	}
	if real, err := filepath.EvalSymlinks(rootDir); err == nil {
		rootDir = real
	}
	if !safeRoot.MatchString(rootDir) {
		return nil, fmt.Errorf("adbemu: root %q: the path has characters that are special to the shell; "+
			"it is substituted into commands, so use only letters, digits and / . _ + - @ , = %%", rootDir)
	}
	if err := checkListenAddr(cfg.Addr, cfg.AllowNonLoopback); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("adbemu: listen on %s: %w", cfg.Addr, err)
	}
	serial := cfg.Serial
	if serial == "" {
		serial = fmt.Sprintf("adbemu-%s-%d", strings.ToLower(profile.SoC), ln.Addr().(*net.TCPAddr).Port)
	}
	props := profile.properties(serial)
	if err := layout(rootDir, profile, props); err != nil {
		ln.Close()
		return nil, fmt.Errorf("adbemu: lay out device filesystem in %s: %w", rootDir, err)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("adbemu: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Device{
		profile: profile,
		serial:  serial,
		rootDir: rootDir,
		root:    root,
		ln:      ln,
		log:     logger.With("device", ln.Addr().String(), "soc", profile.SoC),
		faults:  cfg.Faults,
		banner: fmt.Sprintf("device::ro.product.name=%s;ro.product.model=%s;ro.product.device=%s;features=%s",
			props["ro.product.name"], props["ro.product.model"], props["ro.product.device"], strings.Join(features, ",")),
		env:   shellEnv(rootDir),
		conns: make(map[*conn]struct{}),
	}
	return d, nil
}

// checkListenAddr refuses addresses other than loopback ones unless allowed: a
// host name, an empty host or 0.0.0.0 would expose a shell on this machine.
func checkListenAddr(addr string, allowAny bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("adbemu: listen address %q: %w", addr, err)
	}
	if allowAny {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("adbemu: listen address %q is not a loopback address; anyone who connects can run shell commands on this host, so allow it explicitly (Config.AllowNonLoopback, rwkvbench emulate --allow-remote)", addr)
	}
	return nil
}

// layout creates the device filesystem: the directories adb users expect, the
// getprop and dumpsys scripts, and the sysfs files discovery reads.
func layout(dir string, p Profile, props map[string]string) error {
	for _, d := range []string{"data/local/tmp", "sdcard", "system/bin", "vendor/lib64",
		"sys/devices/soc0", "sys/class/thermal/thermal_zone0", "sys/class/power_supply/battery"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	// data/local/tmp is world-writable on a phone; agents may run as another user here.
	if err := os.Chmod(filepath.Join(dir, "data/local/tmp"), 0o1777); err != nil {
		return err
	}
	files := []struct {
		name, content string
		mode          os.FileMode
	}{
		{"system/bin/getprop", getpropScript(props), 0o755},
		{"system/bin/dumpsys", dumpsysScript(p), 0o755},
		// Commands that name /system/bin/sh explicitly get the host's shell.
		{"system/bin/sh", "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755},
		// Probes tell Android from other Linux by the dynamic linker's presence; this
		// placeholder is what it looks like to them, and not a linker.
		{"system/bin/linker64", "adbemu placeholder: marks an Android filesystem; not a real linker\n", 0o644},
		{"sys/devices/soc0/family", "Snapdragon\n", 0o644},
		{"sys/devices/soc0/machine", p.SoC + "\n", 0o644},
		{"sys/devices/soc0/soc_id", fmt.Sprintf("%d\n", p.LinuxSoCID), 0o644},
		{"sys/class/thermal/thermal_zone0/type", "cpu-0-0\n", 0o644},
		{"sys/class/thermal/thermal_zone0/temp", fmt.Sprintf("%d\n", p.CPUMilliC), 0o644},
		{"sys/class/power_supply/battery/temp", fmt.Sprintf("%d\n", p.BatteryDeciC), 0o644},
		{"ADBEMU_README", "This directory is the filesystem of an emulated adb device (rwkvbench emulate).\n" +
			"Shell commands sent to the device run on the host inside it; sysfs, getprop and dumpsys are simulated.\n", 0o644},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.content), f.mode); err != nil {
			return err
		}
		if err := os.Chmod(path, f.mode); err != nil {
			return err
		}
	}
	if p.LinuxSoCID == 0 {
		// The docs list no Linux id for this chip: say so rather than invent one.
		return os.Remove(filepath.Join(dir, "sys/devices/soc0/soc_id"))
	}
	return nil
}

// Addr returns the address the device listens on, for `adb connect`.
func (d *Device) Addr() string { return d.ln.Addr().String() }

// Root returns the absolute host directory that holds the device filesystem.
func (d *Device) Root() string { return d.rootDir }

// Profile returns the SoC profile the device reports.
func (d *Device) Profile() Profile { return d.profile }

// Serve accepts adb connections until ctx is cancelled or Close is called, and
// returns nil in both cases.
func (d *Device) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { d.Close() })
	defer stop()
	d.log.Info("serving", "serial", d.serial, "root", d.rootDir)
	for {
		nc, err := d.ln.Accept()
		if err != nil {
			d.mu.Lock()
			closed := d.closed
			d.mu.Unlock()
			if closed {
				d.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("adbemu: accept on %s: %w", d.Addr(), err)
		}
		d.accept(nc)
	}
}

func (d *Device) accept(nc net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		nc.Close()
		return
	}
	if now := time.Now(); now.Before(d.downUntil) {
		d.log.Info("fault: device is down, refusing connection", "remote", nc.RemoteAddr().String(), "for", d.downUntil.Sub(now).Round(time.Millisecond).String())
		nc.Close()
		return
	}
	if len(d.conns) >= maxConns {
		d.log.Warn("refusing connection: too many open", "remote", nc.RemoteAddr().String(), "limit", maxConns)
		nc.Close()
		return
	}
	c := newConn(d, nc)
	if d.faults.armed() && !d.disarmed {
		c.arm(d.faults)
	}
	d.conns[c] = struct{}{}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		c.serve()
		d.mu.Lock()
		delete(d.conns, c)
		d.mu.Unlock()
	}()
}

// dropped records that a fault switch fired.
func (d *Device) dropped(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.faults.Once {
		d.disarmed = true
	}
	if d.faults.DownFor > 0 {
		d.downUntil = time.Now().Add(d.faults.DownFor)
	}
	d.log.Warn("fault: dropping connection", "reason", reason)
}

// DropConnections closes every open connection now, as a cable pulled out, and
// refuses new ones for downFor.
func (d *Device) DropConnections(downFor time.Duration) {
	d.mu.Lock()
	d.downUntil = time.Now().Add(downFor)
	conns := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	d.log.Warn("fault: dropping all connections", "connections", len(conns), "down_for", downFor.String())
	for _, c := range conns {
		c.nc.Close()
	}
}

// Close stops listening, closes every connection and kills every command the
// device is running.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	conns := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	err := d.ln.Close()
	for _, c := range conns {
		c.nc.Close()
	}
	d.root.Close()
	return err
}

// faultConn counts the bytes a connection carries and closes it at the limit.
type faultConn struct {
	net.Conn
	left    atomic.Int64 // bytes still allowed; only meaningful when limited
	limited bool
	drop    func(reason string)
	once    sync.Once
}

func (f *faultConn) fire(reason string) {
	f.once.Do(func() {
		f.drop(reason)
		f.Conn.Close()
	})
}

func (f *faultConn) Read(p []byte) (int, error) {
	if f.limited {
		left := f.left.Load()
		if left <= 0 {
			f.fire("byte limit reached")
			return 0, net.ErrClosed
		}
		p = p[:min(int64(len(p)), left)]
	}
	n, err := f.Conn.Read(p)
	if f.limited && f.left.Add(-int64(n)) <= 0 {
		f.fire("byte limit reached")
	}
	return n, err
}

func (f *faultConn) Write(p []byte) (int, error) {
	if !f.limited {
		return f.Conn.Write(p)
	}
	left := f.left.Load()
	short := int64(len(p)) > left
	if short {
		p = p[:max(left, 0)]
	}
	n, err := f.Conn.Write(p)
	if f.left.Add(-int64(n)) <= 0 {
		f.fire("byte limit reached")
	}
	if err == nil && short {
		err = io.ErrClosedPipe
	}
	return n, err
}
