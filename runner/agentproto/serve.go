package agentproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
)

// Executor runs one job on the agent, reporting through s. An error fails the job
// (the host gets an error message); the agent goes on serving.
type Executor func(ctx context.Context, job Job, s *Stream) error

// Stream is how a running job reports to the host. It implements bench.Sink, so a
// bench.Runner on the device streams its cells straight to the host.
type Stream struct {
	enc     *Encoder
	samples int
}

// Progress reports how far the job is.
func (s *Stream) Progress(p Progress) error {
	return s.enc.Send(Message{Type: TypeProgress, Progress: &p})
}

// Done implements bench.Sink: the host sends only cells it wants measured.
func (s *Stream) Done(ctx context.Context, c bench.Cell) (bool, error) { return false, nil }

// Record implements bench.Sink: it sends the cell's samples, then closes the cell.
func (s *Stream) Record(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
	for i := range samples {
		if err := s.enc.Send(Message{Type: TypeSample, Sample: &samples[i]}); err != nil {
			return err
		}
		s.samples++
	}
	return s.enc.Send(Message{Type: TypeCell, Cell: &CellEnd{Cell: c, Status: CellDone, Samples: len(samples)}})
}

// Fail implements bench.Sink.
func (s *Stream) Fail(ctx context.Context, c bench.Cell, reason string) error {
	return s.enc.Send(Message{Type: TypeCell, Cell: &CellEnd{Cell: c, Status: CellFailed, Reason: reason}})
}

var _ bench.Sink = (*Stream)(nil)

// Serve is the agent's side of the protocol: it greets with hello, runs each job
// it receives with run, and returns when the host says bye or closes in. A line
// that is not protocol, or a version mismatch, is answered with an error message
// and returned.
func Serve(ctx context.Context, in io.Reader, out io.Writer, hello Hello, run Executor) error {
	enc := NewEncoder(out)
	hello.Protocol = Version
	if err := enc.Send(Message{Type: TypeHello, Hello: &hello}); err != nil {
		return err
	}
	dec := NewDecoder(in)
	for {
		m, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return enc.Send(Message{Type: TypeBye})
		}
		if err != nil {
			_ = enc.Send(Message{Type: TypeError, Error: "agent: " + err.Error()})
			return fmt.Errorf("read from host: %w", err)
		}
		switch m.Type {
		case TypeBye:
			return enc.Send(Message{Type: TypeBye})
		case TypeJob:
			job := *m.Job
			if !slices.Contains(hello.Jobs, job.Kind) {
				if err := enc.Send(Message{Type: TypeError, Error: fmt.Sprintf("job %s: this agent does not run %q jobs (it runs %v)", job.ID, job.Kind, hello.Jobs)}); err != nil {
					return err
				}
				continue
			}
			s := &Stream{enc: enc}
			stopBeat := heartbeat(enc)
			err := run(ctx, job, s)
			stopBeat()
			if err != nil {
				if err := enc.Send(Message{Type: TypeError, Error: fmt.Sprintf("job %s: %v", job.ID, err)}); err != nil {
					return err
				}
				continue
			}
			if err := enc.Send(Message{Type: TypeResult, Result: &Result{JobID: job.ID, Samples: s.samples}}); err != nil {
				return err
			}
		default:
			err := fmt.Errorf("unexpected %s message from the host", m.Type)
			_ = enc.Send(Message{Type: TypeError, Error: "agent: " + err.Error()})
			return err
		}
	}
}

// HeartbeatInterval is how often a busy agent says it is alive; StageHeartbeat
// marks those progress messages, which the host does not pass on.
const (
	HeartbeatInterval = time.Second
	StageHeartbeat    = "heartbeat"
)

// heartbeat sends heartbeats until the returned function is called.
func heartbeat(enc *Encoder) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if enc.Send(Message{Type: TypeProgress, Progress: &Progress{Stage: StageHeartbeat}}) != nil {
					return
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
