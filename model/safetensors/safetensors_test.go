package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/model/internal/mmap"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// file assembles a safetensors file from a header (JSON text) and the data section;
// pad spaces are appended to the header until its length is a multiple of align.
func file(header string, align int, data []byte) []byte {
	for len(header)%align != 0 {
		header += " "
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func f32Bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func u16Bytes(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestRead(t *testing.T) {
	tests := []struct {
		name       string
		data       []byte
		want       []tensor.Tensor
		wantMapped bool
	}{
		{
			name: "f32, aligned, with metadata and an empty tensor",
			data: file(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},`+
				`"v":{"dtype":"F32","shape":[1,1,2],"data_offsets":[24,32]},"e":{"dtype":"F32","shape":[0],"data_offsets":[32,32]}}`, 8,
				f32Bytes(1, 2, 3, 4, 5, 6, -1, 0.5)),
			want: []tensor.Tensor{
				{Name: "a", Shape: []int{2, 3}, DType: tensor.F32, Data: []float32{1, 2, 3, 4, 5, 6}},
				{Name: "v", Shape: []int{1, 1, 2}, DType: tensor.F32, Data: []float32{-1, 0.5}},
				{Name: "e", Shape: []int{0}, DType: tensor.F32, Data: []float32{}},
			},
			wantMapped: true,
		},
		{
			name: "f32, misaligned header",
			data: file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} `, 1, f32Bytes(7, 8)), // data at byte 63,
			want: []tensor.Tensor{{Name: "a", Shape: []int{2}, DType: tensor.F32, Data: []float32{7, 8}}},
		},
		{
			name: "f16, bf16, f64, scalar, unordered offsets",
			data: file(`{"d":{"dtype":"F64","shape":[],"data_offsets":[16,24]},"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},`+
				`"b":{"dtype":"BF16","shape":[4],"data_offsets":[8,16]}}`, 8,
				cat(u16Bytes(0x3c00, 0xc000, 0x7bff, 0x0001), u16Bytes(0x3f80, 0xc040, 0x4049, 0x0001),
					binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1)))),
			want: []tensor.Tensor{
				{Name: "h", Shape: []int{2, 2}, DType: tensor.F16, Data: []float32{1, -2, 65504, 0x1p-24}},
				{Name: "b", Shape: []int{4}, DType: tensor.BF16, Data: []float32{1, -3, 3.140625, math.Float32frombits(0x00010000)}},
				{Name: "d", Shape: []int{}, DType: tensor.F64, Data: []float32{float32(0.1)}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(how string, s *tensor.Set) {
				t.Helper()
				if len(s.Tensors) != len(tt.want) || s.Format != "safetensors" {
					t.Errorf("%s: %d tensors, format %q", how, len(s.Tensors), s.Format)
				}
				for _, want := range tt.want {
					got, err := s.Get(want.Name)
					if err != nil {
						t.Errorf("%s: %v", how, err)
						continue
					}
					if !reflect.DeepEqual(*got, want) {
						t.Errorf("%s: %s = %+v, want %+v", how, want.Name, *got, want)
					}
				}
			}
			s, err := ReadFrom(bytes.NewReader(tt.data), int64(len(tt.data)), "hand.safetensors")
			if err != nil {
				t.Fatal(err)
			}
			check("ReadFrom", s)

			path := filepath.Join(t.TempDir(), "hand.safetensors")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err = Read(path)
			if err != nil {
				t.Fatal(err)
			}
			check("Read", s)
			if err := s.Close(); err != nil {
				t.Error(err)
			}

			f, _ := os.Open(path)
			defer f.Close()
			if m, err := mmap.File(f, int64(len(tt.data))); err == nil {
				defer m.Close()
				s, used, err := read(f, int64(len(tt.data)), path, m.Data)
				if err != nil {
					t.Fatal(err)
				}
				if used != tt.wantMapped {
					t.Errorf("mapping used = %v, want %v", used, tt.wantMapped)
				}
				// Private mapping: writes stay in memory.
				for _, x := range s.Tensors {
					for i := range x.Data {
						x.Data[i] = 42
					}
				}
				if again, _ := os.ReadFile(path); !bytes.Equal(again, tt.data) {
					t.Error("a write to a mapped tensor reached the file")
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tensorAt := func(dtype, shape, offsets string) []byte {
		return file(`{"blocks.0.w":{"dtype":"`+dtype+`","shape":`+shape+`,"data_offsets":`+offsets+`}}`, 8, f32Bytes(1, 2, 3, 4))
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<40)
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"too short", []byte{1, 2, 3}, []string{"too short"}},
		{"header longer than file", append(huge, "{}"...), []string{"header length"}},
		{"not JSON", file(`{"a":`, 1, nil), []string{"not a JSON object"}},
		{"JSON array", file(`[1,2]`, 1, nil), []string{"not a JSON object"}},
		{"bad metadata", file(`{"__metadata__":{"a":1}}`, 1, nil), []string{"__metadata__"}},
		{"unsupported dtype", tensorAt("I32", "[4]", "[0,16]"), []string{"blocks.0.w", `dtype "I32"`}},
		{"missing dtype", file(`{"blocks.0.w":{"shape":[1],"data_offsets":[0,4]}}`, 8, f32Bytes(1)), []string{"blocks.0.w", "no dtype"}},
		{"offsets past the end", tensorAt("F32", "[5]", "[0,20]"), []string{"blocks.0.w", "outside the 16-byte data section"}},
		{"offsets reversed", tensorAt("F32", "[0]", "[8,4]"), []string{"blocks.0.w", "outside"}},
		{"size mismatch", tensorAt("F32", "[3]", "[0,16]"), []string{"blocks.0.w", "needs 12 bytes", "give 16"}},
		{"shape overflow", tensorAt("F32", "[4294967296,4294967296,4294967296]", "[0,16]"), []string{"blocks.0.w", "needs more bytes"}},
		{"negative dim", tensorAt("F32", "[-4]", "[0,16]"), []string{"blocks.0.w", "negative"}},
		{"one offset", tensorAt("F32", "[4]", "[16]"), []string{"blocks.0.w", "want [begin, end]"}},
		{"fractional shape", tensorAt("F32", "[1.5]", "[0,4]"), []string{"blocks.0.w"}},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, 8, f32Bytes(1, 2, 3, 4)),
			[]string{"tensors a and b overlap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrom(bytes.NewReader(tt.data), int64(len(tt.data)), "bad.safetensors")
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range append(tt.want, "bad.safetensors") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "nope.safetensors"))
	if err == nil || !strings.Contains(err.Error(), "nope.safetensors") {
		t.Errorf("error %v does not name the file", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(file(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},`+
		`"b":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]}}`, 8, cat(f32Bytes(1, 2, 3, 4), u16Bytes(0x3f80, 1))))
	f.Add(file(`{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"d":{"dtype":"F64","shape":[],"data_offsets":[2,10]}}`, 1, make([]byte, 10)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.safetensors") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, x := range s.Tensors {
			if x.Len() != len(x.Data) {
				t.Errorf("%s: shape %v with %d elements", x.Name, x.Shape, len(x.Data))
			}
		}
	})
}
