package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestStorage checks f16 and int8 products against the float32 matrix they were
// converted from, within the rounding each storage documents, over pools of one to
// three threads, and that every thread count gives the same bits.
func TestStorage(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const rows, cols, n = 70, 203, 5
	m, err := NewMatrix(rows, cols, randomSlice(rng, rows*cols))
	if err != nil {
		t.Fatal(err)
	}
	x := randomSlice(rng, n*cols)
	want := make([]float32, n*rows)
	m.MulMat(nil, want, x, n)
	for _, tc := range []struct {
		storage Storage
		bytes   int64
		// per-weight error bound relative to the row's largest |w|: half an ulp of
		// a half (2^-11 relative, ≤ 2^-11 of the peak) or half an int8 step.
		rel float64
	}{
		{F16, 2 * rows * cols, 1.0 / 2048},
		{Int8, rows*cols + 4*rows, 0.5 / 127},
	} {
		t.Run(string(tc.storage), func(t *testing.T) {
			c, err := m.Convert(tc.storage)
			if err != nil {
				t.Fatal(err)
			}
			if c.Storage() != tc.storage || c.Data != nil || c.Bytes() != tc.bytes {
				t.Fatalf("converted: storage %s, Data %d values, %d bytes; want %s, none, %d", c.Storage(), len(c.Data), c.Bytes(), tc.storage, tc.bytes)
			}
			var ref []float32
			for _, threads := range []int{1, 2, 3} {
				p := NewPool(threads)
				got := make([]float32, n*rows)
				c.MulMat(p, got, x, n)
				p.Close()
				if ref == nil {
					ref = got
				}
				for tok := range n {
					for o := range rows {
						i := tok*rows + o
						if got[i] != ref[i] {
							t.Fatalf("threads=%d token %d row %d: %v, 1 thread %v", threads, tok, o, got[i], ref[i])
						}
						var peak, xs float64
						for j := range cols {
							peak = max(peak, math.Abs(float64(m.Data[o*cols+j])))
							xs += math.Abs(float64(x[tok*cols+j]))
						}
						if d := math.Abs(float64(got[i] - want[i])); d > tc.rel*peak*xs+1e-5 {
							t.Fatalf("token %d row %d: %s %v, f32 %v, |Δ| %.3g beyond %.3g", tok, o, tc.storage, got[i], want[i], d, tc.rel*peak*xs)
						}
					}
				}
			}
			if _, err := c.Convert(F16); err == nil {
				t.Error("converting a converted matrix again succeeded")
			}
		})
	}
}

func TestParseStorage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Storage
		err  bool
	}{{"", F32, false}, {"f32", F32, false}, {"f16", F16, false}, {"int8", Int8, false}, {"q4_0", "", true}, {"F16", "", true}} {
		got, err := ParseStorage(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseStorage(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("error %v does not name %q", err, tc.in)
		}
	}
}

// TestPoolConcurrentCallers: goroutines sharing a Pool take turns; every product
// still gets its own rows.
func TestPoolConcurrentCallers(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const rows, cols = 256, 512
	m, _ := NewMatrix(rows, cols, randomSlice(rng, rows*cols))
	p := NewPool(2)
	defer p.Close()
	xs := [4][]float32{}
	want := [4][]float32{}
	for i := range xs {
		xs[i] = randomSlice(rng, cols)
		want[i] = make([]float32, rows)
		m.MulVec(nil, want[i], xs[i])
	}
	done := make(chan error)
	for i := range xs {
		go func() {
			got := make([]float32, rows)
			for range 20 {
				m.MulVec(p, got, xs[i])
				for o := range got {
					if got[o] != want[i][o] {
						done <- fmt.Errorf("caller %d row %d: %v, want %v", i, o, got[o], want[i][o])
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range xs {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
