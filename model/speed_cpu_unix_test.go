//go:build unix

package model

import "syscall"

// processCPU returns the CPU time (user + system) the process has used, in seconds,
// or -1 when it cannot be read. On a shared machine CPU time per token is steadier
// than wall time per token, which includes waiting for a core.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
