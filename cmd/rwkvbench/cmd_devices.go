package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/adb"
	"github.com/rwkvbench/rwkvbench/runner/sshdev"
)

// fleetFlags selects devices: the phones of one adb server, SSH hosts, this host.
// devices and deploy share them so that both see the same fleet.
type fleetFlags struct {
	adbPath    string
	adbHost    string
	adbPort    int
	noADB      bool
	connect    []string
	ssh        []string
	sshKeys    []string
	sshKnown   string
	sshNoCheck bool
	sshPassEnv string
	sshWorkdir string
	adbWorkdir string
	local      string
}

func (f *fleetFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.adbPath, "adb", "adb", "adb binary")
	fs.StringVarP(&f.adbHost, "adb-host", "H", "", "adb server host (adb -H), for phones attached to another machine")
	fs.IntVarP(&f.adbPort, "adb-port", "P", 0, "adb server port (adb -P); adb's default when 0")
	fs.BoolVar(&f.noADB, "no-adb", false, "do not ask adb for devices")
	fs.StringSliceVar(&f.connect, "connect", nil, "adb connect to host:port first (network phones, rwkvbench emulate); repeatable")
	fs.StringArrayVar(&f.ssh, "ssh", nil, "SSH target user@host[:port]; repeatable")
	fs.StringArrayVar(&f.sshKeys, "ssh-key", nil, "private key for SSH (default: ssh-agent and ~/.ssh/id_*); repeatable")
	fs.StringVar(&f.sshKnown, "ssh-known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	fs.BoolVar(&f.sshNoCheck, "ssh-insecure-ignore-host-key", false, "accept any SSH host key (throwaway lab setups only)")
	fs.StringVar(&f.sshPassEnv, "ssh-password-env", "", "name of an environment variable holding the SSH password")
	fs.StringVar(&f.sshWorkdir, "ssh-workdir", "", "work directory on SSH hosts (default ~/rwkvbench)")
	fs.StringVar(&f.adbWorkdir, "adb-workdir", adb.DefaultWorkdir, "work directory on adb devices")
	fs.StringVar(&f.local, "local", "", "also use this host as a device, working in this directory")
}

func (f *fleetFlags) adbClient() adb.Client {
	return adb.Client{Path: f.adbPath, Host: f.adbHost, Port: f.adbPort}
}

// fleetDevice is a device found by discovery, usable or not.
type fleetDevice struct {
	serial    string
	transport string
	state     string // "device" when usable; adb's word otherwise, or the error
	dev       runner.Device
}

// open finds the devices the flags select. A device that cannot be reached is
// returned with its reason in state, so that the listing shows it.
func (f *fleetFlags) open(ctx context.Context) ([]fleetDevice, error) {
	var out []fleetDevice
	if f.local != "" {
		l, err := runner.NewLocal(f.local)
		if err != nil {
			return nil, err
		}
		out = append(out, fleetDevice{serial: l.Serial(), transport: "local", state: "device", dev: l})
	}
	if !f.noADB {
		c := f.adbClient()
		if _, err := exec.LookPath(c.Path); err != nil {
			if f.adbPath != "adb" || len(f.connect) > 0 || (len(f.ssh) == 0 && f.local == "") {
				return nil, fmt.Errorf("adb binary %q not found (install Debian package adb, pass --adb PATH, or --no-adb): %w", c.Path, err)
			}
		} else {
			for _, addr := range f.connect {
				if err := c.Connect(ctx, addr); err != nil {
					return nil, err
				}
			}
			entries, err := c.Devices(ctx)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				d := fleetDevice{serial: e.Serial, transport: "adb", state: e.State}
				if e.State == "device" {
					d.dev = c.Device(e.Serial, f.adbWorkdir)
				}
				out = append(out, d)
			}
		}
	}
	for _, target := range f.ssh {
		d, err := f.dialSSH(ctx, target)
		if err != nil {
			out = append(out, fleetDevice{serial: target, transport: "ssh", state: err.Error()})
			continue
		}
		out = append(out, fleetDevice{serial: d.Serial(), transport: "ssh", state: "device", dev: d})
	}
	return out, nil
}

func (f *fleetFlags) dialSSH(ctx context.Context, target string) (*sshdev.Device, error) {
	user, host, port, err := sshdev.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	cfg := sshdev.Config{User: user, Host: host, Port: port, KeyFiles: f.sshKeys, KnownHosts: f.sshKnown,
		InsecureIgnoreHostKey: f.sshNoCheck, Workdir: f.sshWorkdir}
	if f.sshPassEnv != "" {
		cfg.Password = os.Getenv(f.sshPassEnv)
		if cfg.Password == "" {
			return nil, fmt.Errorf("ssh %s: environment variable %s (from --ssh-password-env) is empty", target, f.sshPassEnv)
		}
	}
	return sshdev.Dial(ctx, cfg)
}

func closeAll(devs []fleetDevice) {
	for _, d := range devs {
		if d.dev != nil {
			d.dev.Close()
		}
	}
}

// deviceRow is one device in `rwkvbench devices` output. Unknown values are
// omitted from JSON and shown as "—" in text, never guessed.
type deviceRow struct {
	State string `json:"state"`
	runner.Info
	Error string `json:"error,omitempty"`
}

func runDevices(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "devices", "", "List attached devices (adb, SSH, this host) with their model, SoC, HTP arch and QNN soc_model, CPU ABI,\nOS, free storage, thermal status and battery temperature. Unknown values show as \"—\".")
	var ff fleetFlags
	ff.register(fs)
	format := fs.StringP("output", "o", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--output %q: want text or json", *format)
	}
	devs, err := ff.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll(devs)
	rows := make([]deviceRow, len(devs))
	done := make(chan struct{})
	for i, d := range devs {
		go func() {
			defer func() { done <- struct{}{} }()
			rows[i] = deviceRow{State: d.state, Info: runner.Info{Serial: d.serial, Transport: d.transport}}
			if d.dev == nil {
				return
			}
			info, err := d.dev.Describe(ctx)
			if err != nil {
				rows[i].Error = err.Error()
				return
			}
			rows[i].Info = info
		}()
	}
	for range devs {
		<-done
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []deviceRow{}
		}
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "no devices (adb lists none; add --ssh user@host or --local DIR)")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tTRANSPORT\tSTATE\tMODEL\tSOC\tHTP\tSOC_MODEL\tABI\tOS\tFREE\tTHERMAL\tBATTERY")
	for _, r := range rows {
		arch := dash(r.HTPArch)
		if r.HTPArchUnconfirmed {
			arch += " (unconfirmed)"
		}
		socModel := "—"
		if r.QNNSocModel != 0 {
			socModel = strconv.Itoa(r.QNNSocModel)
		}
		thermal := "—"
		switch {
		case r.ThermalStatus != nil:
			thermal = fmt.Sprintf("%d %s", *r.ThermalStatus, runner.ThermalStatusName(*r.ThermalStatus))
		case r.HottestZoneC != nil:
			thermal = fmt.Sprintf("%.1f°C", *r.HottestZoneC)
		}
		battery := "—"
		if r.BatteryTempC != nil {
			battery = fmt.Sprintf("%.1f°C", *r.BatteryTempC)
		}
		free := "—"
		if r.FreeStorageBytes > 0 {
			free = humanBytes(r.FreeStorageBytes)
		}
		state := r.State
		if r.Error != "" {
			state = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Serial, r.Transport, oneLine(state), dash(r.Model), dash(r.SoC), arch, socModel,
			dash(r.ABI), dash(r.OS), free, thermal, battery)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(e.stderr, "%s: %s\n", r.Serial, r.Error)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return oneLine(s)
}

// oneLine keeps device-supplied text from breaking the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// moduleRoot finds the rwkvbench source tree (go.mod) above dir, for building the
// agent; errNoModule when there is none.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/rwkvbench/rwkvbench\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoModule
		}
		dir = parent
	}
}

var errNoModule = errors.New("not inside the rwkvbench source tree (needed to build the agent); pass --agent PATH or --source DIR")
