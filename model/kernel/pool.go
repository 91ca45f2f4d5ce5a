package kernel

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs data-parallel work on a fixed set of goroutines started once, so that a
// decode step starts none. The zero Pool and a nil *Pool run everything on the
// calling goroutine. Concurrent callers take turns.
//
// A job is cut into chunks that threads claim one at a time from a shared counter,
// the caller included, so the work balances itself: a worker that wakes late, or a
// core the operating system lends elsewhere for a moment, costs only the chunks it
// does not take. Between jobs a worker spins for a short while (spinTime) before it
// parks, because a decoded token runs some eighty products separated by
// microseconds of element-wise work, and waking a parked goroutine costs tens of
// microseconds, as long as a product's half. The spin yields to the Go scheduler and
// is bounded, so an oversubscribed machine loses at most that much per job.
type Pool struct {
	threads int
	mu      sync.Mutex // one job at a time: the fields below describe it

	// word packs the job in flight: its epoch, its number of chunks and the next
	// unclaimed chunk. Claiming is a compare-and-swap on the whole word, so a worker
	// that looked at an earlier job can never take a chunk of a later one.
	word     atomic.Uint64
	done     atomic.Uint32 // chunks of the current job finished
	parked   atomic.Int32  // workers blocked on wake
	wake     chan struct{}
	waiting  atomic.Uint32 // 1+epoch of the job whose caller is blocked on finished, or 0
	finished chan struct{}
	closed   atomic.Bool
	close    sync.Once

	// A job is either fn over [0, n) in chunks of grain indices, or products.
	fn        func(lo, hi int)
	n, grain  int
	products  [maxProducts]Product
	chunkEnd  [maxProducts]int // cumulative chunk count after each product
	chunkRows [maxProducts]int // output rows per chunk of each product
	nproducts int

	// lastChunk, set only by tests before the first job, runs on the thread that
	// finished a job's last chunk, between counting it done and looking at waiting.
	lastChunk func()
}

// Product is one matrix product for Pool.Mul: Dst = M·X over N input rows, as in
// Matrix.MulMat.
type Product struct {
	M      *Matrix
	Dst, X []float32
	N      int
}

const (
	// maxProducts is how many products one Mul job holds; longer lists run as
	// several jobs.
	maxProducts = 8
	// parallelWork is the number of multiply-adds below which splitting products
	// across threads costs more than it saves.
	parallelWork = 1 << 17
	// chunkWork is the multiply-adds a chunk of a product aims at: a few
	// microseconds, so a job of one 768×768 product still splits into nine.
	chunkWork = 1 << 16
	// spinTime is how long an idle worker watches for the next job before parking,
	// and how long the caller watches for the last chunk before blocking.
	spinTime = 200 * time.Microsecond

	epochBits, countBits = 24, 20
	countMask            = 1<<countBits - 1
	maxChunks            = countMask
)

func pack(epoch uint64, chunks, next int) uint64 {
	return epoch<<(2*countBits) | uint64(chunks)<<countBits | uint64(next)
}

func epochOf(w uint64) uint64 { return w >> (2 * countBits) }

func chunksOf(w uint64) int { return int(w>>countBits) & countMask }

func nextOf(w uint64) int { return int(w) & countMask }

// NewPool starts threads-1 worker goroutines; the caller of Run or Mul is the last
// worker. threads < 1 means 1.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{threads: threads}
	if threads > 1 {
		p.wake = make(chan struct{}, threads-1)
		p.finished = make(chan struct{}, 1)
		for range threads - 1 {
			go p.worker(epochOf(p.word.Load()))
		}
	}
	return p
}

// Threads returns the number of goroutines a job may use, including the caller's.
func (p *Pool) Threads() int {
	if p == nil || p.threads < 1 {
		return 1
	}
	return p.threads
}

// Close stops the worker goroutines. It waits for a job in flight. The pool should not
// be used afterwards; a job that does (one that lost the race for the pool to Close)
// runs on its caller's goroutine alone.
func (p *Pool) Close() {
	if p == nil || p.wake == nil {
		return
	}
	p.close.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.closed.Store(true)
		p.word.Store(pack((epochOf(p.word.Load())+1)&(1<<epochBits-1), 0, 0))
		close(p.wake)
	})
}

// Run calls fn over [0, n) split into contiguous ranges and returns when all have
// finished. parts is how many threads the loop is worth: below 2 it runs as fn(0, n)
// on the caller's goroutine; otherwise the ranges are about a quarter of n/parts
// long, so that threads balance.
//
// fn must not start a job on the same pool, which is busy with this one, and must not
// panic: a panic on a worker goroutine ends the program, and one on the caller's
// leaves the other threads running chunks of the abandoned job, which would count
// them towards the next one, so the pool must not be used again.
func (p *Pool) Run(n, parts int, fn func(lo, hi int)) {
	parts = min(parts, p.Threads(), n)
	if parts < 2 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	chunks := min(4*parts, n, maxChunks)
	grain := (n + chunks - 1) / chunks
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn, p.n, p.grain = fn, n, grain
	p.run((n + grain - 1) / grain)
	p.fn = nil
}

// Mul computes every product and returns when all are done. The threads share the
// output rows of all of them, so several products that do not depend on one another
// (the projections of one layer) cost one hand-off rather than one each. No product
// may write what another reads. A product over no rows does nothing. Short buffers
// and a negative N are programming errors and panic.
func (p *Pool) Mul(products ...Product) {
	work := 0
	for _, pr := range products {
		m := pr.M
		if pr.N < 0 || len(pr.Dst) < pr.N*m.Rows || len(pr.X) < pr.N*m.Cols {
			panic(fmt.Sprintf("kernel: MulMat %dx%d over %d rows: dst %d, x %d values", m.Rows, m.Cols, pr.N, len(pr.Dst), len(pr.X)))
		}
		work += m.Rows * m.Cols * pr.N
	}
	if work < parallelWork || p.Threads() < 2 {
		for _, pr := range products {
			if pr.N > 0 { // mulRows divides by its number of blocks
				pr.M.mulRows(pr.Dst, pr.X, pr.N, 0, pr.M.Rows)
			}
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(products) > 0 {
		k := min(len(products), maxProducts)
		chunks := 0
		for i, pr := range products[:k] {
			rows := max(4, (chunkWork/max(pr.M.Cols*pr.N, 1)+3)&^3)
			// At least four chunks per thread where the product is tall enough.
			rows = min(rows, max(4, (pr.M.Rows/(4*p.threads)+3)&^3))
			if pr.N > 0 { // none, or a worker would run mulRows over no rows
				chunks += (pr.M.Rows + rows - 1) / rows
			}
			p.products[i], p.chunkRows[i], p.chunkEnd[i] = pr, rows, chunks
		}
		if chunks > maxChunks {
			panic(fmt.Sprintf("kernel: %d chunks in one job", chunks))
		}
		p.nproducts = k
		p.run(chunks)
		clear(p.products[:k])
		p.nproducts = 0
		products = products[k:]
	}
}

// chunk does chunk i of the job in flight.
func (p *Pool) chunk(i int) {
	if p.fn != nil {
		lo := i * p.grain
		p.fn(lo, min(lo+p.grain, p.n))
		return
	}
	k, first := 0, 0
	for i >= p.chunkEnd[k] {
		first = p.chunkEnd[k]
		k++
	}
	pr, rows := &p.products[k], p.chunkRows[k]
	lo := (i - first) * rows
	pr.M.mulRows(pr.Dst, pr.X, pr.N, lo, min(lo+rows, pr.M.Rows))
}

// run publishes a job of the given number of chunks, takes chunks until none is
// left, and waits for the ones other threads took. The caller holds mu.
func (p *Pool) run(chunks int) {
	p.done.Store(0)
	epoch := (epochOf(p.word.Load()) + 1) & (1<<epochBits - 1)
	p.word.Store(pack(epoch, chunks, 0))
	// After Close (a job that lost the race for mu with it) wake is closed and the
	// caller does every chunk itself.
	if !p.closed.Load() && p.parked.Load() > 0 {
		for range p.threads - 1 {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	p.claim(epoch)
	deadline := time.Time{}
	for i := 0; int(p.done.Load()) < chunks; i++ {
		if i%64 != 63 {
			continue
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(spinTime)
		} else if time.Now().After(deadline) {
			// waiting names the job: a worker that finished the last chunk of an
			// earlier one may only now be looking at it.
			p.waiting.Store(uint32(epoch) + 1)
			if int(p.done.Load()) == chunks && p.waiting.CompareAndSwap(uint32(epoch)+1, 0) {
				return
			}
			<-p.finished
			return
		}
		runtime.Gosched()
	}
}

// claim takes and does chunks of the job of the given epoch until none is left.
func (p *Pool) claim(epoch uint64) {
	for {
		w := p.word.Load()
		if epochOf(w) != epoch {
			return
		}
		next, chunks := nextOf(w), chunksOf(w)
		if next >= chunks {
			return
		}
		if !p.word.CompareAndSwap(w, w+1) {
			continue
		}
		p.chunk(next)
		if int(p.done.Add(1)) != chunks {
			continue
		}
		if p.lastChunk != nil {
			p.lastChunk()
		}
		if p.waiting.CompareAndSwap(uint32(epoch)+1, 0) {
			p.finished <- struct{}{}
		}
	}
}

// worker takes part in every job after the given epoch until the pool closes. The
// epoch is read before the goroutine starts: one that started only after Close must
// still see the closing epoch as new.
func (p *Pool) worker(seen uint64) {
	for {
		w := p.word.Load()
		if epochOf(w) == seen {
			w = p.await(seen)
		}
		if p.closed.Load() {
			return
		}
		seen = epochOf(w)
		p.claim(seen)
	}
}

// await returns the job word once its epoch differs from seen: it spins for
// spinTime, then parks until run or Close wakes it.
func (p *Pool) await(seen uint64) uint64 {
	deadline := time.Now().Add(spinTime)
	for i := 0; ; i++ {
		if w := p.word.Load(); epochOf(w) != seen {
			return w
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	for !p.closed.Load() {
		p.parked.Add(1)
		if epochOf(p.word.Load()) == seen {
			<-p.wake
		}
		p.parked.Add(-1)
		if w := p.word.Load(); epochOf(w) != seen {
			return w
		}
	}
	return p.word.Load()
}
