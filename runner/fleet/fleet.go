// Package fleet runs jobs on many devices at once: one job per device at a time,
// every device in parallel, results streamed into a sink (the results store) cell
// by cell as they arrive.
//
// Opinions: a cell is the unit of truth. Its samples are committed together with
// its done mark, in one transaction, when the agent closes it; a device that drops
// mid-cell loses that cell's partial samples, never a committed one, and the retry
// re-measures only the cells still open. A device that drops is retried when it
// comes back (bounded retries with exponential backoff, after its transport's
// reconnect check); when the retries run out, its remaining cells are marked failed
// with the reason and the other devices carry on. A job the agent itself reports as
// failed (bad model path, unsupported precision) is not retried: it would fail the
// same way again.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
)

// Worker is one device and how to run the agent on it.
type Worker struct {
	Device runner.Device
	// Agent is the agent's command line on the device (program, environment).
	Agent runner.Cmd
	// Reconnect, if set, waits until the device is usable again after a drop (for
	// adb: `adb connect` for network devices, then `adb get-state` until "device").
	// An error means the device is still away; the attempt counts as a retry.
	Reconnect func(ctx context.Context) error
	// Jobs run in order, one at a time.
	Jobs []agentproto.Job
}

// Sink receives cells. StoreSink writes them to the results store.
type Sink interface {
	CellDone(ctx context.Context, c bench.Cell, samples []bench.Sample) error
	CellFailed(ctx context.Context, c bench.Cell, reason string) error
}

// Options tunes a fleet run.
type Options struct {
	// Retries bounds how often a job is restarted after its device dropped; 3 when
	// zero, none when negative.
	Retries int
	// Backoff is the first wait before a retry, doubled each time up to MaxBackoff;
	// 1s and 30s when zero.
	Backoff, MaxBackoff time.Duration
	// IdleTimeout is how long an agent may stay silent before its device counts
	// as dropped; agentproto.DefaultIdleTimeout when zero.
	IdleTimeout time.Duration
	// Log receives one line per event (cell done, drop, retry, failure); nil
	// discards them. Writes are serialized.
	Log io.Writer
}

// Summary counts what a run did.
type Summary struct {
	CellsDone, CellsFailed, Samples, Retries int
	// Failures maps device serial to the reason its last job failed.
	Failures map[string]string
}

// Run runs every worker's jobs, the workers in parallel. It returns an error only
// when the sink fails or ctx ends; device failures are in the Summary and in the
// sink as failed cells.
func Run(ctx context.Context, workers []Worker, sink Sink, opts Options) (Summary, error) {
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	r := &run{sink: sink, opts: opts, sum: Summary{Failures: map[string]string{}}}
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, job := range w.Jobs {
				if err := r.job(ctx, w, job); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return r.sum, errors.Join(errs...)
}

type run struct {
	sink Sink
	opts Options

	mu  sync.Mutex // guards sum and serializes Log and sink calls
	sum Summary
}

func (r *run) logf(format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, format+"\n", args...)
	}
}

// sinkError marks a failure of the sink, which stops the run: results would be
// lost otherwise.
type sinkError struct{ err error }

func (e sinkError) Error() string { return e.err.Error() }
func (e sinkError) Unwrap() error { return e.err }

// job runs one job to completion on w, retrying after drops.
func (r *run) job(ctx context.Context, w Worker, job agentproto.Job) error {
	serial := w.Device.Serial()
	if job.Cell.Device == "" {
		job.Cell.Device = serial
	}
	var remaining []string
	if job.Bench != nil {
		remaining = slices.Clone(job.Bench.Tests)
	}
	backoff := r.opts.Backoff
	for attempt := 0; ; attempt++ {
		attemptJob := job
		if job.Bench != nil {
			spec := *job.Bench
			spec.Tests = slices.Clone(remaining)
			attemptJob.Bench = &spec
		}
		h := agentproto.Handler{
			IdleTimeout: r.opts.IdleTimeout,
			Hello: func(h agentproto.Hello) error {
				// Fill the runtime the agent will record, so cells failed on the host
				// carry the same key as cells the agent closed.
				if job.Cell.Runtime == "" {
					job.Cell.Runtime = h.GoVersion + " cpu"
				}
				return nil
			},
			CellDone: func(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
				r.mu.Lock()
				defer r.mu.Unlock()
				if err := r.sink.CellDone(ctx, c, samples); err != nil {
					return sinkError{fmt.Errorf("record cell %s on %s: %w", c.Test, serial, err)}
				}
				remaining = slices.DeleteFunc(remaining, func(t string) bool { return t == c.Test })
				r.sum.CellsDone++
				r.sum.Samples += len(samples)
				r.logf("%s: %s done (%d samples)", serial, c.Test, len(samples))
				return nil
			},
			CellFailed: func(ctx context.Context, c bench.Cell, reason string) error {
				r.mu.Lock()
				defer r.mu.Unlock()
				if err := r.sink.CellFailed(ctx, c, reason); err != nil {
					return sinkError{fmt.Errorf("mark cell %s on %s failed: %w", c.Test, serial, err)}
				}
				remaining = slices.DeleteFunc(remaining, func(t string) bool { return t == c.Test })
				r.sum.CellsFailed++
				r.logf("%s: %s failed: %s", serial, c.Test, reason)
				return nil
			},
		}
		_, err := agentproto.RunJob(ctx, w.Device, w.Agent, attemptJob, h)
		if err == nil {
			return nil
		}
		var se sinkError
		if errors.As(err, &se) {
			return se.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var jobErr *agentproto.JobError
		if errors.As(err, &jobErr) || attempt >= r.opts.Retries {
			if !errors.As(err, &jobErr) {
				err = fmt.Errorf("gave up after %d retries: %w", attempt, err)
			}
			return r.failRemaining(ctx, serial, job, remaining, err)
		}
		r.mu.Lock()
		r.sum.Retries++
		r.logf("%s: job %s interrupted (%v); retry %d/%d in %v", serial, job.ID, err, attempt+1, r.opts.Retries, backoff)
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.opts.MaxBackoff)
		if w.Reconnect != nil {
			if rerr := w.Reconnect(ctx); rerr != nil {
				r.mu.Lock()
				r.logf("%s: still away: %v", serial, rerr)
				r.mu.Unlock()
				// The next attempt will fail fast and count as a retry.
			}
		}
	}
}

// failRemaining marks the job's unfinished cells failed with the reason.
func (r *run) failRemaining(ctx context.Context, serial string, job agentproto.Job, remaining []string, cause error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Failures[serial] = cause.Error()
	r.logf("%s: job %s failed: %v", serial, job.ID, cause)
	tests := remaining
	if job.Eval != nil {
		tests = []string{bench.TestLAMBADA}
	}
	for _, t := range tests {
		c := job.Cell
		c.Test = t
		if err := r.sink.CellFailed(ctx, c, cause.Error()); err != nil {
			return fmt.Errorf("mark cell %s on %s failed: %w", t, serial, err)
		}
		r.sum.CellsFailed++
	}
	return nil
}

// ReconnectFunc returns the Worker.Reconnect for d's transport: for adb, re-connect
// a network device and wait for state "device"; for SSH, re-dial. Each waits at
// most wait. Devices that cannot drop (this host) get nil.
func ReconnectFunc(d runner.Device, wait time.Duration) func(ctx context.Context) error {
	r, ok := d.(interface {
		Reconnect(ctx context.Context, wait time.Duration) error
	})
	if !ok {
		return nil
	}
	return func(ctx context.Context) error { return r.Reconnect(ctx, wait) }
}

// StoreSink writes cells to the results store: a done cell's samples and its done
// mark in one transaction (store.RecordCell), a failed cell as a mark with its
// reason.
type StoreSink struct {
	Store *store.Store
	RunID string
}

// CellDone implements Sink.
func (s StoreSink) CellDone(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
	return s.Store.RecordCell(ctx, s.RunID, c, samples)
}

// CellFailed implements Sink.
func (s StoreSink) CellFailed(ctx context.Context, c bench.Cell, reason string) error {
	return s.Store.MarkCell(ctx, s.RunID, c, store.CellFailed, reason)
}
