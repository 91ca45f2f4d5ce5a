package runner

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/bench"
)

// probeScript asks a POSIX device (Linux, Android, the host) what it is, in one
// round trip. It prints key=value lines, one value per line (newlines inside values
// are flattened), and prints nothing for what the device cannot answer. The work
// directory arrives as $1, never spliced into the script. Android is told from
// other Linux by an executable /system/bin/linker64: the agent build must match the
// dynamic linker the device really has.
const probeScript = `p() { printf '%s=%s\n' "$1" "$(printf %s "$2" | tr '\n\r' '  ')"; }
p uname_s "$(uname -s 2>/dev/null)"
p uname_m "$(uname -m 2>/dev/null)"
p uname_r "$(uname -r 2>/dev/null)"
[ -r /sys/devices/soc0/soc_id ] && p soc_id "$(cat /sys/devices/soc0/soc_id 2>/dev/null)"
[ -r /sys/devices/soc0/family ] && p soc_family "$(cat /sys/devices/soc0/family 2>/dev/null)"
[ -r /proc/device-tree/model ] && p dt_model "$(tr -d '\000' < /proc/device-tree/model 2>/dev/null)"
[ -r /sys/class/dmi/id/product_name ] && p dmi_product "$(cat /sys/class/dmi/id/product_name 2>/dev/null)"
[ -r /etc/os-release ] && p os_pretty "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
[ -x /system/bin/linker64 ] && p android_linker 1
d="$1"; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
p df "$(df -Pk "$d" 2>/dev/null | tail -n 1)"
for z in /sys/class/thermal/thermal_zone*/temp; do [ -r "$z" ] && p zone_temp "$(cat "$z" 2>/dev/null)"; done
[ -r /sys/class/power_supply/battery/temp ] && p battery_temp_sys "$(cat /sys/class/power_supply/battery/temp 2>/dev/null)"
if command -v dumpsys >/dev/null 2>&1; then
  p thermal_status "$(dumpsys thermalservice 2>/dev/null | sed -n 's/^Thermal Status: *//p' | head -n 1)"
  p battery_temp "$(dumpsys battery 2>/dev/null | sed -n 's/^ *temperature: *//p' | head -n 1)"
fi
exit 0
`

// parseProbe reads probeScript's output. Keys may repeat (one zone_temp per thermal
// zone); lines without '=' are ignored, since a device may print banners.
func parseProbe(out string) map[string][]string {
	kv := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || k == "" {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		kv[k] = append(kv[k], v)
	}
	return kv
}

// DescribePOSIX runs the probe script on d and combines its answers with props, the
// Android system properties (nil off Android), into an Info. Transports call it from
// their Describe.
func DescribePOSIX(ctx context.Context, d Device, props map[string]string) (Info, error) {
	var out, errOut strings.Builder
	err := d.Run(ctx, Cmd{Args: []string{"sh", "-c", probeScript, "sh", d.Workdir()}, Dir: "/", Stdout: &out, Stderr: &errOut})
	if err != nil {
		return Info{}, fmt.Errorf("describe %s: %w", d.Serial(), err)
	}
	info := Info{Serial: d.Serial(), Transport: d.Transport()}
	fillInfo(&info, parseProbe(out.String()), props)
	return info, nil
}

func first(kv map[string][]string, k string) string {
	if v := kv[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// fillInfo turns probe answers and Android properties into Info fields. Nothing is
// inferred beyond what a value states: a missing answer leaves the field empty.
func fillInfo(info *Info, kv map[string][]string, props map[string]string) {
	android := props["ro.build.version.release"] != "" || props["ro.build.version.sdk"] != ""

	info.Model = props["ro.product.model"]
	if info.Model == "" {
		info.Model = first(kv, "dt_model")
	}
	if info.Model == "" {
		info.Model = first(kv, "dmi_product")
	}

	soc := props["ro.soc.model"]
	if soc == "" && strings.EqualFold(strings.TrimSpace(first(kv, "soc_family")), "Snapdragon") {
		soc = socFromLinuxID(first(kv, "soc_id"))
	}
	if soc != "" {
		info.SetSoC(soc)
	}

	info.ABI = props["ro.product.cpu.abi"]
	if info.ABI == "" {
		info.ABI = first(kv, "uname_m")
	}

	switch {
	case android:
		info.OS = "Android " + props["ro.build.version.release"]
		if sdk := props["ro.build.version.sdk"]; sdk != "" {
			info.OS += " (SDK " + sdk + ")"
		}
		info.OS = strings.TrimSpace(info.OS)
	case first(kv, "os_pretty") != "":
		info.OS = first(kv, "os_pretty")
	case first(kv, "uname_s") != "":
		info.OS = strings.TrimSpace(first(kv, "uname_s") + " " + first(kv, "uname_r"))
	}

	// The agent build follows the machine that actually executes our commands
	// (uname), not the properties: an emulated phone answers Android properties but
	// runs its shell on the host.
	info.GOARCH = goarchFromMachine(first(kv, "uname_m"))
	switch {
	case first(kv, "android_linker") != "":
		info.GOOS = "android"
	case strings.EqualFold(first(kv, "uname_s"), "Linux"):
		info.GOOS = "linux"
	case strings.EqualFold(first(kv, "uname_s"), "Darwin"):
		info.GOOS = "darwin"
	}

	if f := strings.Fields(first(kv, "df")); len(f) >= 4 {
		if kb, err := strconv.ParseInt(f[3], 10, 64); err == nil && kb >= 0 && kb < 1<<53/1024 {
			info.FreeStorageBytes = kb * 1024
		}
	}

	if n, err := strconv.Atoi(first(kv, "thermal_status")); err == nil && n >= 0 && n <= 6 {
		info.ThermalStatus = &n
	}
	for _, z := range kv["zone_temp"] {
		// Zones report millidegrees; some idle sensors report nonsense, skip it.
		if milli, err := strconv.ParseFloat(z, 64); err == nil && milli > -40000 && milli < 200000 {
			if c := milli / 1000; info.HottestZoneC == nil || c > *info.HottestZoneC {
				info.HottestZoneC = &c
			}
		}
	}

	// dumpsys battery and /sys report tenths of a degree Celsius.
	for _, k := range []string{"battery_temp", "battery_temp_sys"} {
		if t, err := strconv.ParseFloat(first(kv, k), 64); err == nil && t > -500 && t < 2000 {
			c := t / 10
			info.BatteryTempC = &c
			break
		}
	}
}

func goarchFromMachine(m string) string {
	switch strings.TrimSpace(m) {
	case "aarch64", "arm64", "arm64-v8a":
		return "arm64"
	case "x86_64", "amd64":
		return "amd64"
	case "i686", "i386", "x86":
		return "386"
	case "armv7l", "armv7", "armv8l", "armeabi-v7a":
		return "arm"
	case "riscv64":
		return "riscv64"
	}
	return ""
}

// ThermalState returns the thermal part of an Info as the bench runner reads it:
// status -1 and NaN temperature when unknown. The temperature is the hottest zone,
// or the battery when no zone is readable.
func (i Info) ThermalState() bench.ThermalState {
	st := bench.ThermalState{Status: -1, TempC: math.NaN()}
	if i.ThermalStatus != nil {
		st.Status = *i.ThermalStatus
	}
	switch {
	case i.HottestZoneC != nil:
		st.TempC = *i.HottestZoneC
	case i.BatteryTempC != nil:
		st.TempC = *i.BatteryTempC
	}
	return st
}

// ThermalStatusName names Android's PowerManager THERMAL_STATUS_* levels.
func ThermalStatusName(n int) string {
	names := []string{"none", "light", "moderate", "severe", "critical", "emergency", "shutdown"}
	if n >= 0 && n < len(names) {
		return names[n]
	}
	return "unknown"
}
