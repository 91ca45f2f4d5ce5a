package kernel

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// TestMulMat compares against a float64 reference on sizes that exercise every tail:
// columns not a multiple of 8, row counts not a multiple of 4, one and many threads.
func TestMulMat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ rows, cols, n, threads int }{
		{1, 1, 1, 1},
		{3, 7, 1, 1},
		{17, 9, 5, 2},
		{64, 64, 4, 2},
		{300, 128, 1, 2},
		{257, 203, 13, 3},
		{33, 40, 37, 2}, // more than one token block
	} {
		m, err := NewMatrix(tc.rows, tc.cols, randomSlice(rng, tc.rows*tc.cols))
		if err != nil {
			t.Fatal(err)
		}
		x := randomSlice(rng, tc.n*tc.cols)
		p := NewPool(tc.threads)
		got := make([]float32, tc.n*tc.rows)
		m.MulMat(p, got, x, tc.n)
		p.Close()
		for r := range tc.n {
			for o := range tc.rows {
				var want float64
				for i := range tc.cols {
					want += float64(m.Data[o*tc.cols+i]) * float64(x[r*tc.cols+i])
				}
				// float32 accumulation: a few ulps of the sum of magnitudes.
				if d := math.Abs(float64(got[r*tc.rows+o]) - want); d > 1e-6*float64(tc.cols) {
					t.Fatalf("%+v: row %d out %d: got %v, want %v", tc, r, o, got[r*tc.rows+o], want)
				}
			}
		}
		// Batched rows give exactly what one row at a time gives: the engine relies
		// on it for sequence mode matching token mode.
		for r := range tc.n {
			one := make([]float32, tc.rows)
			m.MulVec(nil, one, x[r*tc.cols:(r+1)*tc.cols])
			for o := range one {
				if one[o] != got[r*tc.rows+o] {
					t.Fatalf("%+v: MulVec row %d out %d = %v, MulMat = %v", tc, r, o, one[o], got[r*tc.rows+o])
				}
			}
		}
	}
}

func TestTransposed(t *testing.T) {
	m, err := Transposed(2, 3, []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 4, 2, 5, 3, 6}
	if m.Rows != 3 || m.Cols != 2 {
		t.Fatalf("shape %dx%d, want 3x2", m.Rows, m.Cols)
	}
	for i := range want {
		if m.Data[i] != want[i] {
			t.Fatalf("data %v, want %v", m.Data, want)
		}
	}
	if _, err := Transposed(2, 3, make([]float32, 5)); err == nil {
		t.Error("Transposed accepted 5 values for 2x3")
	}
	if _, err := NewMatrix(0, 3, nil); err == nil {
		t.Error("NewMatrix accepted 0 rows")
	}
}

// TestPoolCoversRange checks that Run visits every index exactly once for awkward
// splits, including more parts than indices.
func TestPoolCoversRange(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	for _, tc := range []struct{ n, parts int }{{1, 3}, {2, 3}, {5, 4}, {7, 3}, {100, 3}, {10, 0}} {
		counts := make([]atomic.Int32, tc.n)
		p.Run(tc.n, tc.parts, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				counts[i].Add(1)
			}
		})
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Errorf("n=%d parts=%d: index %d visited %d times", tc.n, tc.parts, i, c)
			}
		}
	}
}

func BenchmarkMulVec(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(map[int]string{1: "1thread", 2: "2threads"}[threads], func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			const rows, cols = 2048, 2048
			m, _ := NewMatrix(rows, cols, randomSlice(rng, rows*cols))
			x, dst := randomSlice(rng, cols), make([]float32, rows)
			p := NewPool(threads)
			defer p.Close()
			b.SetBytes(rows * cols * 4)
			for b.Loop() {
				m.MulVec(p, dst, x)
			}
		})
	}
}

func BenchmarkMulMat16(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, cols, n = 1024, 1024, 16
	m, _ := NewMatrix(rows, cols, randomSlice(rng, rows*cols))
	x, dst := randomSlice(rng, n*cols), make([]float32, n*rows)
	p := NewPool(2)
	defer p.Close()
	for b.Loop() {
		m.MulMat(p, dst, x, n)
	}
	b.ReportMetric(float64(2*rows*cols*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
