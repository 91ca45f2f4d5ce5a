package runner

import (
	"fmt"
	"strings"
	"testing"
)

func TestFillInfo(t *testing.T) {
	temp := func(c float64) *float64 { return &c }
	iptr := func(n int) *int { return &n }
	tests := []struct {
		name  string
		probe string
		props map[string]string
		want  Info
	}{
		{
			name:  "android phone",
			probe: "uname_s=Linux\nuname_m=aarch64\nandroid_linker=1\ndf=/dev/block/dm-5 1000 10 2048 1% /data\nthermal_status=1\nbattery_temp=312\n",
			props: map[string]string{"ro.product.model": "23127PN0CC", "ro.soc.model": "SM8650", "ro.product.cpu.abi": "arm64-v8a", "ro.build.version.release": "14", "ro.build.version.sdk": "34"},
			want: Info{Model: "23127PN0CC", SoC: "SM8650", HTPArch: "v75", QNNSocModel: 57, ABI: "arm64-v8a", OS: "Android 14 (SDK 34)",
				GOOS: "android", GOARCH: "arm64", FreeStorageBytes: 2048 * 1024, ThermalStatus: iptr(1), BatteryTempC: temp(31.2)},
		},
		{
			name:  "emulated phone runs on an amd64 host",
			probe: "uname_s=Linux\nuname_m=x86_64\n",
			props: map[string]string{"ro.soc.model": "SM8750", "ro.product.cpu.abi": "arm64-v8a", "ro.build.version.release": "15"},
			want:  Info{SoC: "SM8750", HTPArch: "v79", QNNSocModel: 69, ABI: "arm64-v8a", OS: "Android 15", GOOS: "linux", GOARCH: "amd64"},
		},
		{
			name:  "linux board by soc_id",
			probe: "uname_s=Linux\nuname_m=aarch64\nuname_r=6.1\nsoc_id=498\nsoc_family=Snapdragon\ndt_model=Qualcomm RB3 Gen 2\nos_pretty=Ubuntu 22.04 LTS\nzone_temp=41000\nzone_temp=52500\nzone_temp=junk\n",
			want:  Info{Model: "Qualcomm RB3 Gen 2", SoC: "QCM6490", HTPArch: "v68", QNNSocModel: 93, ABI: "aarch64", OS: "Ubuntu 22.04 LTS", GOOS: "linux", GOARCH: "arm64", HottestZoneC: temp(52.5)},
		},
		{
			name:  "soc_id without Snapdragon family is not mapped",
			probe: "uname_s=Linux\nuname_m=aarch64\nsoc_id=557\n",
			want:  Info{ABI: "aarch64", OS: "Linux", GOOS: "linux", GOARCH: "arm64"},
		},
		{
			name:  "unknown chip keeps part number, no arch",
			probe: "uname_s=Linux\n",
			props: map[string]string{"ro.soc.model": "SM9999"},
			want:  Info{SoC: "SM9999", OS: "Linux", GOOS: "linux"},
		},
		{
			name:  "disputed arch is flagged",
			probe: "uname_s=Linux\n",
			props: map[string]string{"ro.soc.model": "sm8735"},
			want:  Info{SoC: "SM8735", HTPArch: "v79", QNNSocModel: 85, HTPArchUnconfirmed: true, OS: "Linux", GOOS: "linux"},
		},
		{
			name:  "garbage",
			probe: "=\n\x00\ndf=a b c notanumber\nthermal_status=hot\nbattery_temp=99999\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Info
			fillInfo(&got, parseProbe(tt.probe), tt.props)
			if a, b := fmt.Sprintf("%+v", deref(got)), fmt.Sprintf("%+v", deref(tt.want)); a != b {
				t.Errorf("fillInfo =\n%s\nwant\n%s", a, b)
			}
		})
	}
}

func FuzzParseProbe(f *testing.F) {
	f.Add("uname_s=Linux\nuname_m=aarch64\ndf=/dev/x 1 2 3 4% /\nzone_temp=40000\nbattery_temp=300\nthermal_status=2\n")
	f.Add("soc_id=557\nsoc_family=Snapdragon\n")
	f.Fuzz(func(t *testing.T, out string) {
		var info Info
		fillInfo(&info, parseProbe(out), map[string]string{"ro.soc.model": strings.TrimSpace(out)})
		if info.FreeStorageBytes < 0 {
			t.Fatalf("negative free storage from %q", out)
		}
	})
}

// deref makes pointer fields printable for comparison.
func deref(i Info) map[string]any {
	m := map[string]any{"info": fmt.Sprintf("%+v", Info{Serial: i.Serial, Transport: i.Transport, Model: i.Model, SoC: i.SoC, HTPArch: i.HTPArch,
		QNNSocModel: i.QNNSocModel, HTPArchUnconfirmed: i.HTPArchUnconfirmed, ABI: i.ABI, OS: i.OS, GOOS: i.GOOS, GOARCH: i.GOARCH, FreeStorageBytes: i.FreeStorageBytes})}
	if i.ThermalStatus != nil {
		m["status"] = *i.ThermalStatus
	}
	if i.HottestZoneC != nil {
		m["zone"] = *i.HottestZoneC
	}
	if i.BatteryTempC != nil {
		m["battery"] = *i.BatteryTempC
	}
	return m
}
