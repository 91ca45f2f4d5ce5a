package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Memory reports a process's memory use. ProcessMemory implements it for a local
// process; devices implement it for the process that runs the model there.
type Memory interface {
	// ResetPeak starts a new peak-measuring interval, so that a cell's peak is not
	// an earlier cell's. An error means peaks cover the process's whole life.
	ResetPeak() error
	// Usage returns the peak since the last reset and the current PSS.
	Usage() (MemoryUsage, error)
}

// MemoryUsage is a memory reading in bytes; -1 means not available.
type MemoryUsage struct {
	// PeakRSS is the resident-set high-water mark (VmHWM): every page the process
	// had resident at its peak, shared library pages included.
	PeakRSS int64
	// PSS is the proportional set size at the time of the reading (shared pages
	// divided among the processes sharing them). Linux keeps no PSS peak, so the
	// runner reads it right after the runs, with the session still loaded.
	PSS int64
}

// ProcessMemory reads /proc/<pid> files under Dir, normally "/proc/self".
type ProcessMemory struct {
	Dir string
}

// ResetPeak implements Memory. It collects garbage first so the Go heap of earlier
// work is returned to the OS, then writes 5 to clear_refs, which resets VmHWM to
// the current RSS (Linux 4.0 and later, allowed for a process's own pages).
func (p ProcessMemory) ResetPeak() error {
	runtime.GC()
	debug.FreeOSMemory()
	path := filepath.Join(p.Dir, "clear_refs")
	if err := os.WriteFile(path, []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS via %s: %w", path, err)
	}
	return nil
}

// Usage implements Memory. PSS is -1 on kernels without smaps_rollup (before 4.14).
func (p ProcessMemory) Usage() (MemoryUsage, error) {
	u := MemoryUsage{PeakRSS: -1, PSS: -1}
	status := filepath.Join(p.Dir, "status")
	b, err := os.ReadFile(status)
	if err != nil {
		return u, fmt.Errorf("peak RSS: %w", err)
	}
	if u.PeakRSS, err = procKB(b, "VmHWM"); err != nil {
		return u, fmt.Errorf("%s: %w", status, err)
	}
	rollup := filepath.Join(p.Dir, "smaps_rollup")
	b, err = os.ReadFile(rollup)
	if errors.Is(err, os.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return u, fmt.Errorf("PSS: %w", err)
	}
	if u.PSS, err = procKB(b, "Pss"); err != nil {
		return u, fmt.Errorf("%s: %w", rollup, err)
	}
	return u, nil
}

// procKB finds a "Key:   1234 kB" line in a /proc file and returns its value in
// bytes.
func procKB(content []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != key {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("field %s: want \"<number> kB\", have %q", key, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<43 {
			return 0, fmt.Errorf("field %s: bad size %q", key, fields[0])
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("field %s: %w", key, err)
	}
	return 0, fmt.Errorf("no field %s", key)
}
