package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strings"
)

// HostCPUName names this machine's CPU for the SoC column of host results: the
// /proc/cpuinfo model, or the architecture where there is none.
func HostCPUName() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if name := CPUModelName(b); name != "" {
			return name
		}
	}
	return runtime.GOARCH
}

// CPUModelName returns the first "model name" (x86) or "Hardware" (arm) value of a
// /proc/cpuinfo text, or "".
func CPUModelName(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "model name", "Hardware":
			if v := strings.Join(strings.Fields(value), " "); v != "" {
				return v
			}
		}
	}
	return ""
}
