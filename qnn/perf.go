package qnn

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// PerfProfile is an HTP power vote, recorded with results as a bench dimension.
type PerfProfile string

// The profiles. Values follow the presets of onnxruntime and LiteRT as qnn-abi.md
// §5.3 and qualcomm-pipeline.md §8.2 record them.
const (
	PerfNone PerfProfile = "none"
	// PerfBurst: DCVS off, performance mode, all voltage corners at maximum, sleep
	// latency 40 µs, RPC control latency 100 µs and polling 9999 µs — the
	// rwkv-qualcomm runtime's vote.
	PerfBurst PerfProfile = "burst"
	// PerfSustainedHigh: DCVS off, performance mode, TURBO corners, sleep latency 100 µs.
	PerfSustainedHigh PerfProfile = "sustained_high_performance"
	// PerfBalanced: DCVS on, NOM_PLUS corners, sleep latency 1000 µs.
	PerfBalanced PerfProfile = "balanced"
)

// ParsePerfProfile reads a profile name; "high_performance" is accepted for
// PerfSustainedHigh.
func ParsePerfProfile(s string) (PerfProfile, error) {
	switch PerfProfile(s) {
	case "", PerfNone:
		return PerfNone, nil
	case PerfBurst, PerfSustainedHigh, PerfBalanced:
		return PerfProfile(s), nil
	case "high_performance":
		return PerfSustainedHigh, nil
	}
	return "", fmt.Errorf("unknown perf profile %q (want burst, sustained_high_performance, balanced or none)", s)
}

// Power config options and values (QnnHtpPerfInfrastructure.h as qnn-abi.md §5.3 gives them).
const (
	powerOptDcvsV3            = 1
	powerOptRPCControlLatency = 2
	powerOptRPCPollingTime    = 3
	powerOptHmxV2             = 5

	powerModeAdjustUpDown = 0x1
	powerModePerformance  = 0x10

	cornerNomPlus = 0x70
	cornerTurbo   = 0x80
	cornerMax     = 0xA0
)

type powerVote struct {
	destroy     uintptr
	id          uint32
	description string
	r           *Runtime
}

func (v *powerVote) release() error {
	return v.r.check("destroyPowerConfigId", uint64(ccall(v.destroy, uintptr(v.id))))
}

func dcvs(id uint32, p PerfProfile) cPowerConfig {
	c := cPowerConfig{Option: powerOptDcvsV3}
	d := &c.DcvsV3
	d.ContextID = id
	d.SetDcvsEnable, d.SetSleepLatency, d.SetBusParams, d.SetCoreParams = 1, 1, 1, 1
	corner := uint32(cornerMax)
	switch p {
	case PerfBurst:
		d.DcvsEnable, d.PowerMode, d.SleepLatency = 0, powerModePerformance, 40
	case PerfSustainedHigh:
		d.DcvsEnable, d.PowerMode, d.SleepLatency = 0, powerModePerformance, 100
		corner = cornerTurbo
	case PerfBalanced:
		// The doc gives DCVS on, NOM_PLUS and 1000 µs; the power mode is our choice:
		// ADJUST_UP_DOWN lets DCVS move both ways.
		d.DcvsEnable, d.PowerMode, d.SleepLatency = 1, powerModeAdjustUpDown, 1000
		corner = cornerNomPlus
	}
	d.BusVoltageCornerMin, d.BusVoltageCornerTgt, d.BusVoltageCornerMax = corner, corner, corner
	d.CoreVoltageCornerMin, d.CoreVoltageCornerTgt, d.CoreVoltageCornerMax = corner, corner, corner
	return c
}

// hmxV2Default asks the driver to pick its own HMX clocks. The HMX_V2 struct is 20
// bytes whose first member is the one-byte "pick default" flag; the rest of its
// layout and the HMX corner values are not in our reference, so the binding sends
// only the flag rather than guessing. A backend that refuses it gets DCVS alone.
func hmxV2Default() cPowerConfig {
	c := cPowerConfig{Option: powerOptHmxV2}
	c.DcvsV3.ContextID = 1 // the first union byte, little-endian: hmxPickDefault = true
	return c
}

func scalarPower(option, value uint32) cPowerConfig {
	c := cPowerConfig{Option: option}
	c.DcvsV3.ContextID = value // the union's first uint32
	return c
}

// votePower runs the rwkv-qualcomm sequence: create a power config id, then (burst)
// RPC control latency and polling time, then DCVS v3 together with HMX v2, falling
// back to DCVS v3 alone.
func (r *Runtime) votePower(p PerfProfile) (*powerVote, error) {
	var infra uintptr
	if err := r.call("deviceGetInfrastructure", slotDeviceGetInfrastructure, uintptr(unsafe.Pointer(&infra))); err != nil {
		return nil, fmt.Errorf("perf profile %s: %w", p, err)
	}
	if infra == 0 {
		return nil, fmt.Errorf("perf profile %s: deviceGetInfrastructure returned NULL", p)
	}
	hi := cread[cHtpInfrastructure](infra)
	pi := hi.PerfInfra
	if pi.CreatePowerConfigID == 0 || pi.SetPowerConfig == 0 || pi.DestroyPowerConfigID == 0 {
		return nil, fmt.Errorf("perf profile %s: the HTP perf infrastructure lacks create/set/destroy", p)
	}
	v := &powerVote{destroy: pi.DestroyPowerConfigID, r: r}
	if err := r.check("createPowerConfigId", uint64(ccall(pi.CreatePowerConfigID, 0, 0, uintptr(unsafe.Pointer(&v.id))))); err != nil {
		return nil, fmt.Errorf("perf profile %s: %w", p, err)
	}
	set := func(cfgs ...cPowerConfig) error {
		// C reads the configs through the pointer array: pin both for the call.
		var pin runtime.Pinner
		defer pin.Unpin()
		ptrs := make([]uintptr, len(cfgs)+1) // NULL-terminated
		pin.Pin(&ptrs[0])
		for i := range cfgs {
			pin.Pin(&cfgs[i])
			ptrs[i] = uintptr(unsafe.Pointer(&cfgs[i]))
		}
		return r.check("setPowerConfig", uint64(ccall(pi.SetPowerConfig, uintptr(v.id), uintptr(unsafe.Pointer(&ptrs[0])))))
	}
	fail := func(err error) (*powerVote, error) {
		return nil, errors.Join(fmt.Errorf("perf profile %s: %w", p, err), v.release())
	}
	if p == PerfBurst {
		if err := set(scalarPower(powerOptRPCControlLatency, 100)); err != nil {
			return fail(err)
		}
		if err := set(scalarPower(powerOptRPCPollingTime, 9999)); err != nil {
			return fail(err)
		}
	}
	d := dcvs(v.id, p)
	if hmxErr := set(d, hmxV2Default()); hmxErr == nil {
		v.description = string(p) + " (DCVS v3 + HMX v2)"
	} else if err := set(d); err == nil {
		v.description = fmt.Sprintf("%s (DCVS v3 only; HMX v2 refused: %v)", p, hmxErr)
	} else {
		return fail(err)
	}
	return v, nil
}
