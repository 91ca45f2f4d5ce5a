// Package agentproto is the JSON-lines protocol between the host and
// rwkvbench-agent on a device, and both ends of it: Serve is the agent's loop,
// RunJob the host's.
//
// Every line is one JSON object carrying the protocol version "v" and a "type". The
// agent speaks first (hello); the host answers with a job; the agent streams
// progress and sample messages and ends the job with result or error; the host
// sends bye (or closes standard input) and the agent says bye and exits.
//
//	agent → host  {"v":1,"type":"hello","hello":{...}}
//	host → agent  {"v":1,"type":"job","job":{...}}
//	agent → host  {"v":1,"type":"sample","sample":{...}}   (zero or more, with progress)
//	agent → host  {"v":1,"type":"cell","cell":{...}}       (after each cell's samples)
//	agent → host  {"v":1,"type":"result","result":{...}}   or  {"v":1,"type":"error","error":"..."}
//	host → agent  {"v":1,"type":"bye"}
//	agent → host  {"v":1,"type":"bye"}
//
// A cell message closes a cell: its samples are complete (status "done") or the
// cell could not be measured ("failed", with the reason). The host commits a cell's
// samples only when it is closed, in one transaction, so a device that drops
// mid-cell leaves nothing half-recorded and a retry measures the cell afresh.
//
// Opinions: a version mismatch is an error on both sides, never a best effort;
// a line that is not protocol (a stray print on a device, a truncated write) is an
// error naming the line, and whatever samples arrived before it are kept by the
// caller; nothing a device sends can make the host panic.
package agentproto

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/rwkvbench/rwkvbench/bench"
)

// Version is the protocol version. Bump it for any change an older peer would
// misread.
const Version = 1

// Message types.
const (
	TypeHello    = "hello"
	TypeJob      = "job"
	TypeProgress = "progress"
	TypeSample   = "sample"
	TypeCell     = "cell"
	TypeResult   = "result"
	TypeError    = "error"
	TypeBye      = "bye"
)

// MaxLineBytes bounds one protocol line; a sample is a few hundred bytes.
const MaxLineBytes = 1 << 20

// Message is one protocol line. Exactly the payload field its Type names is set.
type Message struct {
	V        int           `json:"v"`
	Type     string        `json:"type"`
	Hello    *Hello        `json:"hello,omitempty"`
	Job      *Job          `json:"job,omitempty"`
	Progress *Progress     `json:"progress,omitempty"`
	Sample   *bench.Sample `json:"sample,omitempty"`
	Cell     *CellEnd      `json:"cell,omitempty"`
	Result   *Result       `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Hello is the agent's greeting: who it is and what it can run.
type Hello struct {
	Protocol     int      `json:"protocol"`
	AgentVersion string   `json:"agent_version"`
	GoVersion    string   `json:"go_version"`
	OS           string   `json:"os"`
	Arch         string   `json:"arch"`
	Backends     []string `json:"backends"`
	// Jobs lists the job kinds this build can run ("bench", "eval").
	Jobs []string `json:"jobs"`
}

// Job is one unit of work for the agent.
type Job struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // "bench" or "eval"
	// ModelPath is the checkpoint's path on the device; a relative path is taken
	// from the agent's working directory, the device's work directory.
	ModelPath string `json:"model_path"`
	// Cell is the template of every sample's cell: model name and hash, precision,
	// backend, device, SoC, HTP arch, perf profile. The agent fills Test and
	// Runtime.
	Cell           bench.Cell `json:"cell"`
	RunID          string     `json:"run_id"`
	HarnessVersion string     `json:"harness_version"`
	Bench          *BenchSpec `json:"bench,omitempty"`
	Eval           *EvalSpec  `json:"eval,omitempty"`
	// QNN locates the QNN libraries for a qnn-* backend; empty fields mean the
	// standard names, found through LD_LIBRARY_PATH (deploy.RunEnv sets it).
	QNN *QNNSpec `json:"qnn,omitempty"`
}

// QNNSpec names the QNN libraries a qnn-* job loads. With a qnn-* Cell.Backend,
// ModelPath is the model's first context binary (later chunks are found beside it)
// and Cell.PerfProfile the HTP power vote (burst, sustained_high_performance,
// balanced; empty for none).
type QNNSpec struct {
	BackendLib string `json:"backend_lib,omitempty"`
	SystemLib  string `json:"system_lib,omitempty"`
}

// BenchSpec says which tests to run and how often.
type BenchSpec struct {
	Tests  []string `json:"tests"` // pp512, tg128, pp512+tg128, ttft, load-cold, ...
	Reps   int      `json:"reps"`
	Warmup int      `json:"warmup"`
	// Prompt is the prompt length of the ttft test.
	Prompt int `json:"prompt,omitempty"`
	// Seed fixes the token inputs, so every device measures the same tokens.
	Seed uint64 `json:"seed,omitempty"`
}

// EvalSpec says what to evaluate.
type EvalSpec struct {
	Task        string `json:"task"`         // "lambada"
	DatasetPath string `json:"dataset_path"` // on the device
	Limit       int    `json:"limit,omitempty"`
	// PrefixToken is fed before each context (eval.NoPrefix for none).
	PrefixToken int `json:"prefix_token"`
	// Reference is a KL-divergence reference file on the device, relative to the
	// work directory. With SaveReference the job writes it (the fp32 run);
	// otherwise the job compares against it when it exists.
	Reference     string `json:"reference,omitempty"`
	SaveReference bool   `json:"save_reference,omitempty"`
}

// Progress reports how far a job is.
type Progress struct {
	Done  int    `json:"done"`
	Total int    `json:"total"`
	Stage string `json:"stage,omitempty"`
}

// CellEnd closes a cell.
type CellEnd struct {
	Cell   bench.Cell `json:"cell"`
	Status string     `json:"status"` // CellDone or CellFailed
	Reason string     `json:"reason,omitempty"`
	// Samples is the number of sample messages sent for the cell.
	Samples int `json:"samples"`
}

// Cell statuses.
const (
	CellDone   = "done"
	CellFailed = "failed"
)

// Result ends a job successfully.
type Result struct {
	JobID string `json:"job_id"`
	// Samples is how many sample messages the job sent, so the host can tell a
	// complete job from one whose samples were lost.
	Samples int `json:"samples"`
}

// LineError is a line that is not valid protocol.
type LineError struct {
	Line int    // 1-based line number in the stream
	Text string // the offending line, shortened
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("protocol line %d %q: %v", e.Line, e.Text, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ErrVersion is wrapped by errors about a peer speaking another protocol version.
var ErrVersion = errors.New("protocol version mismatch")

// Decoder reads protocol messages from a stream.
type Decoder struct {
	r    *bufio.Reader
	line int
}

// NewDecoder returns a decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64*1024)}
}

// Next returns the next message. At the end of the stream it returns io.EOF; a
// line that is not a valid message is a *LineError.
func (d *Decoder) Next() (Message, error) {
	for {
		raw, err := d.readLine()
		if err != nil {
			return Message{}, err
		}
		d.line++
		if len(raw) == 0 {
			continue // blank lines carry nothing; tolerate them
		}
		m, err := Parse(raw)
		if err != nil {
			return Message{}, &LineError{Line: d.line, Text: shorten(raw), Err: err}
		}
		return m, nil
	}
}

func (d *Decoder) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLineBytes {
			d.line++
			return nil, &LineError{Line: d.line, Text: shorten(line), Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)}
		}
		switch {
		case err == nil:
			return trimEOL(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			// A last line without newline: the peer died mid-write.
			d.line++
			return nil, &LineError{Line: d.line, Text: shorten(line), Err: io.ErrUnexpectedEOF}
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func shorten(b []byte) string {
	const max = 200
	b = trimEOL(b)
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// Parse decodes and checks one line: valid JSON, this protocol version, a known
// type and the payload that type requires.
func Parse(line []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		return Message{}, fmt.Errorf("not a protocol message: %w", err)
	}
	if m.V != Version {
		return Message{}, fmt.Errorf("%w: peer speaks version %d, this side speaks %d", ErrVersion, m.V, Version)
	}
	var missing bool
	switch m.Type {
	case TypeHello:
		missing = m.Hello == nil
		if !missing && m.Hello.Protocol != Version {
			return Message{}, fmt.Errorf("%w: hello announces protocol %d, this side speaks %d", ErrVersion, m.Hello.Protocol, Version)
		}
	case TypeJob:
		missing = m.Job == nil
		if !missing && m.Job.ID == "" {
			return Message{}, fmt.Errorf("job without id")
		}
	case TypeProgress:
		missing = m.Progress == nil
	case TypeSample:
		missing = m.Sample == nil
	case TypeCell:
		missing = m.Cell == nil
		if !missing && m.Cell.Status != CellDone && m.Cell.Status != CellFailed {
			return Message{}, fmt.Errorf("cell status %q is neither %q nor %q", m.Cell.Status, CellDone, CellFailed)
		}
	case TypeResult:
		missing = m.Result == nil
	case TypeError:
		missing = m.Error == ""
	case TypeBye:
	case "":
		return Message{}, fmt.Errorf("message without type")
	default:
		return Message{}, fmt.Errorf("unknown message type %q", m.Type)
	}
	if missing {
		return Message{}, fmt.Errorf("%s message without its %s payload", m.Type, m.Type)
	}
	return m, nil
}

// Encoder writes protocol messages; it is safe for concurrent use.
type Encoder struct {
	mu sync.Mutex
	w  io.Writer
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Send writes m as one line, stamping the protocol version.
func (e *Encoder) Send(m Message) error {
	m.V = Version
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("send %s message: %w", m.Type, err)
	}
	return nil
}
