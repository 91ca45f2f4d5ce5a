package adbemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteDevicePaths(t *testing.T) {
	const root = "/r"
	tests := []struct{ in, want string }{
		{"ls /data/local/tmp", "ls /r/data/local/tmp"},
		{"cd /data/local/tmp && ./agent", "cd /r/data/local/tmp && ./agent"},
		{"cat '/data/local/tmp/a b'\\''c\"$(x)'", "cat '/r/data/local/tmp/a b'\\''c\"$(x)'"},
		{`cat "/sdcard/x"`, `cat "/r/sdcard/x"`},
		{"LD_LIBRARY_PATH=/data/local/tmp/lib:/vendor/lib64 ./a", "LD_LIBRARY_PATH=/r/data/local/tmp/lib:/r/vendor/lib64 ./a"},
		{"cat /sys/devices/soc0/soc_id", "cat /r/sys/devices/soc0/soc_id"},
		{"cat /sys/class/thermal/thermal_zone0/temp", "cat /r/sys/class/thermal/thermal_zone0/temp"},
		{"cat /sys/kernel/x", "cat /sys/kernel/x"},           // not a device directory
		{"ls /database /datafile", "ls /database /datafile"}, // prefix must end at a path boundary
		{"ls x/data", "ls x/data"},                           // a relative path is not a device path
		{"echo /data", "echo /r/data"},                       // the documented limitation: literals too
		{"(ls /data)|wc -l;ls /system/bin", "(ls /r/data)|wc -l;ls /r/system/bin"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := rewriteDevicePaths(tt.in, root); got != tt.want {
			t.Errorf("rewriteDevicePaths(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestGetpropScript runs the generated script with /bin/sh, including values that
// would break out of naive quoting.
func TestGetpropScript(t *testing.T) {
	props := map[string]string{
		"ro.soc.model": "SM8650",
		"ro.evil":      `it's "$(touch pwned)" ; exit 9`,
		"ro.empty":     "",
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "getprop")
	if err := os.WriteFile(script, []byte(getpropScript(props)), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ro.soc.model"}, "SM8650\n"},
		{[]string{"ro.evil"}, `it's "$(touch pwned)" ; exit 9` + "\n"},
		{[]string{"ro.empty"}, "\n"},
		{[]string{"ro.missing"}, "\n"},
		{[]string{"ro.missing", "fallback"}, "fallback\n"},
		{nil, "[ro.empty]: []\n[ro.evil]: [it's \"$(touch pwned)\" ; exit 9]\n[ro.soc.model]: [SM8650]\n"},
	}
	for _, tt := range tests {
		cmd := exec.Command("/bin/sh", append([]string{script}, tt.args...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("getprop %q: %v", tt.args, err)
		}
		if string(out) != tt.want {
			t.Errorf("getprop %q = %q, want %q", tt.args, out, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a property value ran a command")
	}
}

func TestLookupProfile(t *testing.T) {
	tests := []struct {
		soc, platform string
		linuxID       int
		wantErr       bool
	}{
		{"SM8650", "pineapple", 557, false},
		{"sm8550", "kalama", 519, false},
		{"SM8750", "sun", 618, false},
		{"SM9999", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		p, err := LookupProfile(tt.soc)
		if (err != nil) != tt.wantErr {
			t.Errorf("LookupProfile(%q) error %v, want error %v", tt.soc, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "SM8650") {
				t.Errorf("error %q does not list the known SoCs", err)
			}
			continue
		}
		if p.Platform != tt.platform || p.LinuxSoCID != tt.linuxID {
			t.Errorf("LookupProfile(%q) = %+v", tt.soc, p)
		}
	}
}
