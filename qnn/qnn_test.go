package qnn

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrorNames(t *testing.T) {
	tests := []struct {
		handle uint64
		code   int
		name   string
	}{
		{1004, 1004, "QNN_COMMON_ERROR_INVALID_ARGUMENT"},
		{0xABCD_0000 | 6004, 6004, "QNN_GRAPH_ERROR_INVALID_TENSOR"}, // upper bits are tracking, masked off
		{5004, 5004, "QNN_CONTEXT_ERROR_BINARY_VERSION"},
		{5008, 5008, "QNN_CONTEXT_ERROR_BINARY_CONFIGURATION"},
		{1<<40 | 1011, 1011, "QNN_COMMON_ERROR_SYSTEM_COMMUNICATION_FATAL"},
		{13002, 13002, "QNN_PERF_INFRASTRUCTURE_ERROR_UNSUPPORTED_CONFIG"},
		{30010, 30010, "QNN_SYSTEM_ERROR_MALFORMED_BINARY"},
		{6099, 6099, "QNN_GRAPH_ERROR_UNKNOWN_6099"},
		{31500, 31500, "QNN_SYSTEM_ERROR_UNKNOWN_31500"},
		{65000, 65000, "QNN_UNKNOWN_ERROR_65000"},
	}
	for _, tt := range tests {
		err := newError("op", tt.handle, "")
		var qe *Error
		if !errors.As(err, &qe) || qe.Code != tt.code || qe.Name != tt.name {
			t.Errorf("newError(%#x) = %v, want %s (%d)", tt.handle, err, tt.name, tt.code)
		}
		if !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%v lacks the name", err)
		}
	}
	if newError("op", 0, "") != nil {
		t.Error("QNN_SUCCESS is not an error")
	}
	for code, name := range errorNames() {
		if code != 0 && ErrorName(code) != name {
			t.Errorf("ErrorName(%d) = %s", code, ErrorName(code))
		}
	}
	if !(&Error{Code: 1007}).DSPRestarted() || (&Error{Code: 1003}).DSPRestarted() {
		t.Error("DSPRestarted: 1007 and 1011 only")
	}
}

func TestChooseProvider(t *testing.T) {
	p := func(name string, id, major, minor uint32) Provider {
		return Provider{Name: name, BackendID: id, CoreAPI: Version{major, minor, 0}}
	}
	tests := []struct {
		name    string
		ps      []Provider
		backend Backend
		want    string // chosen provider name, or error substring
		wantErr bool
	}{
		{"newest only", []Provider{p("a", 6, 2, 32)}, BackendHTP, "a", false},
		{"newer minor ok", []Provider{p("a", 6, 2, 38)}, BackendHTP, "a", false},
		{"first qualifying", []Provider{p("old", 6, 2, 10), p("b", 6, 2, 32), p("c", 6, 2, 33)}, BackendHTP, "b", false},
		{"too old", []Provider{p("old", 6, 2, 31)}, BackendHTP, "core API 2.31.0, need 2.32", true},
		{"API 1.x", []Provider{p("v1", 6, 1, 99)}, BackendHTP, "core API 1.99.0", true},
		{"API 3", []Provider{p("v3", 6, 3, 0)}, BackendHTP, "core API 3.0.0", true},
		{"wrong backend", []Provider{p("cpu", 3, 2, 32)}, BackendHTP, "backend id 3, want 6", true},
		{"none", nil, BackendHTP, "no providers", true},
	}
	for _, tt := range tests {
		got, err := chooseProvider("lib.so", tt.ps, tt.backend)
		switch {
		case tt.wantErr && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		case !tt.wantErr && (err != nil || got.Name != tt.want):
			t.Errorf("%s: chose %q (%v), want %q", tt.name, got.Name, err, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Backend{"qnn-htp": BackendHTP, "HTP": BackendHTP, "qnn-cpu": BackendCPU, "gpu": BackendGPU} {
		if b, err := ParseBackend(in); err != nil || b != want {
			t.Errorf("ParseBackend(%q) = %v, %v", in, b, err)
		}
	}
	if _, err := ParseBackend("cpu-fp32"); err == nil {
		t.Error("ParseBackend(cpu-fp32): no error")
	}
	for in, want := range map[string]PerfProfile{"": PerfNone, "burst": PerfBurst, "high_performance": PerfSustainedHigh, "balanced": PerfBalanced} {
		if p, err := ParsePerfProfile(in); err != nil || p != want {
			t.Errorf("ParsePerfProfile(%q) = %v, %v", in, p, err)
		}
	}
	if _, err := ParsePerfProfile("turbo"); err == nil {
		t.Error("ParsePerfProfile(turbo): no error")
	}
	tests := []struct {
		goos    string
		b       Backend
		lib, sy string
	}{
		{"android", BackendHTP, "libQnnHtp.so", "libQnnSystem.so"},
		{"linux", BackendCPU, "libQnnCpu.so", "libQnnSystem.so"},
		{"windows", BackendHTP, "QnnHtp.dll", "QnnSystem.dll"},
		{"windows", BackendGPU, "QnnGpu.dll", "QnnSystem.dll"},
	}
	for _, tt := range tests {
		if l, s := LibraryNames(tt.goos, tt.b); l != tt.lib || s != tt.sy {
			t.Errorf("LibraryNames(%s, %v) = %s, %s", tt.goos, tt.b, l, s)
		}
	}
}

// The dtypes the session converts: quantized uint16 logits, fp16, fp32, uint8.
func TestDecodeValues(t *testing.T) {
	u16 := func(vs ...uint16) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
		return b
	}
	tests := []struct {
		name string
		t    TensorInfo
		src  []byte
		want []float32
	}{
		{"ufixed16", TensorInfo{DataType: UFixedPoint16, Quantized: true, Scale: 0.5, Offset: -32768}, u16(32768, 32770, 0), []float32{0, 1, -16384}},
		{"uint16 plain", TensorInfo{DataType: UInt16}, u16(7), []float32{7}},
		{"sfixed16", TensorInfo{DataType: SFixedPoint16, Quantized: true, Scale: 0.25, Offset: 4}, u16(0xFFFC), []float32{0}},
		{"fp16", TensorInfo{DataType: Float16}, u16(0x3C00, 0xC000), []float32{1, -2}},
		{"fp32", TensorInfo{DataType: Float32}, binary.LittleEndian.AppendUint32(nil, math.Float32bits(-1.5)), []float32{-1.5}},
		{"ufixed8", TensorInfo{DataType: UFixedPoint8, Quantized: true, Scale: 2, Offset: -128}, []byte{130}, []float32{4}},
	}
	for _, tt := range tests {
		got := make([]float32, len(tt.want))
		if _, err := decodeValues(tt.t, tt.src, got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
	}
	if _, err := decodeValues(TensorInfo{DataType: Int32}, nil, nil); err == nil {
		t.Error("INT_32 logits accepted")
	}
}

func TestFillZero(t *testing.T) {
	tests := []struct {
		t    TensorInfo
		want byte // low byte of each element
		hi   byte
	}{
		{TensorInfo{DataType: UFixedPoint16, Quantized: true, Scale: 1.0 / 256, Offset: -32768}, 0x00, 0x80},
		{TensorInfo{DataType: UFixedPoint16, Quantized: true, Scale: 1.0 / 65535, Offset: 0}, 0, 0}, // fp16-in-uint16: fp16 zero
		{TensorInfo{DataType: UFixedPoint16, Quantized: true, Scale: 1, Offset: -300}, 0x2C, 0x01},
		{TensorInfo{DataType: Float32}, 0, 0},
	}
	for _, tt := range tests {
		data := []byte{9, 9, 9, 9}
		fillZero(tt.t, data)
		if data[0] != tt.want || data[1] != tt.hi || data[2] != tt.want || data[3] != tt.hi {
			t.Errorf("%+v: %x", tt.t, data)
		}
	}
}

func TestChunkFiles(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{[]string{"d/m.bin"}, []string{"d/m.bin"}, ""},
		{[]string{"d/m_chunk1of3.bin"}, []string{"d/m_chunk1of3.bin", "d/m_chunk2of3.bin", "d/m_chunk3of3.bin"}, ""},
		{[]string{"d/m_chunk2of3.bin"}, nil, "give chunk 1"},
		{[]string{"a_chunk2of2.bin", "a_chunk1of2.bin"}, nil, "given as chunk 1 of 2"},
		{[]string{"x.bin", "y.bin"}, []string{"x.bin", "y.bin"}, ""},
		{nil, nil, "no context binary"},
	}
	for _, tt := range tests {
		got, err := chunkFiles(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("chunkFiles(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("chunkFiles(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func FuzzChunkFiles(f *testing.F) {
	for _, s := range []string{"m.bin", "m_chunk1of4.bin", "m_chunk0of0.bin", "_chunk1of99999999999999999999.bin", "a/b_chunk1of2.bin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		files, err := chunkFiles([]string{name})
		if err == nil && (len(files) == 0 || len(files) > 64) {
			t.Fatalf("%q: %d files", name, len(files))
		}
	})
}

func FuzzLoadEmbedding(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63}, uint32(1))
	f.Add([]byte{}, uint32(4))
	f.Add([]byte{1, 2, 3}, uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, width uint32) {
		if width > 1<<20 {
			return
		}
		p := filepath.Join(t.TempDir(), "m.fp32.emb")
		os.WriteFile(p, data, 0o644)
		in := TensorInfo{Name: "in_embedding", DataType: Float32, Dims: []uint32{1, 1, width}}
		tab, err := loadEmbedding(p, "m.bin", in)
		if err == nil && (tab.rows*tab.rowBytes != len(data) || tab.rows == 0) {
			t.Fatalf("%d bytes, width %d: %d rows of %d", len(data), width, tab.rows, tab.rowBytes)
		}
	})
}
