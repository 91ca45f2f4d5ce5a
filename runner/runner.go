// Package runner reaches the machines that run benchmarks — this host, Android phones
// over adb, Linux boards over SSH — through one Device interface, so that deploy,
// the agent protocol and fleet runs never ask which transport they are using.
//
// Opinions: every command that reaches a device shell is built by CommandLine, which
// quotes each argument with ShellQuote; nothing a file name or value contains can
// escape its quoting. Files are pushed to a temporary name and renamed, so a dropped
// connection never leaves a truncated file under the final name. Describe reports
// only what the device said: a field it did not answer stays empty (shown as "—"),
// never guessed.
//
// The transports live in subpackages (runner/adb, runner/sshdev); Local, for this
// host, lives here because it is also the reference the others are tested against.
package runner

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
)

// Device is one machine that runs the agent: this host, a phone over adb, a board
// over SSH.
type Device interface {
	// Serial names the device uniquely among those attached (adb serial,
	// user@host:port, "local").
	Serial() string
	// Transport is "local", "adb" or "ssh".
	Transport() string
	// Workdir is the directory on the device where deploy puts files and where
	// commands run unless Cmd.Dir says otherwise.
	Workdir() string
	// Run runs a command on the device and waits for it. A non-zero exit status is
	// returned as *ExitError; a lost connection as any other error.
	Run(ctx context.Context, c Cmd) error
	// Push copies a local file to remote, writing a temporary name first and
	// renaming it, so that remote is either the old file or the complete new one.
	Push(ctx context.Context, local, remote string, progress func(written int64)) error
	// Pull copies remote to the local path.
	Pull(ctx context.Context, remote, local string) error
	// Stat returns a remote file's size and modification time; a missing file is
	// reported with an error satisfying errors.Is(err, fs.ErrNotExist).
	Stat(ctx context.Context, remote string) (FileInfo, error)
	// SHA256 returns the hex sha256 of a remote file.
	SHA256(ctx context.Context, remote string) (string, error)
	// Describe reports what the device is: model, SoC, HTP arch, ABI, OS, storage,
	// thermal state.
	Describe(ctx context.Context) (Info, error)
	// ThermalState reads the device's thermal status and hottest sensor; it
	// implements bench.Thermal, so the bench runner can gate cool-downs on a
	// device from the host.
	ThermalState(ctx context.Context) (bench.ThermalState, error)
	// Close releases the connection.
	Close() error
}

// Cmd is a command to run on a device. Args[0] is the program; every argument is
// quoted for the device shell, so it reaches the program exactly as given.
type Cmd struct {
	Args []string
	// Env adds variables to the command's environment. Names must be shell
	// identifiers; values are quoted like arguments.
	Env map[string]string
	// Dir is the working directory; the device's Workdir when empty.
	Dir    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// ExitError reports a command that ran and exited with a non-zero status.
type ExitError struct {
	Device string
	Args   []string
	Code   int
	// Stderr holds the tail of the command's standard error when the caller did
	// not capture it, to make the error explain itself.
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("device %s: %q exited with status %d", e.Device, e.Args, e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// FileInfo is what Stat learns about a remote file.
type FileInfo struct {
	Size    int64
	ModTime time.Time
}

// Info describes a device. Empty strings and zero numbers mean "the device did not
// say"; Format shows them as "—".
type Info struct {
	Serial    string `json:"serial"`
	Transport string `json:"transport"`
	Model     string `json:"model,omitempty"`
	// SoC is the Qualcomm part number (SM8650), from ro.soc.model on Android or
	// /sys/devices/soc0/soc_id on Linux.
	SoC string `json:"soc,omitempty"`
	// HTPArch ("v75") and QNNSocModel (57) come from the chip catalog for SoC.
	HTPArch     string `json:"htp_arch,omitempty"`
	QNNSocModel int    `json:"qnn_soc_model,omitempty"`
	// HTPArchUnconfirmed is set when the catalog's sources disagree on the arch.
	HTPArchUnconfirmed bool `json:"htp_arch_unconfirmed,omitempty"`
	// ABI is the CPU ABI as the device names it (arm64-v8a, aarch64, x86_64).
	ABI string `json:"abi,omitempty"`
	// OS is "Android 14 (SDK 34)", "Debian GNU/Linux 12 (bookworm)" and so on.
	OS string `json:"os,omitempty"`
	// GOOS and GOARCH name the agent build the device runs; empty when unknown.
	GOOS   string `json:"goos,omitempty"`
	GOARCH string `json:"goarch,omitempty"`
	// FreeStorageBytes is the free space in the work directory's file system.
	FreeStorageBytes int64 `json:"free_storage_bytes,omitempty"`
	// ThermalStatus is Android's thermal service status (0 none … 6 shutdown); nil
	// off Android.
	ThermalStatus *int `json:"thermal_status,omitempty"`
	// HottestZoneC is the hottest readable Linux thermal zone in °C.
	HottestZoneC *float64 `json:"hottest_zone_c,omitempty"`
	// BatteryTempC is nil when the device has no battery or did not report it.
	BatteryTempC *float64 `json:"battery_temp_c,omitempty"`
}
