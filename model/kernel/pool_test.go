package kernel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
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

// goid returns the calling goroutine's id, which only the tests need: to tell the
// caller of a job from the workers.
func goid() uint64 {
	var buf [64]byte
	s := strings.TrimPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	id, err := strconv.ParseUint(s[:strings.IndexByte(s, ' ')], 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// waitFor reports whether cond holds within d, yielding while it does not.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// TestPoolLateFinisher: a worker that counted the last chunk of one job done and was
// then held up (preempted) before it looked at waiting must not wake the caller of a
// later job, blocked in it, while a chunk of that job is still running. It once did:
// waiting said only "someone is blocked", not for which job, so the late worker took
// the hand-off meant for the one that finishes the later job.
func TestPoolLateFinisher(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	caller := goid()
	var hold atomic.Bool  // the next worker to finish a job stops in lastChunk
	var jobs atomic.Int64 // calls of lastChunk
	held, release := make(chan struct{}), make(chan struct{})
	p.lastChunk = func() {
		jobs.Add(1)
		// Only while the caller is not yet blocked: it will then see every chunk done.
		if goid() != caller && p.waiting.Load() == 0 && hold.CompareAndSwap(true, false) {
			close(held)
			<-release
		}
	}
	claimed := func() bool { return nextOf(p.word.Load()) == 2 }

	// Job A: two chunks, the caller's counted done first, so that a worker finishes
	// the job and stops before it looks at waiting. It may not (the caller may have
	// blocked first): then again.
	hold.Store(true)
	for try := 1; ; try++ {
		p.Run(2, 2, func(lo, hi int) {
			waitFor(time.Second, claimed)
			if goid() != caller {
				waitFor(time.Second, func() bool { return p.done.Load() == 1 })
			}
		})
		waitFor(time.Second, func() bool { return jobs.Load() == int64(try) })
		if !hold.Load() {
			break
		}
		if try == 100 {
			t.Fatal("no worker finished a job")
		}
	}
	<-held

	// Job B: the other worker's chunk runs until the caller has blocked and the held
	// worker has gone on.
	slow, over := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(over)
		waitFor(time.Second, func() bool { return p.waiting.Load() != 0 })
		close(release)
		time.Sleep(20 * time.Millisecond)
		close(slow)
	}()
	var finished atomic.Bool
	p.Run(2, 2, func(lo, hi int) {
		waitFor(time.Second, claimed)
		if goid() != caller {
			<-slow
			finished.Store(true)
		}
	})
	if !finished.Load() {
		t.Error("Run returned while a worker's chunk was still running")
	}
	<-over
}

// poolMats are the matrices the stress tests multiply by: one of each storage, wide
// enough for Mul to split them (one input row of 256×512 is 2^17 multiply-adds).
func poolMats(t *testing.T) []*Matrix {
	rng := rand.New(rand.NewPCG(41, 42))
	var mats []*Matrix
	for i, shape := range [][2]int{{256, 512}, {132, 1000}, {300, 448}, {12, 64}} {
		m, _ := NewMatrix(shape[0], shape[1], randomSlice(rng, shape[0]*shape[1]))
		m, err := m.Convert([]Storage{F32, F16, Int8, F32}[i])
		if err != nil {
			t.Fatal(err)
		}
		mats = append(mats, m)
	}
	return mats
}

// poolJob runs one job of random shape on p, a Run over up to 3000 indices or a Mul
// of up to ten products (more than one job holds, some over no rows), and checks
// its result exactly: every index visited once, every product as computed alone.
// The visits are plain writes read after the job, so the race detector also sees
// whether the caller returned only after the last chunk.
func poolJob(p *Pool, rng *rand.Rand, mats []*Matrix) error {
	if rng.IntN(3) > 0 {
		n, parts := rng.IntN(3001), rng.IntN(7)
		if rng.IntN(4) == 0 {
			n = rng.IntN(9)
		}
		visits := make([]uint8, n)
		p.Run(n, parts, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				visits[i]++
			}
		})
		for i, v := range visits {
			if v != 1 {
				return fmt.Errorf("Run(%d, %d): index %d visited %d times", n, parts, i, v)
			}
		}
		return nil
	}
	products := make([]Product, rng.IntN(11))
	want := make([][]float32, len(products))
	for i := range products {
		m := mats[rng.IntN(len(mats))]
		n := []int{0, 1, 1, 2, 5}[rng.IntN(5)]
		x := randomSlice(rng, n*m.Cols)
		want[i] = make([]float32, n*m.Rows)
		for t := range n {
			m.MulVec(nil, want[i][t*m.Rows:(t+1)*m.Rows], x[t*m.Cols:])
		}
		products[i] = Product{M: m, Dst: make([]float32, n*m.Rows), X: x, N: n}
	}
	p.Mul(products...)
	for i, pr := range products {
		for o := range want[i] {
			if pr.Dst[o] != want[i][o] {
				return fmt.Errorf("Mul of %d products: product %d (%dx%d over %d) value %d: %v, want %v",
					len(products), i, pr.M.Rows, pr.M.Cols, pr.N, o, pr.Dst[o], want[i][o])
			}
		}
	}
	return nil
}

// delay waits about d: by sleeping, or, since a sleep overshoots by more than the
// margins around spinTime that matter here, by watching the clock.
func delay(d time.Duration, sleep bool) {
	if sleep {
		time.Sleep(d)
		return
	}
	for start := time.Now(); time.Since(start) < d; {
		runtime.Gosched()
	}
}

// TestPoolSpinEdge: jobs separated by pauses just short of and just past spinTime, so
// that each finds the workers spinning, parking, just parked or just woken by a stale
// token, and the caller's wait ends spinning or blocked.
func TestPoolSpinEdge(t *testing.T) {
	mats := poolMats(t)
	rng := rand.New(rand.NewPCG(7, 8))
	p := NewPool(3)
	defer p.Close()
	pauses := []time.Duration{0, spinTime - 30*time.Microsecond, spinTime - 5*time.Microsecond,
		spinTime + 5*time.Microsecond, spinTime + 30*time.Microsecond, 2 * spinTime}
	for i := range 300 {
		delay(pauses[rng.IntN(len(pauses))], i%3 == 0)
		if err := poolJob(p, rng, mats); err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
}

// TestPoolSharedStress: goroutines sharing one pool, more of them than processors,
// each running jobs of random size with random pauses and checking every result; also
// with a single Go processor.
func TestPoolSharedStress(t *testing.T) {
	mats := poolMats(t)
	for _, procs := range []int{0, 1} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			if procs > 0 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			}
			p := NewPool(4)
			defer p.Close()
			errs := make(chan error, 6)
			for g := range cap(errs) {
				go func() {
					rng := rand.New(rand.NewPCG(uint64(g), 99))
					for i := range 150 {
						if rng.IntN(4) == 0 {
							delay(time.Duration(rng.IntN(int(2*spinTime))), rng.IntN(2) == 0)
						}
						if err := poolJob(p, rng, mats); err != nil {
							errs <- fmt.Errorf("caller %d job %d: %v", g, i, err)
							return
						}
					}
					errs <- nil
				}()
			}
			for range cap(errs) {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// waitGoroutines fails the test unless the number of goroutines falls back to before
// within five seconds.
func waitGoroutines(t *testing.T, before int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines 5 s after %s, %d before:\n%s", n, what, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestPoolCloseRace: Close, twice at once, while other goroutines run jobs on the pool
// and go on doing so. Nothing hangs or panics (a job that lost the race for the pool
// to Close once sent on the closed wake channel), every result is right, and the
// workers stop.
func TestPoolCloseRace(t *testing.T) {
	mats := poolMats(t)
	before := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		p := NewPool(3)
		if round%2 == 0 {
			time.Sleep(2 * spinTime) // let the workers park
		}
		var stop atomic.Bool
		errs := make(chan error, 3)
		for g := range cap(errs) {
			go func() {
				defer func() {
					if r := recover(); r != nil {
						errs <- fmt.Errorf("caller %d: panic: %v", g, r)
					}
				}()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for i := 0; i < 10 || !stop.Load(); i++ {
					if err := poolJob(p, rng, mats); err != nil {
						errs <- fmt.Errorf("caller %d job %d: %v", g, i, err)
						return
					}
				}
				errs <- nil
			}()
		}
		delay(time.Duration(rng.IntN(1000))*time.Microsecond, false)
		closed := make(chan struct{})
		go func() { p.Close(); closed <- struct{}{} }()
		p.Close()
		<-closed
		stop.Store(true)
		timeout := time.After(5 * time.Second)
		for range cap(errs) {
			select {
			case err := <-errs:
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			case <-timeout:
				buf := make([]byte, 1<<16)
				t.Fatalf("round %d: callers still running 5 s after Close:\n%s", round, buf[:runtime.Stack(buf, true)])
			}
		}
	}
	waitGoroutines(t, before, "closing 20 pools")
}

// TestPoolMulNoRows: products over no input rows do nothing, alone, among others
// that Mul splits across threads (a worker once divided by zero there, which ends
// the program), or as a whole job after a full one; a negative count panics.
func TestPoolMulNoRows(t *testing.T) {
	mats := poolMats(t)
	m := mats[0]
	rng := rand.New(rand.NewPCG(9, 10))
	x := randomSlice(rng, m.Cols)
	want := make([]float32, m.Rows)
	m.MulVec(nil, want, x)
	for _, p := range []*Pool{nil, NewPool(3)} {
		p.Mul()
		p.Mul(Product{M: m})
		var products []Product
		for range maxProducts {
			products = append(products, Product{M: m, Dst: make([]float32, m.Rows), X: x, N: 1})
		}
		for range 2 * maxProducts {
			products = append(products, Product{M: m}, Product{M: mats[1]})
		}
		p.Mul(products...)
		for i, pr := range products[:maxProducts] {
			for o := range want {
				if pr.Dst[o] != want[o] {
					t.Fatalf("%d threads, product %d value %d: %v, want %v", p.Threads(), i, o, pr.Dst[o], want[o])
				}
			}
		}
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%d threads: no panic for N = -1", p.Threads())
				}
			}()
			p.Mul(Product{M: m, N: -1})
		}()
		p.Close()
	}
}

// TestPoolTooManyChunks: a Mul job of more chunks than the word counts panics before
// it starts, and leaves the pool usable.
func TestPoolTooManyChunks(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	// Eight products of 2^19+4 rows of 2^14 columns take four rows a chunk: 2^20+8
	// chunks. No row is computed, so the matrices need no weights.
	rows := 1<<19 + 4
	m := &Matrix{Rows: rows, Cols: 1 << 14}
	dst, x := make([]float32, rows), make([]float32, 1<<14)
	products := make([]Product, maxProducts)
	for i := range products {
		products[i] = Product{M: m, Dst: dst, X: x, N: 1}
	}
	func() {
		defer func() {
			if r, _ := recover().(string); !strings.Contains(r, "chunks in one job") {
				t.Errorf("panic %q, want one about chunks", r)
			}
		}()
		p.Mul(products...)
	}()
	var count atomic.Int64
	p.Run(1000, 2, func(lo, hi int) { count.Add(int64(hi - lo)) })
	if count.Load() != 1000 {
		t.Fatalf("after the panic: %d of 1000 indices", count.Load())
	}
}

// TestPoolEpochWrap: jobs go on across the wrap of the epoch counter, with the
// workers spinning or parked, and Close on the far side still stops them.
func TestPoolEpochWrap(t *testing.T) {
	mats := poolMats(t)
	before := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(11, 12))
	p := NewPool(3)
	p.mu.Lock()
	p.word.Store(pack(1<<epochBits-6, 0, 0))
	p.mu.Unlock()
	for i := range 12 {
		if i%3 == 0 {
			time.Sleep(2 * spinTime)
		}
		if err := poolJob(p, rng, mats); err != nil {
			t.Fatalf("job %d (epoch %d): %v", i, epochOf(p.word.Load()), err)
		}
	}
	if e := epochOf(p.word.Load()); e > 12 {
		t.Fatalf("epoch %d after the wrap", e)
	}
	p.Close()
	waitGoroutines(t, before, "Close")
}
