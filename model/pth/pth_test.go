package pth

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model/internal/mmap"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

func TestReadGolden(t *testing.T) {
	tests := []struct {
		file   string
		keys   int
		dtype  tensor.DType
		shapes map[string][]int
		// first three elements of emb.weight, decoded independently from the zip
		// entry with Python's struct module
		emb0 []float32
	}{
		{"v5.pth", 72, tensor.F32, map[string][]int{
			"blocks.2.att.time_decay":   {2, 64},
			"blocks.0.att.time_faaaa":   {2, 64},
			"blocks.1.att.time_mix_g":   {1, 1, 128},
			"blocks.1.ffn.key.weight":   {448, 128},
			"blocks.1.ffn.value.weight": {128, 448},
		}, []float32{-1.1258398, -1.1523602, -0.25057858}},
		{"v6.pth", 90, tensor.F32, map[string][]int{
			"blocks.1.att.time_maa_w1":   {128, 160},
			"blocks.1.att.time_maa_w2":   {5, 32, 128},
			"blocks.1.att.time_decay":    {1, 1, 128},
			"blocks.1.att.time_decay_w1": {128, 64},
			"blocks.2.att.time_decay_w2": {64, 128},
		}, nil},
		{"v7.pth", 105, tensor.F32, map[string][]int{
			"blocks.0.att.v1":         {128, 32},
			"blocks.1.att.r_k":        {2, 64},
			"blocks.1.att.x_g":        {1, 1, 128},
			"blocks.2.att.g2":         {64, 128},
			"blocks.2.ffn.key.weight": {512, 128},
		}, []float32{-1.1258398, -1.1523602, -0.25057858}},
		{"v7-bf16.pth", 105, tensor.BF16, map[string][]int{
			"blocks.1.att.r_k": {2, 64},
			"blocks.1.att.a1":  {128, 32},
		}, []float32{-1.5234375, -0.75, -0.65234375}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Read(fixtures.Path(t, "golden/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(s.Tensors) != tt.keys {
				t.Errorf("%d tensors, want %d", len(s.Tensors), tt.keys)
			}
			if s.Format != "pth" {
				t.Errorf("Format %q", s.Format)
			}
			shapes := map[string][]int{"emb.weight": {300, 128}, "head.weight": {300, 128}, "ln_out.bias": {128}, "blocks.0.ln0.weight": {128}}
			for k, v := range tt.shapes {
				shapes[k] = v
			}
			for name, want := range shapes {
				got, err := s.Get(name)
				if err != nil {
					t.Error(err)
					continue
				}
				if !reflect.DeepEqual(got.Shape, want) {
					t.Errorf("%s shape %v, want %v", name, got.Shape, want)
				}
			}
			for _, name := range s.Names() {
				x := s.Tensors[name]
				if x.DType != tt.dtype {
					t.Errorf("%s dtype %s, want %s", name, x.DType, tt.dtype)
				}
				if err := x.CheckFinite(); err != nil {
					t.Error(err)
				}
			}
			if tt.emb0 != nil {
				if got := s.Tensors["emb.weight"].Data[:3]; !reflect.DeepEqual(got, tt.emb0) {
					t.Errorf("emb.weight[:3] = %v, want %v", got, tt.emb0)
				}
			}
		})
	}
}

// TestMappedMatchesCopied reads each golden file through the memory map and by
// copying, and requires identical tensors; it also pins down which files map.
func TestMappedMatchesCopied(t *testing.T) {
	for _, tt := range []struct {
		file       string
		wantMapped bool
	}{{"v7.pth", true}, {"v7-bf16.pth", false}} {
		t.Run(tt.file, func(t *testing.T) {
			path := fixtures.Path(t, "golden/"+tt.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			m, err := mmap.File(f, st.Size())
			if err != nil {
				t.Skipf("no memory mapping here: %v", err)
			}
			defer m.Close()
			mapped, used, err := read(f, st.Size(), path, m, copyBudget(st.Size()))
			if err != nil {
				t.Fatal(err)
			}
			if used != tt.wantMapped {
				t.Errorf("mapping used = %v, want %v", used, tt.wantMapped)
			}
			copied, err := ReadFrom(f, st.Size(), path)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range copied.Names() {
				a, b := mapped.Tensors[name], copied.Tensors[name]
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s differs between mapped and copied reads", name)
				}
			}
			// Mappings are private: writing a tensor must work and not reach the file.
			emb := mapped.Tensors["emb.weight"]
			emb.Data[0] = 42
			if again, _ := ReadFrom(f, st.Size(), path); again.Tensors["emb.weight"].Data[0] == 42 {
				t.Error("a write to a mapped tensor reached the file")
			}
		})
	}
}

func TestReadHandMade(t *testing.T) {
	six := f32Bytes(1, 2, 3, 4, 5, 6)
	f32 := func(name, key string, numel, offset int64, shape, stride []int64) view {
		return view{name, "FloatStorage", key, numel, offset, shape, stride}
	}
	tests := []struct {
		name       string
		entries    []entry
		want       []tensor.Tensor
		wantMapped bool // when read from a file that can be mapped
	}{
		{
			name: "contiguous f32, aligned",
			entries: []entry{
				{name: "abc/data/0", data: six}, // data at byte 30+10: 4-aligned
				{name: "abc/data.pkl", data: stateDict(f32("w", "0", 6, 0, []int64{2, 3}, []int64{3, 1}))},
				{name: "abc/byteorder", data: []byte("little")},
			},
			want:       []tensor.Tensor{{Name: "w", Shape: []int{2, 3}, DType: tensor.F32, Data: []float32{1, 2, 3, 4, 5, 6}}},
			wantMapped: true,
		},
		{
			name: "contiguous f32, misaligned entry",
			entries: []entry{
				{name: "ab/data/0", data: six}, // data at byte 30+9
				{name: "ab/data.pkl", data: stateDict(f32("w", "0", 6, 0, []int64{6}, []int64{1}))},
			},
			want: []tensor.Tensor{{Name: "w", Shape: []int{6}, DType: tensor.F32, Data: []float32{1, 2, 3, 4, 5, 6}}},
		},
		{
			name: "transposed view, offset, shared storage, size-1 dims",
			entries: []entry{
				{name: "mmm/data/0", data: six}, // first, so its data is 4-aligned
				{name: "mmm/data.pkl", data: stateDict(
					f32("t", "0", 6, 0, []int64{3, 2}, []int64{1, 3}),
					f32("tail", "0", 6, 4, []int64{2}, []int64{1}),
					f32("col", "0", 6, 1, []int64{2, 1}, []int64{3, 99}),
					f32("row", "0", 6, 3, []int64{1, 1, 3}, []int64{7, 7, 1}),
					f32("scalar", "0", 6, 5, []int64{}, []int64{}),
					f32("empty", "0", 6, 0, []int64{0, 4}, []int64{4, 1}),
				)},
			},
			want: []tensor.Tensor{
				{Name: "t", Shape: []int{3, 2}, DType: tensor.F32, Data: []float32{1, 4, 2, 5, 3, 6}},
				{Name: "tail", Shape: []int{2}, DType: tensor.F32, Data: []float32{5, 6}},
				{Name: "col", Shape: []int{2, 1}, DType: tensor.F32, Data: []float32{2, 5}},
				{Name: "row", Shape: []int{1, 1, 3}, DType: tensor.F32, Data: []float32{4, 5, 6}},
				{Name: "scalar", Shape: []int{}, DType: tensor.F32, Data: []float32{6}},
				{Name: "empty", Shape: []int{0, 4}, DType: tensor.F32, Data: []float32{}},
			},
			wantMapped: true,
		},
		{
			name: "fp16, bf16 and f64 storages",
			entries: []entry{
				{name: "p/data.pkl", data: stateDict(
					view{"h", "HalfStorage", "0", 5, 0, []int64{5}, []int64{1}},
					view{"b", "BFloat16Storage", "1", 4, 0, []int64{2, 2}, []int64{2, 1}},
					view{"d", "DoubleStorage", "2", 3, 1, []int64{2}, []int64{1}},
				)},
				// 1, -2, 0.5, 65504 (largest half), 2^-24 (smallest subnormal half)
				{name: "p/data/0", data: u16Bytes(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001)},
				// 1, -3, 3.140625, and a bf16 subnormal (float32 bits 0x00010000)
				{name: "p/data/1", data: u16Bytes(0x3f80, 0xc040, 0x4049, 0x0001)},
				{name: "p/data/2", data: f64Bytes(7, -2.5, 0.1)},
			},
			want: []tensor.Tensor{
				{Name: "h", Shape: []int{5}, DType: tensor.F16, Data: []float32{1, -2, 0.5, 65504, 0x1p-24}},
				{Name: "b", Shape: []int{2, 2}, DType: tensor.BF16, Data: []float32{1, -3, 3.140625, math.Float32frombits(0x00010000)}},
				{Name: "d", Shape: []int{2}, DType: tensor.F64, Data: []float32{-2.5, float32(0.1)}},
			},
		},
		{
			name: "deflate-compressed entries",
			entries: []entry{
				{name: "z/data.pkl", data: stateDict(
					f32("w", "0", 6, 0, []int64{2, 3}, []int64{3, 1}),
					f32("t", "0", 6, 1, []int64{2, 2}, []int64{1, 3}),
					view{"b", "BFloat16Storage", "1", 3, 1, []int64{2}, []int64{1}},
				), compress: true},
				{name: "z/data/0", data: six, compress: true},
				{name: "z/data/1", data: u16Bytes(0x3f80, 0x4000, 0x4040), compress: true},
			},
			want: []tensor.Tensor{
				{Name: "w", Shape: []int{2, 3}, DType: tensor.F32, Data: []float32{1, 2, 3, 4, 5, 6}},
				{Name: "t", Shape: []int{2, 2}, DType: tensor.F32, Data: []float32{2, 5, 3, 6}},
				{Name: "b", Shape: []int{2}, DType: tensor.BF16, Data: []float32{2, 3}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := zipOf(t, tt.entries...)
			check := func(how string, s *tensor.Set) {
				t.Helper()
				if len(s.Tensors) != len(tt.want) {
					t.Errorf("%s: %d tensors, want %d", how, len(s.Tensors), len(tt.want))
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
			s, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "hand.pth")
			if err != nil {
				t.Fatal(err)
			}
			check("ReadFrom", s)

			path := filepath.Join(t.TempDir(), "hand.pth")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err = Read(path)
			if err != nil {
				t.Fatal(err)
			}
			check("Read", s)
			s.Close()

			f, _ := os.Open(path)
			defer f.Close()
			if m, err := mmap.File(f, int64(len(data))); err == nil {
				defer m.Close()
				_, used, err := read(f, int64(len(data)), path, m, copyBudget(int64(len(data))))
				if err != nil {
					t.Fatal(err)
				}
				if used != tt.wantMapped {
					t.Errorf("mapping used = %v, want %v", used, tt.wantMapped)
				}
			}
		})
	}
}

// TestUntypedStorage covers the newer form: an UntypedStorage (numel in bytes) and
// _rebuild_tensor_v3 with a dtype global, reached through STACK_GLOBAL and FRAME.
func TestUntypedStorage(t *testing.T) {
	p := &pickler{}
	p.op(opProto, 4, opFrame, 0, 0, 0, 0, 0, 0, 0, 0)
	p.op(opEmptyDict, opMemoize, opMark)
	p.str("x")
	p.str("torch._utils").str("_rebuild_tensor_v3").op(opStackGlobal, opMemoize)
	p.op(opMark)
	p.op(opMark).str("storage").global("torch", "UntypedStorage").str("0").str("cpu").int(8).op(opTuple, opBinPersID)
	p.int(1).ints([]int64{2}).ints([]int64{1}).op(opNewFalse, opEmptyDict)
	p.global("torch", "bfloat16")
	p.op(opTuple, opReduce, opSetItems, opStop)
	data := zipOf(t, entry{name: "u/data.pkl", data: p.Bytes()}, entry{name: "u/data/0", data: u16Bytes(0, 0x3f80, 0x4000, 0)})
	s, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "untyped.pth")
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.Tensor{Name: "x", Shape: []int{2}, DType: tensor.BF16, Data: []float32{1, 2}}
	if got := s.Tensors["x"]; got == nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("x = %+v, want %+v", got, want)
	}
}

func TestUnpickleOpcodes(t *testing.T) {
	long1 := func(b ...byte) []byte { return append([]byte{opLong1, byte(len(b))}, b...) }
	tests := []struct {
		name   string
		pickle []byte
		want   any
	}{
		{"ints", cat([]byte{opProto, 2, opMark, opBinInt1, 7, opBinInt2, 0x34, 0x12, opBinInt, 0xfe, 0xff, 0xff, 0xff},
			long1(0x00, 0x00, 0x00, 0x00, 0x01), long1(0xff), long1(), []byte{opTuple, opStop}),
			pyTuple{int64(7), int64(0x1234), int64(-2), int64(1 << 32), int64(-1), int64(0)}},
		{"float, bools", []byte{opBinFloat, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, opNewTrue, opNewFalse, opTuple3, opTuple1, opStop},
			pyTuple{pyTuple{1.5, true, false}}},
		{"none", []byte{opNone, opStop}, nil},
		{"strings and bytes", cat([]byte{opMark, opShortBinString, 1, 'a', opBinString, 1, 0, 0, 0, 'b', opShortBinBytes, 1, 'c',
			opBinBytes, 1, 0, 0, 0, 'd', opBinUnicode, 2, 0, 0, 0}, []byte("é"), []byte{opTuple, opStop}),
			pyTuple{"a", "b", []byte("c"), []byte("d"), "é"}},
		{"list, appends, memo, dup, pop", []byte{opEmptyList, opBinPut, 0, opBinInt1, 1, opAppend, opMark, opBinInt1, 2, opBinInt1, 3, opAppends,
			opDup, opPop, opPop, opBinGet, 0, opStop},
			&pyList{items: []any{int64(1), int64(2), int64(3)}}},
		{"dict, long memo", []byte{opMark, opShortBinUni, 1, 'k', opBinInt1, 5, opDict, opLongBinPut, 0, 1, 0, 0, opPop, opLongBinGet, 0, 1, 0, 0,
			opShortBinUni, 1, 'k', opBinInt1, 6, opSetItem, opStop},
			&pyDict{keys: []any{"k"}, vals: []any{int64(6)}, index: map[string]int{"k": 0}}},
		{"pop mark, empty tuple", []byte{opMark, opBinInt1, 1, opPopMark, opEmptyTuple, opTuple2 - 1, opStop}, pyTuple{pyTuple{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := unpickle(tt.pickle)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReadErrors(t *testing.T) {
	six := f32Bytes(1, 2, 3, 4, 5, 6)
	good := func(v ...view) []byte {
		return zipOf(t, entry{name: "e/data.pkl", data: stateDict(v...)}, entry{name: "e/data/0", data: six})
	}
	w := func(numel, offset int64, shape, stride []int64) view {
		return view{"blocks.0.w", "FloatStorage", "0", numel, offset, shape, stride}
	}
	pickleZip := func(p []byte) []byte { return zipOf(t, entry{name: "e/data.pkl", data: p}) }
	golden, err := os.ReadFile(fixtures.Path(t, "golden/v7-bf16.pth"))
	if err != nil {
		t.Fatal(err)
	}
	validPickle := stateDict(w(6, 0, []int64{6}, []int64{1}))
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"not a zip", []byte("definitely not a zip archive"), []string{"not a readable zip"}},
		{"truncated zip", golden[:len(golden)/2], []string{"not a readable zip"}},
		{"no pickle", zipOf(t, entry{name: "e/data/0", data: six}), []string{"no data.pkl"}},
		{"big-endian", zipOf(t, entry{name: "e/byteorder", data: []byte("big")}, entry{name: "e/data.pkl", data: validPickle}), []string{"e/byteorder", "big", "little-endian"}},
		{"two pickles", zipOf(t, entry{name: "a/data.pkl", data: validPickle}, entry{name: "b/data.pkl", data: validPickle}), []string{"two pickles"}},
		{"unknown opcode", pickleZip([]byte{opProto, 2, 'i', 'o', 's', '\n'}), []string{"e/data.pkl", "opcode 0x69", "unsupported pickle opcode"}},
		{"unknown global", pickleZip(cat([]byte{opProto, 2, opGlobal}, []byte("os\nsystem\n"), []byte{opStop})), []string{"unsupported global os.system"}},
		{"protocol too new", pickleZip([]byte{opProto, 9, opStop}), []string{"protocol 9"}},
		{"truncated pickle", pickleZip(validPickle[:len(validPickle)/2]), []string{"truncated"}},
		{"no STOP", pickleZip(validPickle[:len(validPickle)-1]), []string{"before STOP"}},
		{"stack underflow", pickleZip([]byte{opProto, 2, opReduce}), []string{"stack underflow"}},
		{"memo miss", pickleZip([]byte{opBinGet, 3, opStop}), []string{"memo entry 3"}},
		{"top is not a dict", pickleZip([]byte{opProto, 2, opEmptyTuple, opStop}), []string{"a tuple, not a state dict"}},
		{"value is not a tensor", pickleZip([]byte{opEmptyDict, opShortBinUni, 1, 'a', opBinInt1, 1, opSetItem, opStop}), []string{"a is an int, not a tensor"}},
		{"pre-converted ChatRWKV file", pickleZip(cat([]byte{opEmptyDict, opShortBinUni, 9}, []byte("_strategy"), []byte{opShortBinUni, 3, 'c', 'p', 'u', opSetItem, opStop})),
			[]string{"_strategy is a str, not a tensor", "ChatRWKV pre-converted"}},
		{"corrupt pickle (CRC)", corruptPickle(t, validPickle), []string{"e/data.pkl", "checksum"}},
		{"key is not a string", pickleZip([]byte{opEmptyDict, opBinInt1, 1, opBinInt1, 1, opSetItem, opStop}), []string{"key 1 is not a string"}},
		{"missing storage", zipOf(t, entry{name: "e/data.pkl", data: validPickle}), []string{"tensor blocks.0.w", "storage entry e/data/0 is missing"}},
		{"offset out of range", good(w(6, 5, []int64{2}, []int64{1})), []string{"tensor blocks.0.w", "reaches element 6", "which has 6"}},
		{"stride out of range", good(w(6, 0, []int64{2, 3}, []int64{4, 1})), []string{"tensor blocks.0.w", "reaches element 6"}},
		{"size overflows", good(w(6, 0, []int64{1 << 40, 1 << 40}, []int64{1, 1})), []string{"tensor blocks.0.w", "overflows"}},
		{"broadcast view", good(w(6, 0, []int64{10}, []int64{0})), []string{"tensor blocks.0.w", "broadcast"}},
		{"storage larger than entry", good(w(100, 0, []int64{6}, []int64{1})), []string{"tensor blocks.0.w", "100 elements", "24"}},
		{"size and stride lengths differ", good(w(6, 0, []int64{6}, []int64{1, 1})), []string{"differ in length"}},
		{"bad persistent id", pickleZip(cat([]byte{opEmptyDict, opShortBinUni, 1, 'a', opMark, opShortBinUni, 1, 'x', opTuple, opBinPersID, opSetItem, opStop})),
			[]string{"persistent id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrom(bytes.NewReader(tt.data), int64(len(tt.data)), "bad.pth")
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range append(tt.want, "bad.pth") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "nope.pth"))
	if err == nil || !strings.Contains(err.Error(), "nope.pth") {
		t.Errorf("error %v does not name the file", err)
	}
}

func goldenPickles(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"v5", "v6", "v7", "v7-bf16"} {
		data, err := os.ReadFile(fixtures.Path(f, "golden/"+name+".pth"))
		if err != nil {
			f.Fatal(err)
		}
		r, err := newZipReader(data)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range r.File {
			if strings.HasSuffix(e.Name, "data.pkl") {
				rc, err := e.Open()
				if err != nil {
					f.Fatal(err)
				}
				var b bytes.Buffer
				b.ReadFrom(rc)
				rc.Close()
				out = append(out, b.Bytes())
			}
		}
	}
	return out
}

func FuzzPickle(f *testing.F) {
	for _, p := range goldenPickles(f) {
		f.Add(p)
	}
	f.Add(stateDict(view{"w", "HalfStorage", "0", 4, 1, []int64{2, 1}, []int64{1, 2}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := unpickle(data)
		if err == nil && top == nil {
			// None is a legal top object; nothing else to check.
			return
		}
	})
}

func FuzzRead(f *testing.F) {
	six := f32Bytes(1, 2, 3, 4, 5, 6)
	f.Add(zipOf(f, entry{name: "e/data.pkl", data: stateDict(
		view{"a", "FloatStorage", "0", 6, 0, []int64{3, 2}, []int64{1, 3}},
		view{"b", "FloatStorage", "0", 6, 2, []int64{2}, []int64{1}},
	)}, entry{name: "e/data/0", data: six}))
	f.Add(zipOf(f, entry{name: "e/data.pkl", data: stateDict(
		view{"h", "BFloat16Storage", "0", 6, 0, []int64{6}, []int64{1}},
	), compress: true}, entry{name: "e/data/0", data: six[:12], compress: true}))
	golden, err := os.ReadFile(fixtures.Path(f, "golden/v7-bf16.pth"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "fuzz.pth")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.pth") {
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

// TestUnpickleSharedTupleError: a pickle can build a tuple DAG (each level holding
// the previous one twice) whose printed form is 2^depth long; the error message
// must not try to print it.
func TestUnpickleSharedTupleError(t *testing.T) {
	p := []byte{opNone}
	for range 80 {
		p = append(p, opDup, opTuple2)
	}
	p = append(p, opBinPersID, opStop)
	_, err := unpickle(p)
	if err == nil || !strings.Contains(err.Error(), "persistent id") || len(err.Error()) > 500 {
		t.Errorf("error %v", err)
	}
}

// TestCopyBudget: views of one storage, each decoded separately, stop at the budget
// instead of multiplying the file's size without bound.
func TestCopyBudget(t *testing.T) {
	var views []view
	for i := range 5 {
		views = append(views, view{"w" + string(rune('a'+i)), "FloatStorage", "0", 6, 0, []int64{6}, []int64{1}})
	}
	data := zipOf(t, entry{name: "e/data.pkl", data: stateDict(views...)}, entry{name: "e/data/0", data: f32Bytes(1, 2, 3, 4, 5, 6)})
	if _, _, err := read(bytes.NewReader(data), int64(len(data)), "shared.pth", nil, 5*24); err != nil {
		t.Fatalf("5 views within a budget of 5: %v", err)
	}
	_, _, err := read(bytes.NewReader(data), int64(len(data)), "shared.pth", nil, 4*24)
	if err == nil || !strings.Contains(err.Error(), "tensor we") || !strings.Contains(err.Error(), "shared.pth") {
		t.Errorf("5 views within a budget of 4: error %v", err)
	}
}

// TestZip64Directory: an archive with 65535+ entries has a zip64 end-of-directory
// record, as multi-gigabyte checkpoints do.
func TestZip64Directory(t *testing.T) {
	entries := []entry{
		{name: "big/data.pkl", data: stateDict(view{"w", "FloatStorage", "0", 2, 0, []int64{2}, []int64{1}})},
		{name: "big/data/0", data: f32Bytes(3, 4)},
	}
	for i := range 65535 {
		entries = append(entries, entry{name: "big/.filler/" + strconv.Itoa(i)})
	}
	data := zipOf(t, entries...)
	if !bytes.Contains(data, []byte("PK\x06\x06")) {
		t.Fatal("the archive has no zip64 end-of-directory record")
	}
	s, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "big.pth")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Tensors["w"].Data; !reflect.DeepEqual(got, []float32{3, 4}) {
		t.Errorf("w = %v", got)
	}
}

// corruptPickle zips a pickle and then flips one of its bytes inside the archive.
func corruptPickle(t *testing.T, p []byte) []byte {
	data := zipOf(t, entry{name: "e/data.pkl", data: p})
	i := bytes.Index(data, p)
	if i < 0 {
		t.Fatal("pickle not found in the archive")
	}
	data[i+len(p)/2] ^= 0x40
	return data
}

func BenchmarkRead(b *testing.B) {
	for _, name := range []string{"v7.pth", "v7-bf16.pth"} {
		b.Run(name, func(b *testing.B) {
			path := fixtures.Path(b, "golden/"+name)
			for b.Loop() {
				s, err := Read(path)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
