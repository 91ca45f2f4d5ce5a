package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// fakeSession is a deterministic stand-in for an engine: its "state" is a running
// hash of the tokens fed since the last Reset, and its logits peak at state % vocab.
// It allocates nothing, so allocation counts through it are the harness's own.
type fakeSession struct {
	vocab   int
	state   uint64
	calls   int
	tokens  int
	fed     []int // every token fed, when record is set
	record  bool
	failAt  int // the Forward call (1-based) that fails; 0 never
	closed  bool
	resets  int
	onClose func()
}

func (f *fakeSession) VocabSize() int { return f.vocab }

func (f *fakeSession) Forward(ctx context.Context, tokens []int, logits []float32) error {
	f.calls++
	if f.failAt != 0 && f.calls == f.failAt {
		return errors.New("injected failure")
	}
	if len(logits) != 0 && len(logits) != f.vocab && len(logits) != f.vocab*len(tokens) {
		return fmt.Errorf("logits length %d", len(logits))
	}
	for _, t := range tokens {
		if t < 0 || t >= f.vocab {
			return fmt.Errorf("token %d out of range", t)
		}
		f.state = f.state*31 + uint64(t) + 1
		f.tokens++
		if f.record {
			f.fed = append(f.fed, t)
		}
	}
	if len(logits) > 0 {
		row := logits[len(logits)-f.vocab:]
		for i := range row {
			row[i] = 0
		}
		row[f.state%uint64(f.vocab)] = 1
	}
	return nil
}

func (f *fakeSession) Reset() { f.state = 0; f.resets++ }

func (f *fakeSession) Close() error {
	f.closed = true
	if f.onClose != nil {
		f.onClose()
	}
	return nil
}

// memorySink keeps cells in memory, as the store would.
type memorySink struct {
	mu      sync.Mutex
	done    map[Cell]bool
	failed  map[Cell]string
	samples []Sample
	order   []string // cell tests in the order recorded
}

func newMemorySink() *memorySink {
	return &memorySink{done: map[Cell]bool{}, failed: map[Cell]string{}}
}

func (m *memorySink) Done(ctx context.Context, c Cell) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done[c], nil
}

func (m *memorySink) Record(ctx context.Context, c Cell, samples []Sample) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done[c] {
		return fmt.Errorf("cell %s recorded twice", c.Test)
	}
	m.done[c] = true
	delete(m.failed, c)
	m.samples = append(m.samples, samples...)
	m.order = append(m.order, c.Test)
	return nil
}

func (m *memorySink) Fail(ctx context.Context, c Cell, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failed[c] = reason
	return nil
}

func (m *memorySink) cellSamples(test string) []Sample {
	var out []Sample
	for _, s := range m.samples {
		if s.Test == test {
			out = append(out, s)
		}
	}
	return out
}
