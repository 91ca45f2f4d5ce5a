package rwkvcpp

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/x448/float16"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/model/pth"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

func tiny(t testing.TB, name string) string {
	t.Helper()
	return fixtures.Path(t, "rwkv_cpp_tiny/tiny-rwkv-"+name+".bin")
}

// Tensor counts follow from the official layouts (L = 12 except v4's 4; 6 keys outside
// the blocks: emb, head, ln_out ×2, ln0 ×2):
//
//	v4:   ln×4 + att 9 (decay, first, mix×3, r/k/v/o) + ffn 5          = 18/layer
//	v5.0: ln×4 + att 11 (mix×3, decay, first, r/k/v/o, ln_x×2) + ffn 5 = 20/layer
//	v5.2: ln×4 + att 13 (mix×4, decay, faaaa, r/k/v/o/gate, ln_x×2) + 5 = 22/layer
//	v6:   ln×4 + att 19 (maa×6, maa_w1/w2, decay(+w1,w2), faaaa, 5 linears, ln_x×2) + 5 = 28/layer
//	v7:   ln×4 + att 26 (x_×6, w/a/v 0,1,2, g1/g2, k_k, k_a, r_k, r/k/v/o, ln_x×2) + 3 = 33/layer,
//	      minus blocks.0.att.v0/v1/v2, which the tiny file lacks
func TestReadFixtures(t *testing.T) {
	tests := []struct {
		name    string
		version string
		eps     float32
		keys    int
		// storage type expected for a block matrix, the embedding and a vector
		matrix, emb tensor.DType
	}{
		{"4v0-660K-FP32", "4", 0, 4*18 + 6, tensor.F32, tensor.F32},
		{"5v1-730K-FP32", "5.1", 1e-5, 12*20 + 6, tensor.F32, tensor.F32},
		{"5v2-730K-FP32", "5.2", 1e-5, 12*22 + 6, tensor.F32, tensor.F32},
		{"5v2-730K-FP16", "5.2", 1e-5, 12*22 + 6, tensor.F16, tensor.F16},
		{"5v2-730K-Q5_0", "5.2", 1e-5, 12*22 + 6, tensor.Q5_0, tensor.F32},
		{"5v2-730K-Q5_1", "5.2", 1e-5, 12*22 + 6, tensor.Q5_1, tensor.F32},
		{"6v0-1m-FP32", "6", 0, 12*28 + 6, tensor.F32, tensor.F32},
		{"6v0-1m-FP16", "6", 0, 12*28 + 6, tensor.F16, tensor.F16},
		{"6v0-1m-Q5_0", "6", 0, 12*28 + 6, tensor.Q5_0, tensor.F32},
		{"6v0-1m-Q5_1", "6", 0, 12*28 + 6, tensor.Q5_1, tensor.F32},
		{"7v0-834K-FP32", "7", 0, 12*33 - 3 + 6, tensor.F32, tensor.F32},
		{"7v0-834K-FP16", "7", 0, 12*33 - 3 + 6, tensor.F16, tensor.F16},
		{"7v0-834K-Q5_0", "7", 0, 12*33 - 3 + 6, tensor.Q5_0, tensor.F32},
		{"7v0-834K-Q5_1", "7", 0, 12*33 - 3 + 6, tensor.Q5_1, tensor.F32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Read(tiny(t, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if s.VersionHint != tt.version || s.GroupNormEps != tt.eps || s.Format != "rwkv.cpp" {
				t.Errorf("version %q eps %g format %q, want %q %g rwkv.cpp", s.VersionHint, s.GroupNormEps, s.Format, tt.version, tt.eps)
			}
			if len(s.Tensors) != tt.keys {
				t.Errorf("%d tensors, want %d", len(s.Tensors), tt.keys)
			}
			for name, want := range map[string]tensor.DType{
				"blocks.3.att.key.weight": tt.matrix,
				"blocks.3.ffn.key.weight": tt.matrix,
				"emb.weight":              tt.emb,
				"head.weight":             tt.emb,
				"blocks.3.ln1.weight":     tensor.F32,
			} {
				if got := s.Tensors[name]; got == nil || got.DType != want {
					t.Errorf("%s: %v, want dtype %s", name, got, want)
				}
			}
			for _, name := range s.Names() {
				if err := s.Tensors[name].CheckFinite(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestLayoutMatchesPth compares each tiny model's keys and shapes with the golden .pth
// of the same version: the same keys (blocks 0–2 and the top level), and the same
// shapes once sizes are mapped (C, V and F of one model to those of the other; other
// sizes such as LoRA ranks are free).
func TestLayoutMatchesPth(t *testing.T) {
	for _, tt := range []struct {
		bin, pth string
		only     []string // keys only the .pth has
	}{
		{"5v2-730K-FP32", "v5.pth", nil},
		{"6v0-1m-FP32", "v6.pth", nil},
		{"7v0-834K-FP32", "v7.pth", []string{"blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2"}},
	} {
		t.Run(tt.bin, func(t *testing.T) {
			bin, err := Read(tiny(t, tt.bin))
			if err != nil {
				t.Fatal(err)
			}
			ref, err := pth.Read(fixtures.Path(t, "golden/"+tt.pth))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			sizes := func(s *tensor.Set) (c, v, f int) {
				emb, ffn := s.Tensors["emb.weight"], s.Tensors["blocks.0.ffn.key.weight"]
				return emb.Shape[1], emb.Shape[0], ffn.Shape[0]
			}
			rc, rv, rf := sizes(ref)
			bc, bv, bf := sizes(bin)
			later := regexp.MustCompile(`^blocks\.([3-9]|1[0-9])\.`)
			var binKeys []string
			for _, k := range bin.Names() {
				if !later.MatchString(k) {
					binKeys = append(binKeys, k)
				}
			}
			var refKeys []string
			for _, k := range ref.Names() {
				if !contains(tt.only, k) {
					refKeys = append(refKeys, k)
				}
			}
			if !reflect.DeepEqual(binKeys, refKeys) {
				t.Fatalf("keys differ:\n bin %v\n pth %v", binKeys, refKeys)
			}
			for _, k := range refKeys {
				r, b := ref.Tensors[k].Shape, bin.Tensors[k].Shape
				if len(r) != len(b) {
					t.Errorf("%s: shape %v, pth has %v", k, b, r)
					continue
				}
				for i := range r {
					var want int
					switch r[i] {
					case rc:
						want = bc
					case rv:
						want = bv
					case rf:
						want = bf
					default:
						continue
					}
					if b[i] != want {
						t.Errorf("%s: shape %v, pth has %v (C %d→%d, V %d→%d, F %d→%d)", k, b, r, rc, bc, rv, bv, rf, bf)
						break
					}
				}
				// (H,N) tensors: H·N = C.
				if strings.HasSuffix(k, ".r_k") || strings.HasSuffix(k, ".time_faaaa") || (strings.HasSuffix(k, ".time_decay") && len(r) == 2) {
					if len(b) != 2 || b[0]*b[1] != bc {
						t.Errorf("%s: shape %v is not (H,N) with H·N = %d", k, b, bc)
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFP16WithinRounding: the FP16 files are the FP32 files rounded; every value must
// be within half an fp16 ulp of the FP32 one, and tensors rwkv.cpp keeps in FP32 equal.
func TestFP16WithinRounding(t *testing.T) {
	for _, model := range []string{"5v2-730K", "6v0-1m", "7v0-834K"} {
		t.Run(model, func(t *testing.T) {
			a, err := Read(tiny(t, model+"-FP32"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := Read(tiny(t, model+"-FP16"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Names(), h.Names()) {
				t.Fatal("key sets differ")
			}
			halves := 0
			for _, name := range a.Names() {
				x, y := a.Tensors[name], h.Tensors[name]
				if !reflect.DeepEqual(x.Shape, y.Shape) {
					t.Errorf("%s: shapes %v and %v", name, x.Shape, y.Shape)
					continue
				}
				if y.DType == tensor.F16 {
					halves++
				}
				for i, want := range x.Data {
					got := y.Data[i]
					bound := float32(0)
					if y.DType == tensor.F16 {
						bound = float32(math.Abs(float64(want)))*0x1p-11 + 0x1p-25
					}
					if d := float32(math.Abs(float64(got - want))); d > bound {
						t.Errorf("%s[%d] = %g, FP32 file has %g (diff %g > %g)", name, i, got, want, d, bound)
						break
					}
				}
			}
			if halves == 0 {
				t.Error("no FP16 tensors in the FP16 file")
			}
		})
	}
}

// TestUndoTransforms checks each inverse transform against the file's raw tensors.
func TestUndoTransforms(t *testing.T) {
	load := func(t *testing.T, name string) (raw, s *tensor.Set) {
		path := tiny(t, name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err = readRaw(bytes.NewReader(data), int64(len(data)), path)
		if err != nil {
			t.Fatal(err)
		}
		s, err = Read(path)
		if err != nil {
			t.Fatal(err)
		}
		return raw, s
	}
	near := func(t *testing.T, what string, got, want, rel float64) {
		t.Helper()
		if math.Abs(got-want) > rel*math.Abs(want)+1e-30 {
			t.Errorf("%s: %g, want %g", what, got, want)
		}
	}
	t.Run("v7 lerp split and LoRA transposes", func(t *testing.T) {
		raw, s := load(t, "7v0-834K-FP32")
		c := 64
		for b := range 12 {
			p := "blocks." + strconv.Itoa(b) + ".att."
			packed := raw.Tensors[p+"x_rwkvag"].Data
			for i, n := range []string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"} {
				x := s.Tensors[p+n]
				if !reflect.DeepEqual(x.Shape, []int{1, 1, c}) || !reflect.DeepEqual(x.Data, packed[i*c:(i+1)*c]) {
					t.Fatalf("%s%s is not row %d of x_rwkvag", p, n, i)
				}
			}
			if s.Has(p + "x_rwkvag") {
				t.Fatalf("%sx_rwkvag left in the set", p)
			}
			for _, n := range []string{"w1", "w2", "a1", "a2", "g1", "g2"} {
				checkTransposed(t, p+n, raw.Tensors[p+n], s.Tensors[p+n])
			}
		}
	})
	t.Run("v6 LoRA transposes and vector shapes", func(t *testing.T) {
		raw, s := load(t, "6v0-1m-FP32")
		p := "blocks.5.att."
		for _, n := range []string{"time_maa_w1", "time_decay_w1", "time_decay_w2"} {
			checkTransposed(t, p+n, raw.Tensors[p+n], s.Tensors[p+n])
		}
		r, o := raw.Tensors[p+"time_maa_w2"], s.Tensors[p+"time_maa_w2"]
		if got, want := o.Shape, []int{r.Shape[0], r.Shape[2], r.Shape[1]}; !reflect.DeepEqual(got, want) {
			t.Fatalf("time_maa_w2 shape %v, want %v", got, want)
		}
		for b := range o.Shape[0] {
			for d := range o.Shape[1] {
				for c := range o.Shape[2] {
					if o.Data[(b*o.Shape[1]+d)*o.Shape[2]+c] != r.Data[(b*r.Shape[1]+c)*r.Shape[2]+d] {
						t.Fatalf("time_maa_w2[%d][%d][%d] differs", b, d, c)
					}
				}
			}
		}
		if d := s.Tensors[p+"time_decay"]; !reflect.DeepEqual(d.Shape, []int{1, 1, 64}) || !reflect.DeepEqual(d.Data, raw.Tensors[p+"time_decay"].Data) {
			t.Errorf("time_decay: shape %v, or values changed", d.Shape)
		}
		if d := s.Tensors["blocks.5.ffn.time_maa_k"]; !reflect.DeepEqual(d.Shape, []int{1, 1, 64}) {
			t.Errorf("ffn.time_maa_k shape %v", d.Shape)
		}
	})
	t.Run("v5.2 decay", func(t *testing.T) {
		raw, s := load(t, "5v2-730K-FP32")
		w, d := s.Tensors["blocks.7.att.time_decay"], raw.Tensors["blocks.7.att.time_decay"]
		if !reflect.DeepEqual(w.Shape, []int{8, 8}) {
			t.Fatalf("time_decay shape %v", w.Shape)
		}
		for i := range w.Data {
			near(t, "exp(-exp(w))", math.Exp(-math.Exp(float64(w.Data[i]))), float64(d.Data[i]), 1e-6)
		}
		if u := s.Tensors["blocks.7.att.time_faaaa"]; !reflect.DeepEqual(u.Shape, []int{8, 8}) || !reflect.DeepEqual(u.Data, raw.Tensors["blocks.7.att.time_faaaa"].Data) {
			t.Errorf("time_faaaa shape %v, or values changed", u.Shape)
		}
		if m := s.Tensors["blocks.7.att.time_mix_g"]; !reflect.DeepEqual(m.Shape, []int{1, 1, 64}) {
			t.Errorf("time_mix_g shape %v", m.Shape)
		}
	})
	t.Run("v5.0 decay and first", func(t *testing.T) {
		raw, s := load(t, "5v1-730K-FP32")
		w, d := s.Tensors["blocks.2.att.time_decay"], raw.Tensors["blocks.2.att.time_decay"]
		u, e := s.Tensors["blocks.2.att.time_first"], raw.Tensors["blocks.2.att.time_first"]
		if !reflect.DeepEqual(w.Shape, []int{8}) || !reflect.DeepEqual(u.Shape, []int{8}) {
			t.Fatalf("shapes %v %v, want [8]", w.Shape, u.Shape)
		}
		for i := range w.Data {
			near(t, "exp(-exp(w))", math.Exp(-math.Exp(float64(w.Data[i]))), float64(d.Data[i]), 1e-6)
			near(t, "exp(u)", math.Exp(float64(u.Data[i])), float64(e.Data[i]), 1e-6)
		}
	})
	t.Run("v4 decay", func(t *testing.T) {
		raw, s := load(t, "4v0-660K-FP32")
		w, td := s.Tensors["blocks.1.att.time_decay"], raw.Tensors["blocks.1.att.time_decay"]
		if !reflect.DeepEqual(w.Shape, []int{128}) {
			t.Fatalf("shape %v", w.Shape)
		}
		for i := range w.Data {
			near(t, "-exp(w)", -math.Exp(float64(w.Data[i])), float64(td.Data[i]), 1e-6)
		}
		if m := s.Tensors["blocks.1.ffn.time_mix_r"]; !reflect.DeepEqual(m.Shape, []int{1, 1, 128}) {
			t.Errorf("time_mix_r shape %v", m.Shape)
		}
	})
}

func checkTransposed(t *testing.T, name string, raw, got *tensor.Tensor) {
	t.Helper()
	r, c := raw.Shape[0], raw.Shape[1]
	if !reflect.DeepEqual(got.Shape, []int{c, r}) {
		t.Fatalf("%s: shape %v, want [%d %d]", name, got.Shape, c, r)
	}
	for i := range r {
		for j := range c {
			if got.Data[j*r+i] != raw.Data[i*c+j] {
				t.Fatalf("%s[%d][%d] is not the file's [%d][%d]", name, j, i, i, j)
			}
		}
	}
}

// TestDecayRoundTrip: recomputing exp(-exp(w)) in float32 from the recovered w gives
// the stored decay back to 2^-23 absolute (w itself is a float32, and its rounding
// error is amplified by exp(w) for tiny decays, so relative agreement is not exact
// there), and the ends of [0,1] come back exactly.
func TestDecayRoundTrip(t *testing.T) {
	decays := []float32{0, 1, math.Nextafter32(1, 0), math.SmallestNonzeroFloat32}
	for w := -25.0; w < 6; w += 0.37 {
		decays = append(decays, float32(math.Exp(-math.Exp(w))))
	}
	for _, d := range decays {
		w, err := decayToLogLog(d)
		if err != nil {
			t.Fatalf("%g: %v", d, err)
		}
		back := float32(math.Exp(-math.Exp(float64(w))))
		if math.Abs(float64(back-d)) > 0x1p-23 || (d == 0 || d == 1) && back != d {
			t.Errorf("decay %g → w %g → %g", d, w, back)
		}
	}
	for _, bad := range []float32{-0.1, 1.5, float32(math.NaN())} {
		if _, err := decayToLogLog(bad); err == nil {
			t.Errorf("decay %g accepted", bad)
		}
	}
}

// half returns the little-endian IEEE half encoding of v (exact for the values used).
func half(v float32) []byte {
	return binary.LittleEndian.AppendUint16(nil, float16.Fromfloat32(v).Bits())
}

// q5Block packs 32 five-bit values the way ggml does: low nibbles in qs (value j in
// the low half of byte j, value j+16 in the high half), fifth bits in qh.
func q5Block(q [32]int) []byte {
	var qh uint32
	qs := make([]byte, 16)
	for j := range 16 {
		qs[j] = byte(q[j]&15) | byte(q[j+16]&15)<<4
		qh |= uint32(q[j]>>4&1) << j
		qh |= uint32(q[j+16]>>4&1) << (j + 16)
	}
	return append(binary.LittleEndian.AppendUint32(nil, qh), qs...)
}

func TestDequantizeBlocks(t *testing.T) {
	var ramp, desc, nib [32]int
	for j := range 32 {
		ramp[j], desc[j], nib[j] = j, 31-j, (j*7)%16
	}
	var q4 []byte
	for j := range 16 {
		q4 = append(q4, byte(nib[j])|byte(nib[j+16])<<4)
	}
	q8 := make([]byte, 32)
	for j := range 32 {
		q8[j] = byte(int8(j*8 - 128))
	}
	tests := []struct {
		name string
		typ  int32
		raw  []byte
		want func(j int) float32
	}{
		{"Q5_0", typeQ5_0, append(half(0.5), q5Block(ramp)...), func(j int) float32 { return float32(j-16) * 0.5 }},
		{"Q5_1", typeQ5_1, cat(half(0.25), half(-1), q5Block(desc)), func(j int) float32 { return float32(31-j)*0.25 - 1 }},
		{"Q4_0", typeQ4_0, append(half(2), q4...), func(j int) float32 { return float32(nib[j]-8) * 2 }},
		{"Q4_1", typeQ4_1, cat(half(0.5), half(1), q4), func(j int) float32 { return float32(nib[j])*0.5 + 1 }},
		{"Q8_0", typeQ8_0, append(half(0.125), q8...), func(j int) float32 { return float32(j*8-128) * 0.125 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, blockBytes, err := typeInfo(tt.typ)
			if err != nil || int64(len(tt.raw)) != blockBytes {
				t.Fatalf("block of %d bytes, type says %d (%v)", len(tt.raw), blockBytes, err)
			}
			// Two blocks: the second checks the block stride.
			got := make([]float32, 64)
			dequantize(tt.typ, append(append([]byte(nil), tt.raw...), tt.raw...), got)
			for j := range 64 {
				if want := tt.want(j % 32); got[j] != want {
					t.Fatalf("value %d = %g, want %g", j, got[j], want)
				}
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// record is one tensor of a hand-made .bin file; dims in ggml order.
type record struct {
	name string
	typ  int32
	dims []int32
	data []byte
}

func binFile(version, vocab, embd, layers, dtype uint32, recs ...record) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, Magic)
	for _, v := range []uint32{version, vocab, embd, layers, dtype} {
		b = le.AppendUint32(b, v)
	}
	for _, r := range recs {
		b = le.AppendUint32(b, uint32(len(r.dims)))
		b = le.AppendUint32(b, uint32(len(r.name)))
		b = le.AppendUint32(b, uint32(r.typ))
		for _, d := range r.dims {
			b = le.AppendUint32(b, uint32(d))
		}
		b = append(b, r.name...)
		b = append(b, r.data...)
	}
	return b
}

func f32s(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func zeros(n int) []byte { return make([]byte, n) }

func TestReadHandMade(t *testing.T) {
	// A quantized embedding (1 row of 32) and a v5.2 block to exercise the decay path.
	emb := record{"emb.weight", typeQ5_0, []int32{32, 1}, append(half(0.5), q5Block([32]int{0: 31, 31: 1})...)}
	data := binFile(101, 1, 32, 1, typeQ5_0,
		emb,
		record{"blocks.0.att.gate.weight", typeF32, []int32{1, 1}, f32s(0)},
		record{"blocks.0.att.time_decay", typeF32, []int32{1, 2, 16}, f32s(repeat(0.5, 32)...)},
	)
	path := filepath.Join(t.TempDir(), "hand.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Tensors["emb.weight"]
	if !reflect.DeepEqual(e.Shape, []int{1, 32}) || e.DType != tensor.Q5_0 || e.Data[0] != 7.5 || e.Data[31] != -7.5 || e.Data[1] != -8 {
		t.Errorf("emb.weight %+v", e)
	}
	d := s.Tensors["blocks.0.att.time_decay"]
	want := float32(math.Log(-math.Log(0.5)))
	if !reflect.DeepEqual(d.Shape, []int{16, 2}) || d.Data[0] != want {
		t.Errorf("time_decay %v %v, want shape [16 2] and %g", d.Shape, d.Data[:1], want)
	}
	if s.VersionHint != "5.2" {
		t.Errorf("version %q", s.VersionHint)
	}
}

func repeat(v float32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestReadErrors(t *testing.T) {
	emb := record{"emb.weight", typeF32, []int32{2, 1}, f32s(1, 2)}
	good := func(recs ...record) []byte { return binFile(101, 1, 2, 1, 0, append([]record{emb}, recs...)...) }
	hdr := func(version, dtype uint32) []byte { return binFile(version, 1, 2, 1, dtype, emb) }
	badMagic := good()
	badMagic[0] = 'x'
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"header", "truncated"}},
		{"bad magic", badMagic, []string{"magic"}},
		{"version 99", hdr(99, 0), []string{"file version 99"}},
		{"legacy header type", hdr(101, 5), []string{"data_type", "legacy"}},
		{"unknown header type", hdr(101, 42), []string{"unknown data type 42"}},
		{"legacy tensor type", good(record{"blocks.0.x", 4, []int32{32}, zeros(20)}), []string{"tensor 1", "legacy"}},
		{"n_dims 0", good(record{"x", 0, nil, nil}), []string{"tensor 1", "n_dims 0"}},
		{"n_dims 4", good(record{"x", 0, []int32{1, 1, 1, 1}, f32s(1)}), []string{"n_dims 4"}},
		{"empty key", good(record{"", 0, []int32{1}, f32s(1)}), []string{"key length 0"}},
		{"negative dim", good(record{"x", 0, []int32{-1}, nil}), []string{"dimension 0 is -1"}},
		{"dims beyond the file", good(record{"x", 0, []int32{1 << 30, 1 << 30, 1 << 30}, nil}), []string{"more data than the file holds"}},
		{"truncated data", good(record{"blocks.0.ln1.weight", 0, []int32{4}, f32s(1, 2)}), []string{"blocks.0.ln1.weight", "truncated"}},
		{"truncated key", good(record{"blocks.0.ln1.weight", 0, []int32{4}, nil})[:24+38+12+4+5], []string{"key"}},
		{"quantized in version 100", binFile(100, 1, 32, 1, 0, record{"emb.weight", typeQ5_0, []int32{32, 1}, zeros(22)}), []string{"version 100"}},
		{"row not a block multiple", good(record{"blocks.0.att.key.weight", typeQ8_0, []int32{16, 2}, zeros(34)}), []string{"blocks.0.att.key.weight", "not a multiple of the 32-value"}},
		{"duplicate key", good(emb), []string{"emb.weight appears twice"}},
		{"no embedding", binFile(101, 1, 2, 1, 0), []string{"no emb.weight tensor"}},
		{"header disagrees with blocks", binFile(101, 1, 2, 3, 0, emb, record{"blocks.0.ln1.weight", 0, []int32{2}, f32s(1, 1)}), []string{"1 blocks", "n_layer 3"}},
		{"header disagrees with emb", binFile(101, 3, 2, 1, 0, emb), []string{"n_vocab 3"}},
		{"decay outside [0,1]", good(record{"blocks.0.att.gate.weight", 0, []int32{1}, f32s(0)},
			record{"blocks.0.att.time_decay", 0, []int32{1, 1, 2}, f32s(0.5, 1.5)}), []string{"blocks.0.att.time_decay", "element 1", "not in [0,1]"}},
		{"x_rwkvag wrong shape", good(record{"blocks.0.att.k_k", 0, []int32{2}, f32s(0, 0)},
			record{"blocks.0.att.x_rwkvag", 0, []int32{2, 5}, f32s(repeat(0, 10)...)}), []string{"blocks.0.att.x_rwkvag", "want (6,1,2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrom(bytes.NewReader(tt.data), int64(len(tt.data)), "bad.bin")
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range append(tt.want, "bad.bin") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	emb := record{"emb.weight", typeQ5_1, []int32{32, 1}, cat(half(0.5), half(1), q5Block([32]int{3: 7}))}
	f.Add(binFile(101, 1, 32, 1, typeQ5_1, emb,
		record{"blocks.0.att.k_k", 0, []int32{32, 1, 1}, f32s(repeat(1, 32)...)},
		record{"blocks.0.att.x_rwkvag", 0, []int32{32, 1, 6}, f32s(repeat(0.5, 192)...)},
		record{"blocks.0.att.w1", 1, []int32{2, 32}, zeros(128)},
	))
	f.Add(binFile(101, 1, 2, 1, 0, record{"emb.weight", 0, []int32{2, 1}, f32s(1, 2)},
		record{"blocks.0.att.time_maa_x", 0, []int32{2}, f32s(1, 2)},
		record{"blocks.0.att.time_maa_w2", 0, []int32{1, 2, 5}, f32s(repeat(0.25, 10)...)},
	))
	seed, err := os.ReadFile(tiny(f, "5v2-730K-Q5_0"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "fuzz.bin")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.bin") {
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

func BenchmarkReadQ5(b *testing.B) {
	path := tiny(b, "7v0-834K-Q5_1")
	for b.Loop() {
		if _, err := Read(path); err != nil {
			b.Fatal(err)
		}
	}
}
