package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ThermalState is what a device can tell about its heat. Either part may be unknown.
type ThermalState struct {
	// Status is the Android thermal status (0 none … 6 shutdown, as dumpsys
	// thermalservice reports it); -1 when the device has no such notion.
	Status int
	// TempC is the hottest readable sensor in °C; NaN when none is readable.
	TempC float64
}

// unknownThermal is a state with nothing known.
func unknownThermal() ThermalState { return ThermalState{Status: -1, TempC: math.NaN()} }

// String formats the state as samples record it, e.g. "status=0 temp=41.5C";
// unknown parts are left out and a fully unknown state is "".
func (s ThermalState) String() string {
	var parts []string
	if s.Status >= 0 {
		parts = append(parts, "status="+strconv.Itoa(s.Status))
	}
	if !math.IsNaN(s.TempC) {
		parts = append(parts, fmt.Sprintf("temp=%.1fC", s.TempC))
	}
	return strings.Join(parts, " ")
}

// Thermal is implemented by devices that can report their thermal state: the host
// (HostThermal) and, through their agents, phones and boards of the device fleet.
type Thermal interface {
	ThermalState(ctx context.Context) (ThermalState, error)
}

// HostThermal reads the Linux thermal zones under Root (normally
// /sys/class/thermal) and reports the hottest one. The host has no thermal status.
type HostThermal struct {
	Root string
}

// ThermalState implements Thermal. Zones that cannot be read (permissions, sensors
// that fail when idle) are skipped; no readable zone gives an error.
func (h HostThermal) ThermalState(ctx context.Context) (ThermalState, error) {
	zones, err := filepath.Glob(filepath.Join(h.Root, "thermal_zone*", "temp"))
	if err != nil {
		return unknownThermal(), fmt.Errorf("thermal zones under %s: %w", h.Root, err)
	}
	st := unknownThermal()
	for _, z := range zones {
		b, err := os.ReadFile(z)
		if err != nil {
			continue
		}
		milli, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			continue
		}
		if c := milli / 1000; math.IsNaN(st.TempC) || c > st.TempC {
			st.TempC = c
		}
	}
	if math.IsNaN(st.TempC) {
		return st, fmt.Errorf("thermal zones under %s: no readable temperature", h.Root)
	}
	return st, nil
}

// Cooldown is the pause before every run of a cell: a fixed Delay, then, when a
// gate is set, polling until the device is cool enough or Timeout passes. The zero
// Cooldown runs repetitions back to back.
type Cooldown struct {
	Delay time.Duration
	// GateStatus enables the wait for thermal status ≤ MaxStatus.
	GateStatus bool
	MaxStatus  int
	// MaxTempC gates on the temperature (≤ MaxTempC); zero or NaN disables it.
	MaxTempC float64
	// Timeout bounds the gated wait; the run then goes ahead and its samples say
	// the cool-down timed out. Zero means one minute.
	Timeout time.Duration
	// Poll is the interval between thermal readings; zero means one second.
	Poll time.Duration
}

func (c Cooldown) gated() bool {
	return c.GateStatus || (c.MaxTempC > 0 && !math.IsNaN(c.MaxTempC))
}

func (c Cooldown) cool(s ThermalState) bool {
	if c.GateStatus && s.Status >= 0 && s.Status > c.MaxStatus {
		return false
	}
	if c.MaxTempC > 0 && !math.IsNaN(s.TempC) && s.TempC > c.MaxTempC {
		return false
	}
	return true
}

// errCooldownTimeout marks a gated wait that ran out of time; the run still happens.
var errCooldownTimeout = errors.New("cool-down timed out")

// wait sleeps the delay and then waits for the gate. A device that cannot report
// its state cannot be gated: the wait then ends after the delay, and the samples
// carry no thermal tags to suggest otherwise.
func (c Cooldown) wait(ctx context.Context, th Thermal) error {
	if err := sleep(ctx, c.Delay); err != nil {
		return err
	}
	if !c.gated() || th == nil {
		return nil
	}
	timeout, poll := c.Timeout, c.Poll
	if timeout <= 0 {
		timeout = time.Minute
	}
	if poll <= 0 {
		poll = time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		s, err := th.ThermalState(ctx)
		if err != nil || c.cool(s) {
			return nil
		}
		if !time.Now().Before(deadline) {
			return errCooldownTimeout
		}
		if err := sleep(ctx, min(poll, time.Until(deadline))); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
