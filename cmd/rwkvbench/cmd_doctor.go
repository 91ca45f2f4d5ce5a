package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"

	"github.com/rwkvbench/rwkvbench/qnn"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/deploy"
)

// runDoctor checks a host for the QNN SDK and libraries, or prints the binding's
// view of the QNN ABI (--abi) for comparison with an SDK's headers.
func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "doctor", "", "Check this host (or a device's filesystem copy) for the QNN SDK, libraries, API versions,\n"+
		"HTP arch, op package and FastRPC; or, with --abi, print the struct sizes, field offsets and\n"+
		"function-table slots the QNN binding uses, keyed by the QNN headers' names.")
	abi := fs.Bool("abi", false, "print the binding's view of the QNN C ABI")
	output := fs.StringP("output", "o", "text", "output format: text or json")
	device := fs.String("device", "", "check this device (a serial from rwkvbench devices) instead of this host: the agent runs the checks there")
	var ff fleetFlags
	ff.register(fs)
	root := fs.String("root", "/", "filesystem root holding sys/devices/soc0 and vendor/lib64")
	libDir := fs.String("lib-dir", "", "directory with the QNN libraries (default $QNN_SDK_ROOT/lib/<target>, else .)")
	load := fs.Bool("load", false, "load the libraries to read their provider API versions (host-built libraries only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *output != "text" && *output != "json" {
		return fmt.Errorf("--output %q: want text or json", *output)
	}
	if *abi {
		return printABI(e, *output)
	}
	var findings []qnn.Finding
	if *device != "" {
		var err error
		if findings, err = doctorDevice(ctx, &ff, *device); err != nil {
			return err
		}
	} else {
		findings = qnn.CheckHost(qnn.CheckOptions{Root: *root, LibDir: *libDir, SDKRoot: os.Getenv("QNN_SDK_ROOT"), Load: *load})
	}
	if *output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"findings": findings})
	}
	failed := 0
	for _, f := range findings {
		fmt.Fprintf(e.stdout, "%-4s  %-22s %s\n", f.Status, f.Check, f.Detail)
		if f.Status == "fail" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d check(s) failed", failed)
	}
	return nil
}

func printABI(e *env, output string) error {
	abi := qnn.ABI()
	if output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(abi)
	}
	for _, name := range sortedKeys(abi.Structs) {
		s := abi.Structs[name]
		fmt.Fprintf(e.stdout, "%s (size %d)\n", name, s.Size)
		for _, f := range sortedKeys(s.Fields) {
			fmt.Fprintf(e.stdout, "  %-48s %4d\n", f, s.Fields[f])
		}
	}
	fmt.Fprintln(e.stdout, "core function-table slots (QnnInterface_t + 40 + 8*slot):")
	for _, n := range sortedKeys(abi.Slots) {
		fmt.Fprintf(e.stdout, "  %-32s %3d\n", n, abi.Slots[n])
	}
	fmt.Fprintln(e.stdout, "system function-table slots (QnnSystemInterface_t + 32 + 8*slot):")
	for _, n := range sortedKeys(abi.SystemSlots) {
		fmt.Fprintf(e.stdout, "  %-32s %3d\n", n, abi.SystemSlots[n])
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// doctorDevice deploys the agent to the device and runs its -doctor mode there, in
// the work directory where deploy puts the QNN libraries.
func doctorDevice(ctx context.Context, ff *fleetFlags, serial string) ([]qnn.Finding, error) {
	devs, err := ff.open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeAll(devs)
	var d runner.Device
	for _, fd := range devs {
		if fd.serial == serial {
			if fd.dev == nil {
				return nil, fmt.Errorf("device %s is %s", serial, fd.state)
			}
			d = fd.dev
		}
	}
	if d == nil {
		return nil, fmt.Errorf("no device %s (rwkvbench devices lists them; --local DIR, --ssh and --connect add more)", serial)
	}
	info, err := d.Describe(ctx)
	if err != nil {
		return nil, err
	}
	plat, err := deploy.AgentPlatform(info, "")
	if err != nil {
		return nil, err
	}
	builds := &agentBuilds{source: "."}
	agent, err := builds.get(ctx, plat)
	if err != nil {
		return nil, err
	}
	if _, err := deploy.Deploy(ctx, d, []deploy.File{{Local: agent, Name: deploy.AgentName(plat)}}, deploy.Options{}); err != nil {
		return nil, err
	}
	var out, errOut bytes.Buffer
	cmd := runner.Cmd{Args: []string{path.Join(d.Workdir(), deploy.AgentName(plat)), "-doctor"},
		Env: deploy.RunEnv(d.Workdir(), true), Stdout: &out, Stderr: &errOut}
	if err := d.Run(ctx, cmd); err != nil {
		return nil, fmt.Errorf("doctor on %s: %w: %s", serial, err, errOut.String())
	}
	var report struct {
		Findings []qnn.Finding `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		return nil, fmt.Errorf("doctor on %s: the agent answered %q: %w", serial, oneLine(out.String()), err)
	}
	return report.Findings, nil
}
