package agentproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/runner"
)

// Handler receives what a job produces on the host.
type Handler struct {
	// Hello, if set, sees the agent's greeting and may refuse it.
	Hello func(Hello) error
	// Progress, if set, sees progress messages.
	Progress func(Progress)
	// CellDone receives a closed cell with all its samples, in arrival order.
	// Returning an error aborts the job (the samples are not acknowledged).
	CellDone func(ctx context.Context, c bench.Cell, samples []bench.Sample) error
	// CellFailed receives a cell the agent could not measure.
	CellFailed func(ctx context.Context, c bench.Cell, reason string) error
	// IdleTimeout is how long the agent may stay silent before the job counts as
	// cut off; DefaultIdleTimeout when zero. The agent sends a heartbeat every
	// HeartbeatInterval, so silence means the device or its transport is gone
	// (adb, for one, can keep a dead shell session open indefinitely).
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is the silence after which the host gives up on an agent.
const DefaultIdleTimeout = 30 * time.Second

// JobError is a job the agent ran and reported as failed: retrying on the same
// device will not help.
type JobError struct {
	Device string
	Msg    string
}

func (e *JobError) Error() string { return fmt.Sprintf("device %s: agent: %s", e.Device, e.Msg) }

// IncompleteError is a job cut short: the agent stopped talking (the device
// dropped, the agent crashed) or spoke something that is not protocol. Cells closed
// before the cut have been handed to the Handler; Pending counts the samples of
// the open cell, which were not.
type IncompleteError struct {
	Device  string
	Pending int
	Err     error
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("device %s: job incomplete (%d samples of an unfinished cell discarded): %v", e.Device, e.Pending, e.Err)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// RunJob starts the agent on d with agent (its program, arguments and
// environment), checks its hello, sends job and hands every closed cell to h. It
// returns the agent's Result, a *JobError when the agent reported the job failed,
// or an *IncompleteError when the stream was cut or broke protocol.
func RunJob(ctx context.Context, d runner.Device, agent runner.Cmd, job Job, h Handler) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	agent.Stdin, agent.Stdout = inR, outW
	runErr := make(chan error, 1)
	go func() {
		err := d.Run(ctx, agent)
		outW.CloseWithError(errOrEOF(err))
		inR.Close()
		runErr <- err
	}()
	res, err := converse(ctx, d.Serial(), NewDecoder(outR), NewEncoder(inW), job, h)
	inW.Close()
	if err != nil {
		cancel()
		outR.Close()
		<-runErr
		return Result{}, err
	}
	// Drain the agent's bye and let it exit.
	go io.Copy(io.Discard, outR)
	if rerr := <-runErr; rerr != nil && ctx.Err() == nil {
		var exit *runner.ExitError
		if !errors.As(rerr, &exit) {
			// The job's results are complete; a transport hiccup at exit loses nothing.
			return res, nil
		}
		return res, fmt.Errorf("device %s: agent exited after its result: %w", d.Serial(), rerr)
	}
	return res, nil
}

func errOrEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

func converse(ctx context.Context, serial string, dec *Decoder, enc *Encoder, job Job, h Handler) (Result, error) {
	incomplete := func(pending int, err error) error {
		return &IncompleteError{Device: serial, Pending: pending, Err: err}
	}
	idle := h.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	msgs := make(chan decoded)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			m, err := dec.Next()
			select {
			case msgs <- decoded{m, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	next := func() (Message, error) {
		timer.Reset(idle)
		select {
		case d := <-msgs:
			return d.m, d.err
		case <-timer.C:
			return Message{}, fmt.Errorf("no message from the agent for %v", idle)
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
	m, err := next()
	if err != nil {
		if errors.Is(err, ErrVersion) {
			return Result{}, &JobError{Device: serial, Msg: fmt.Sprintf("%v (redeploy the agent)", err)}
		}
		return Result{}, incomplete(0, fmt.Errorf("waiting for the agent's hello: %w", err))
	}
	if m.Type != TypeHello {
		return Result{}, incomplete(0, fmt.Errorf("agent spoke %s before hello", m.Type))
	}
	if h.Hello != nil {
		if err := h.Hello(*m.Hello); err != nil {
			return Result{}, &JobError{Device: serial, Msg: err.Error()}
		}
	}
	if err := enc.Send(Message{Type: TypeJob, Job: &job}); err != nil {
		return Result{}, incomplete(0, err)
	}
	var open []bench.Sample
	total := 0
	for {
		m, err := next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Result{}, incomplete(len(open), err)
		}
		switch m.Type {
		case TypeProgress:
			if m.Progress.Stage == StageHeartbeat {
				continue
			}
			if h.Progress != nil {
				h.Progress(*m.Progress)
			}
		case TypeSample:
			if len(open) > 0 && open[0].Cell != m.Sample.Cell {
				return Result{}, incomplete(len(open), fmt.Errorf("sample for cell %v arrived while cell %v was open", m.Sample.Cell, open[0].Cell))
			}
			open = append(open, *m.Sample)
		case TypeCell:
			end := m.Cell
			if end.Samples != len(open) || (len(open) > 0 && open[0].Cell != end.Cell) {
				return Result{}, incomplete(len(open), fmt.Errorf("cell %v closed with %d samples, %d received for it", end.Cell, end.Samples, len(open)))
			}
			var err error
			switch end.Status {
			case CellDone:
				if h.CellDone != nil {
					err = h.CellDone(ctx, end.Cell, open)
				}
			case CellFailed:
				if h.CellFailed != nil {
					err = h.CellFailed(ctx, end.Cell, end.Reason)
				}
			}
			if err != nil {
				return Result{}, fmt.Errorf("device %s: %w", serial, err)
			}
			total += len(open)
			open = nil
		case TypeResult:
			if len(open) > 0 || m.Result.Samples != total {
				return Result{}, incomplete(len(open), fmt.Errorf("result counts %d samples, %d arrived in closed cells", m.Result.Samples, total))
			}
			_ = enc.Send(Message{Type: TypeBye})
			return *m.Result, nil
		case TypeError:
			return Result{}, &JobError{Device: serial, Msg: m.Error}
		default:
			return Result{}, incomplete(len(open), fmt.Errorf("unexpected %s message during a job", m.Type))
		}
	}
}

type decoded struct {
	m   Message
	err error
}
