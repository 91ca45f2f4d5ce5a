// Package hexagon is the catalog of Qualcomm Snapdragon chips the harness knows: for
// each SoC its QNN soc_model id, the Linux /sys/devices/soc0/soc_id values that
// identify it at run time, its HTP (Hexagon Tensor Processor) architecture and the
// library names that follow from it.
//
// Every value comes from the project's reference tables (docs qnn-abi.md §6.2 and
// qualcomm-pipeline.md §7). Nothing is guessed: a value the tables do not give is
// left zero, and where the tables disagree or a value comes only from third-party or
// draft code the chip says so in Notes and ArchUnconfirmed. Device discovery
// (adb getprop, /sys/devices/soc0) maps what it reads through Lookup and BySocID.
package hexagon

import (
	"fmt"
	"strings"
)

// Arch is an HTP architecture version, numbered as QNN numbers it
// (QnnHtpDevice_Arch_t: 68 for V68, 75 for V75); 0 means unknown.
type Arch int

// String returns the dsp_arch spelling used in HTP configs: "v75"; "unknown" for 0.
func (a Arch) String() string {
	if a == 0 {
		return "unknown"
	}
	return fmt.Sprintf("v%d", int(a))
}

// StubLib is the CPU-side library libQnnHtp loads by name to reach the DSP, for the
// target operating system ("android", "linux" or "windows").
func (a Arch) StubLib(goos string) string {
	if goos == "windows" {
		return fmt.Sprintf("QnnHtpV%dStub.dll", int(a))
	}
	return fmt.Sprintf("libQnnHtpV%dStub.so", int(a))
}

// SkelLib is the DSP-side library the stub loads through FastRPC; it has the same
// name on Android and on Windows on Arm (where WindowsCatalog must sit beside it).
func (a Arch) SkelLib() string { return fmt.Sprintf("libQnnHtpV%dSkel.so", int(a)) }

// WindowsCatalog is the signed catalog Windows checks the skel library against.
func (a Arch) WindowsCatalog() string { return fmt.Sprintf("libqnnhtpv%d.cat", int(a)) }

// OpPackageLib is the per-arch build of the custom RWKV WKV op package.
func (a Arch) OpPackageLib() string { return fmt.Sprintf("libQnnRwkvWkvOpPackageV%d.so", int(a)) }

// Chip is one SoC.
type Chip struct {
	// SoC is the Qualcomm part name, upper case: "SM8650".
	SoC string
	// Product is the marketing name ("Snapdragon 8 Gen 3"), empty when the tables
	// give none.
	Product string
	// SocModel is the QNN soc_model id (Qnn_SocModel_t; "soc_id" in rwkv-qualcomm's
	// HTP configs), 0 when unknown.
	SocModel int
	// LinuxSocIDs are the values /sys/devices/soc0/soc_id reads on this chip — a
	// different id space from SocModel. Empty when the tables give none.
	LinuxSocIDs []int
	// Arch is the HTP architecture, 0 when the tables give none.
	Arch Arch
	// ArchUnconfirmed is set when the arch comes only from third-party or draft code
	// or the sources disagree (see Notes).
	ArchUnconfirmed bool
	// VTCMMB is the HTP vector TCM size in MiB, 0 when unknown.
	VTCMMB int
	// NoFP16RelaxedPrecision is set for the chips whose rwkv-qualcomm HTP config
	// omits fp16_relaxed_precision (float graphs then do not run in fp16).
	NoFP16RelaxedPrecision bool
	// Aliases are other names the chip goes by: nicknames of the rwkv-qualcomm batch
	// pipeline ("8gen3") and alternative part spellings.
	Aliases []string
	// Notes records disagreements between sources and unconfirmed values.
	Notes string
}

// DSPArch is the dsp_arch string for HTP configs ("v75"), empty when unknown.
func (c Chip) DSPArch() string {
	if c.Arch == 0 {
		return ""
	}
	return c.Arch.String()
}

// HTPStubLib is the stub library for this chip's arch on goos; empty when the arch
// is unknown.
func (c Chip) HTPStubLib(goos string) string {
	if c.Arch == 0 {
		return ""
	}
	return c.Arch.StubLib(goos)
}

// SkelLib is the skel library for this chip's arch; empty when the arch is unknown.
func (c Chip) SkelLib() string {
	if c.Arch == 0 {
		return ""
	}
	return c.Arch.SkelLib()
}

// Lookup finds a chip by part name or alias, ignoring case and surrounding space:
// "SM8650", "sm8650" and "8gen3" all name the Snapdragon 8 Gen 3.
func Lookup(name string) (Chip, bool) {
	name = strings.TrimSpace(name)
	for _, c := range Chips() {
		if strings.EqualFold(c.SoC, name) {
			return c, true
		}
		for _, a := range c.Aliases {
			if strings.EqualFold(a, name) {
				return c, true
			}
		}
	}
	return Chip{}, false
}

// BySocID finds the chip whose /sys/devices/soc0/soc_id reads id.
func BySocID(id int) (Chip, bool) {
	for _, c := range Chips() {
		for _, s := range c.LinuxSocIDs {
			if s == id {
				return c, true
			}
		}
	}
	return Chip{}, false
}

// BySocModel finds the chip with the QNN soc_model id.
func BySocModel(id int) (Chip, bool) {
	for _, c := range Chips() {
		if c.SocModel == id && id != 0 {
			return c, true
		}
	}
	return Chip{}, false
}
