package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/rwkvbench/rwkvbench/qnn"
)

// runDoctor checks a host for the QNN SDK and libraries, or prints the binding's
// view of the QNN ABI (--abi) for comparison with an SDK's headers.
func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "doctor", "", "Check this host (or a device's filesystem copy) for the QNN SDK, libraries, API versions,\n"+
		"HTP arch, op package and FastRPC; or, with --abi, print the struct sizes, field offsets and\n"+
		"function-table slots the QNN binding uses, keyed by the QNN headers' names.")
	abi := fs.Bool("abi", false, "print the binding's view of the QNN C ABI")
	output := fs.StringP("output", "o", "text", "output format: text or json")
	device := fs.String("device", "", "check an attached device (serial) instead of this host")
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
	if *device != "" {
		// The checks run on the device through the agent; until the device runner
		// can ship them there, say so instead of checking the host by mistake.
		return errors.New("doctor --device: checking a device needs the device runner, which this build does not have yet; " +
			"copy the device's /sys/devices/soc0 and library directory and use --root and --lib-dir")
	}
	findings := qnn.CheckHost(qnn.CheckOptions{Root: *root, LibDir: *libDir, SDKRoot: os.Getenv("QNN_SDK_ROOT"), Load: *load})
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
