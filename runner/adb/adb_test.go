package adb_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/runner/adb"
	"github.com/rwkvbench/rwkvbench/runner/devicetest"
)

func TestConformanceAgainstEmulatedDevice(t *testing.T) {
	lab := devicetest.StartADBLab(t, []string{"SM8650"}, nil)
	d := lab.Client.Device(lab.Serials[0], "")
	devicetest.Conformance(t, d)
}

// TestDiscoveryThreeSoCs checks that each emulated phone is found with its SoC and
// the HTP arch and QNN soc_model the chip catalog gives.
func TestDiscoveryThreeSoCs(t *testing.T) {
	lab := devicetest.StartADBLab(t, []string{"SM8650", "SM8750", "SM8550"}, nil)
	ctx := context.Background()
	entries, err := lab.Client.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("adb devices listed %d devices, want 3: %+v", len(entries), entries)
	}
	want := map[string][2]any{"SM8650": {"v75", 57}, "SM8750": {"v79", 69}, "SM8550": {"v73", 43}}
	for i, serial := range lab.Serials {
		info, err := lab.Client.Device(serial, "").Describe(ctx)
		if err != nil {
			t.Fatalf("describe %s: %v", serial, err)
		}
		soc := lab.Emus[i].Profile().SoC
		if info.SoC != soc || info.HTPArch != want[soc][0] || info.QNNSocModel != want[soc][1] {
			t.Errorf("%s: SoC/arch/soc_model = %s/%s/%d, want %s/%v/%v", serial, info.SoC, info.HTPArch, info.QNNSocModel, soc, want[soc][0], want[soc][1])
		}
		if info.ABI != "arm64-v8a" || !strings.HasPrefix(info.OS, "Android") || info.Model == "" {
			t.Errorf("%s: ABI/OS/model = %q/%q/%q, want what the profile reports", serial, info.ABI, info.OS, info.Model)
		}
		if info.ThermalStatus == nil || info.BatteryTempC == nil || info.FreeStorageBytes <= 0 {
			t.Errorf("%s: thermal/battery/storage missing: %+v", serial, info)
		}
	}
}

func TestParseDevices(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []adb.Entry
		wantErr bool
	}{
		{name: "empty list", in: "List of devices attached\n\n", want: nil},
		{name: "daemon banner", in: "* daemon not running; starting now at tcp:5037\n* daemon started successfully\nList of devices attached\n127.0.0.1:5555\tdevice product:p model:M device:d transport_id:3\n",
			want: []adb.Entry{{Serial: "127.0.0.1:5555", State: "device", Attrs: map[string]string{"product": "p", "model": "M", "device": "d", "transport_id": "3"}}}},
		{name: "states", in: "List of devices attached\nR58M123 unauthorized usb:1-1 transport_id:2\nemulator-5554 offline\nABC no permissions (user in plugdev group); see [http://developer.android.com/tools/device.html] usb:1-2\n",
			want: []adb.Entry{
				{Serial: "R58M123", State: "unauthorized", Attrs: map[string]string{"usb": "1-1", "transport_id": "2"}},
				{Serial: "emulator-5554", State: "offline", Attrs: map[string]string{}},
				{Serial: "ABC", State: "no permissions (user in plugdev group); see", Attrs: map[string]string{"[http": "//developer.android.com/tools/device.html]", "usb": "1-2"}},
			}},
		{name: "no header", in: "error: cannot connect to daemon\n", wantErr: true},
		{name: "no state", in: "List of devices attached\nlonely\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := adb.ParseDevices(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseDevices(f *testing.F) {
	f.Add("List of devices attached\n127.0.0.1:5555\tdevice product:p model:M\n")
	f.Add("* daemon\nList of devices attached\nx offline\n")
	f.Fuzz(func(t *testing.T, out string) {
		entries, err := adb.ParseDevices(out)
		for _, e := range entries {
			if err == nil && (e.Serial == "" || e.State == "") {
				t.Fatalf("entry without serial or state from %q", out)
			}
		}
	})
}

func TestParseGetprop(t *testing.T) {
	out := "[ro.soc.model]: [SM8650]\r\n[ro.product.model]: [Phone X]\nwarning: junk\n[multi]: [line one\nline two]\n[empty]: []\n[bad line\n"
	got := adb.ParseGetprop(out)
	want := map[string]string{"ro.soc.model": "SM8650", "ro.product.model": "Phone X", "multi": "line one\nline two", "empty": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseGetprop = %q, want %q", got, want)
	}
}

func FuzzParseGetprop(f *testing.F) {
	f.Add("[ro.soc.model]: [SM8650]\n[a]: [b\nc]\n")
	f.Add("[x]: [")
	f.Fuzz(func(t *testing.T, out string) {
		for k := range adb.ParseGetprop(out) {
			if k == "" {
				t.Fatalf("empty key from %q", out)
			}
		}
	})
}
