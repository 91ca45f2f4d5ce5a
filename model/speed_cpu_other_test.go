//go:build !unix

package model

// processCPU is unavailable here; the benchmarks then omit their CPU-time metric.
func processCPU() float64 { return -1 }
