package kernel

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolMulMany: products run together in one job give exactly what each gives
// alone, including more products than one job holds and products of every storage.
func TestPoolMulMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := NewPool(2)
	defer p.Close()
	var products []Product
	var want [][]float32
	for i := range 11 {
		rows, cols, n := 100+37*i, 64+8*(i%5), 1+(i%3)*20
		m, _ := NewMatrix(rows, cols, randomSlice(rng, rows*cols))
		storage := []Storage{F32, F16, Int8}[i%3]
		m, err := m.Convert(storage)
		if err != nil {
			t.Fatal(err)
		}
		x := randomSlice(rng, n*cols)
		w := make([]float32, n*rows)
		m.MulMat(nil, w, x, n)
		want = append(want, w)
		products = append(products, Product{M: m, Dst: make([]float32, n*rows), X: x, N: n})
	}
	p.Mul(products...)
	for i, pr := range products {
		for o := range want[i] {
			if pr.Dst[o] != want[i][o] {
				t.Fatalf("product %d (%s) value %d: %v together, %v alone", i, pr.M.Storage(), o, pr.Dst[o], want[i][o])
			}
		}
	}
}

// TestPoolOneProcessor: with a single Go processor the spinning worker must yield,
// or the caller would never finish its share.
func TestPoolOneProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := NewPool(4)
	defer p.Close()
	var total atomic.Int64
	for range 200 {
		p.Run(1000, 4, func(lo, hi int) { total.Add(int64(hi - lo)) })
	}
	if got := total.Load(); got != 200*1000 {
		t.Fatalf("visited %d indices, want %d", got, 200*1000)
	}
}

// TestPoolParkAndWake: after the workers have parked (idle longer than spinTime), a
// job still completes, and Close stops them.
func TestPoolParkAndWake(t *testing.T) {
	before := runtime.NumGoroutine()
	p := NewPool(3)
	for round := range 3 {
		time.Sleep(3 * spinTime)
		var count atomic.Int64
		p.Run(300, 3, func(lo, hi int) { count.Add(int64(hi - lo)) })
		if count.Load() != 300 {
			t.Fatalf("round %d: %d of 300 indices", round, count.Load())
		}
	}
	p.Close()
	p.Close() // a second Close is harmless
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before NewPool", n, before)
	}
}

// TestPoolCloseAtOnce: a pool closed before its workers have even started must still
// stop them (they once took the closing epoch for the current one and spun on).
func TestPoolCloseAtOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 50 {
		NewPool(3).Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines 5 s after closing 50 pools, %d before", n, before)
	}
}
