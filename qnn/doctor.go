package qnn

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/hexagon"
)

// Finding is one result of a host or device check.
type Finding struct {
	Check  string `json:"check"`
	Status string `json:"status"` // "ok", "warn", "fail" or "info"
	Detail string `json:"detail"`
}

// CheckOptions says where to look.
type CheckOptions struct {
	// Root is the filesystem root holding /sys/devices/soc0 and /vendor (a copy of
	// a device's tree, or "/" on the device itself). Empty means "/".
	Root string
	// LibDir holds the QNN libraries; empty means $QNN_SDK_ROOT/lib/<target> when
	// the SDK is set, else the working directory (as on a device).
	LibDir string
	// SDKRoot is the value of $QNN_SDK_ROOT ("" when unset).
	SDKRoot string
	// GOOS is the target OS for library names; empty means the running one.
	GOOS string
	// Load asks for the libraries to be loaded to read their provider versions.
	// Only meaningful when they are built for the running machine.
	Load bool
}

// sdkTargets are the QAIRT lib/ subdirectories for each target (qnn-abi.md §6.1).
func sdkTargets() map[string]string {
	return map[string]string{
		"android/arm64": "aarch64-android",
		"linux/amd64":   "x86_64-linux-clang",
		"windows/arm64": "aarch64-windows-msvc",
	}
}

// CheckHost checks a host or device for what running RWKV on QNN needs: the SDK, the
// backend and system libraries and their API versions, the SoC's HTP arch with its
// stub and skel, the RWKV op package and the FastRPC library.
func CheckHost(opts CheckOptions) []Finding {
	var out []Finding
	add := func(check, status, format string, args ...any) {
		out = append(out, Finding{check, status, fmt.Sprintf(format, args...)})
	}
	root := opts.Root
	if root == "" {
		root = "/"
	}
	goos := opts.GOOS
	if goos == "" {
		goos = hostGOOS
	}

	switch {
	case opts.SDKRoot == "":
		add("QNN_SDK_ROOT", "warn", "not set (needed on the host to convert models; not needed on a device)")
	default:
		if _, err := os.Stat(filepath.Join(opts.SDKRoot, "include", "QNN", "QnnInterface.h")); err != nil {
			add("QNN_SDK_ROOT", "fail", "%s: no include/QNN/QnnInterface.h: %v", opts.SDKRoot, err)
		} else {
			add("QNN_SDK_ROOT", "ok", "%s", opts.SDKRoot)
		}
		var targets []string
		for _, t := range sdkTargets() {
			if _, err := os.Stat(filepath.Join(opts.SDKRoot, "lib", t)); err == nil {
				targets = append(targets, t)
			}
		}
		sort.Strings(targets)
		add("SDK targets", "info", "lib/ has %s", orNone(targets))
	}

	libDir := opts.LibDir
	if libDir == "" && opts.SDKRoot != "" {
		// Linux on arm64 has several toolchain-named lib dirs in the SDK; there the
		// caller must say which with LibDir.
		if target, ok := sdkTargets()[goos+"/"+hostArch]; ok {
			libDir = filepath.Join(opts.SDKRoot, "lib", target)
		}
	}
	if libDir == "" {
		libDir = "."
	}
	for _, b := range []Backend{BackendHTP, BackendCPU, BackendGPU} {
		lib, _ := LibraryNames(goos, b)
		path := filepath.Join(libDir, lib)
		if _, err := os.Stat(path); err != nil {
			status := "warn"
			if b == BackendHTP {
				status = "fail"
			}
			add("backend "+b.String(), status, "%s missing", path)
			continue
		}
		add("backend "+b.String(), "ok", "%s", path)
		if opts.Load {
			out = append(out, probeFinding("backend "+b.String()+" API", path, "QnnInterface_getProviders", b))
		}
	}
	_, sysLib := LibraryNames(goos, BackendHTP)
	sysPath := filepath.Join(libDir, sysLib)
	if _, err := os.Stat(sysPath); err != nil {
		add("system library", "fail", "%s missing", sysPath)
	} else {
		add("system library", "ok", "%s", sysPath)
		if opts.Load {
			out = append(out, probeFinding("system library API", sysPath, "QnnSystemInterface_getProviders", 0))
		}
	}

	// The SoC, from the Linux soc0 node (qualcomm-pipeline.md §7.2).
	soc0 := filepath.Join(root, "sys", "devices", "soc0")
	family, _ := os.ReadFile(filepath.Join(soc0, "family"))
	idText, err := os.ReadFile(filepath.Join(soc0, "soc_id"))
	var chip hexagon.Chip
	switch {
	case err != nil:
		add("SoC", "info", "no %s/soc_id (not a Qualcomm Linux/Android device): %v", soc0, err)
	default:
		id, convErr := strconv.Atoi(strings.TrimSpace(string(idText)))
		c, ok := hexagon.BySocID(id)
		switch {
		case convErr != nil:
			add("SoC", "fail", "%s/soc_id reads %q, not a number", soc0, strings.TrimSpace(string(idText)))
		case !ok:
			add("SoC", "warn", "soc_id %d (family %q) is not in the chip catalog", id, strings.TrimSpace(string(family)))
		case c.Arch == 0:
			add("SoC", "warn", "soc_id %d is %s, HTP arch unknown", id, c.SoC)
		default:
			chip = c
			add("SoC", "ok", "soc_id %d: %s %s, HTP %s", id, c.SoC, c.Product, c.Arch)
		}
		if f := strings.TrimSpace(string(family)); f != "" && f != "Snapdragon" {
			add("SoC family", "warn", "family %q, not Snapdragon", f)
		}
	}
	if chip.Arch != 0 {
		stub := filepath.Join(libDir, chip.HTPStubLib(goos))
		if _, err := os.Stat(stub); err != nil {
			add("HTP stub", "fail", "%s missing (libQnnHtp loads it by name)", stub)
		} else {
			add("HTP stub", "ok", "%s", stub)
		}
		skel := findFirst(libDir, filepath.Join(libDir, "hexagon-"+chip.Arch.String(), "unsigned"))
		if p := skel(chip.SkelLib()); p == "" {
			add("HTP skel", "warn", "%s not beside the libraries (it may be on ADSP_LIBRARY_PATH)", chip.SkelLib())
		} else {
			add("HTP skel", "ok", "%s", p)
		}
		if p := skel(chip.Arch.OpPackageLib()); p == "" {
			add("op package", "warn", "%s missing: only graphs built without the custom WKV op will load", chip.Arch.OpPackageLib())
		} else {
			add("op package", "ok", "%s", p)
		}
	}
	rpc := filepath.Join(root, "vendor", "lib64", "libcdsprpc.so")
	if goos == "windows" {
		rpc = filepath.Join(libDir, "libcdsprpc.dll")
	}
	if _, err := os.Stat(rpc); err != nil {
		add("FastRPC", "info", "%s absent: I/O uses plain buffers (copies) instead of shared rpcmem buffers", rpc)
	} else {
		add("FastRPC", "ok", "%s: zero-copy shared buffers available", rpc)
	}
	return out
}

func findFirst(dirs ...string) func(name string) string {
	return func(name string) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return ""
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none of the known targets"
	}
	return strings.Join(s, ", ")
}

// probeFinding loads a library and lists its providers with their API versions.
func probeFinding(check, path, symbol string, backend Backend) Finding {
	lib, err := dlopen(path)
	if err != nil {
		return Finding{check, "warn", fmt.Sprintf("cannot load here (%v); built for another machine?", err)}
	}
	var ps []Provider
	if symbol == "QnnInterface_getProviders" {
		ps, err = coreProviders(lib, path)
	} else {
		ps, err = systemProviders(lib, path)
	}
	if err != nil {
		return Finding{check, "fail", err.Error()}
	}
	var desc []string
	for _, p := range ps {
		desc = append(desc, fmt.Sprintf("%s %s", p.Name, p.CoreAPI))
	}
	status := "ok"
	if backend != 0 {
		if _, err := chooseProvider(path, ps, backend); err != nil {
			return Finding{check, "fail", err.Error()}
		}
	} else {
		status = "fail"
		for _, p := range ps {
			if p.CoreAPI.Major == 1 && p.CoreAPI.Minor >= MinSystemAPIMinor {
				status = "ok"
			}
		}
	}
	return Finding{check, status, "providers: " + strings.Join(desc, ", ")}
}
