package bench

import (
	"strings"
	"testing"
)

func TestCPUModelName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  9654 96-Core Processor\n", "AMD EPYC 9654 96-Core Processor"},
		{"processor\t: 0\nBogoMIPS\t: 38.40\nHardware\t: Qualcomm Technologies, Inc SM8650\n", "Qualcomm Technologies, Inc SM8650"},
		{"model name\t:\nmodel name\t: second\n", "second"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CPUModelName([]byte(tt.in)); got != tt.want {
			t.Errorf("CPUModelName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCPUModelName(f *testing.F) {
	f.Add([]byte("model name\t: AMD EPYC\n"))
	f.Add([]byte("Hardware: x\n"))
	f.Add([]byte(":\n:::"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name := CPUModelName(b)
		if strings.ContainsAny(name, "\n\t") || name != strings.TrimSpace(name) {
			t.Fatalf("CPUModelName(%q) = %q", b, name)
		}
	})
}
