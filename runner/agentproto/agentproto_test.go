package agentproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
)

func testCell(test string) bench.Cell {
	return bench.Cell{Model: "tiny", Precision: "fp32", Backend: "cpu", Device: "dev", Test: test}
}

// fakeExec closes one cell with n samples per test and fails tests named "bad".
func fakeExec(ctx context.Context, job Job, s *Stream) error {
	if job.Bench == nil {
		return fmt.Errorf("no bench spec")
	}
	for _, test := range job.Bench.Tests {
		c := testCell(test)
		if test == "bad" {
			if err := s.Fail(ctx, c, "cannot measure"); err != nil {
				return err
			}
			continue
		}
		var samples []bench.Sample
		for rep := 0; rep < job.Bench.Reps; rep++ {
			samples = append(samples, bench.Sample{Cell: c, RunID: job.RunID, Metric: "m", Value: float64(rep), Rep: rep, Time: time.Unix(0, 0).UTC()})
		}
		if err := s.Progress(Progress{Done: 1, Total: 1}); err != nil {
			return err
		}
		if err := s.Record(ctx, c, samples); err != nil {
			return err
		}
	}
	return nil
}

// pair connects Serve and converse through pipes, as RunJob does through a device.
func pair(t *testing.T, job Job, h Handler) (Result, error) {
	t.Helper()
	hostToAgentR, hostToAgentW := io.Pipe()
	agentToHostR, agentToHostW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		err := Serve(context.Background(), hostToAgentR, agentToHostW, Hello{AgentVersion: "test", Jobs: []string{"bench"}}, fakeExec)
		agentToHostW.Close()
		served <- err
	}()
	res, err := converse(context.Background(), "dev", NewDecoder(agentToHostR), NewEncoder(hostToAgentW), job, h)
	hostToAgentW.Close()
	go io.Copy(io.Discard, agentToHostR)
	if serr := <-served; serr != nil && err == nil {
		t.Fatalf("Serve: %v", serr)
	}
	return res, err
}

type recorder struct {
	done   map[string][]bench.Sample
	failed map[string]string
}

func (r *recorder) handler() Handler {
	r.done, r.failed = map[string][]bench.Sample{}, map[string]string{}
	return Handler{
		CellDone: func(ctx context.Context, c bench.Cell, s []bench.Sample) error {
			r.done[c.Test] = s
			return nil
		},
		CellFailed: func(ctx context.Context, c bench.Cell, reason string) error {
			r.failed[c.Test] = reason
			return nil
		},
	}
}

func TestJobRoundTrip(t *testing.T) {
	var r recorder
	res, err := pair(t, Job{ID: "j1", Kind: "bench", RunID: "run", Bench: &BenchSpec{Tests: []string{"pp8", "bad", "tg4"}, Reps: 3}}, r.handler())
	if err != nil {
		t.Fatal(err)
	}
	if res.Samples != 6 || res.JobID != "j1" {
		t.Errorf("result = %+v, want 6 samples of job j1", res)
	}
	if len(r.done["pp8"]) != 3 || len(r.done["tg4"]) != 3 || r.failed["bad"] != "cannot measure" {
		t.Errorf("cells: done %v failed %v", r.done, r.failed)
	}
}

func TestJobErrors(t *testing.T) {
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"unknown kind", Job{ID: "j", Kind: "train"}, `does not run "train" jobs`},
		{"executor error", Job{ID: "j", Kind: "bench"}, "no bench spec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			_, err := pair(t, tt.job, r.handler())
			var je *JobError
			if !errors.As(err, &je) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a *JobError containing %q", err, tt.want)
			}
		})
	}
}

// TestHostRejectsBadStreams feeds converse agent output that breaks the protocol
// and checks that the error names the device and the line, and that cells closed
// before the break were delivered.
func TestHostRejectsBadStreams(t *testing.T) {
	hello := `{"v":1,"type":"hello","hello":{"protocol":1,"jobs":["bench"]}}`
	sample := func(test string) string {
		return fmt.Sprintf(`{"v":1,"type":"sample","sample":{"model":"tiny","precision":"fp32","backend":"cpu","device":"dev","test":%q,"metric":"m","value":1}}`, test)
	}
	cellEnd := func(test string, n int) string {
		return fmt.Sprintf(`{"v":1,"type":"cell","cell":{"cell":{"model":"tiny","precision":"fp32","backend":"cpu","device":"dev","test":%q},"status":"done","samples":%d}}`, test, n)
	}
	tests := []struct {
		name       string
		stream     string
		wantErr    string
		wantDone   int
		incomplete bool
	}{
		{name: "garbage line", stream: hello + "\n" + sample("a") + "\n" + cellEnd("a", 1) + "\nSegmentation fault\n", wantErr: `line 4 "Segmentation fault"`, wantDone: 1, incomplete: true},
		{name: "cut mid-cell", stream: hello + "\n" + sample("a") + "\n" + cellEnd("a", 1) + "\n" + sample("b") + "\n", wantErr: "1 samples of an unfinished cell discarded", wantDone: 1, incomplete: true},
		{name: "truncated line", stream: hello + "\n" + `{"v":1,"type":"sam`, wantErr: "unexpected EOF", incomplete: true},
		{name: "old agent", stream: `{"v":0,"type":"hello","hello":{"protocol":0}}` + "\n", wantErr: "protocol version mismatch"},
		{name: "count mismatch", stream: hello + "\n" + sample("a") + "\n" + cellEnd("a", 2) + "\n", wantErr: "closed with 2 samples, 1 received", incomplete: true},
		{name: "mixed cells", stream: hello + "\n" + sample("a") + "\n" + sample("b") + "\n", wantErr: "while cell", incomplete: true},
		{name: "no hello", stream: sample("a") + "\n", wantErr: "before hello", incomplete: true},
		{name: "result miscounts", stream: hello + "\n" + `{"v":1,"type":"result","result":{"job_id":"j","samples":3}}` + "\n", wantErr: "result counts 3", incomplete: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			_, err := converse(context.Background(), "phone-7", NewDecoder(strings.NewReader(tt.stream)), NewEncoder(io.Discard), Job{ID: "j", Kind: "bench"}, r.handler())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "phone-7") {
				t.Fatalf("err = %v, want one naming device phone-7 and containing %q", err, tt.wantErr)
			}
			var inc *IncompleteError
			if errors.As(err, &inc) != tt.incomplete {
				t.Errorf("IncompleteError = %v, want %v", errors.As(err, &inc), tt.incomplete)
			}
			if len(r.done) != tt.wantDone {
				t.Errorf("%d cells delivered, want %d", len(r.done), tt.wantDone)
			}
		})
	}
}

// TestAgentRejectsOtherVersion: a host speaking another version gets an error
// message, and Serve returns an error.
func TestAgentRejectsOtherVersion(t *testing.T) {
	var out bytes.Buffer
	err := Serve(context.Background(), strings.NewReader(`{"v":2,"type":"job","job":{"id":"j","kind":"bench"}}`+"\n"), &out, Hello{Jobs: []string{"bench"}}, fakeExec)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("Serve err = %v, want ErrVersion", err)
	}
	if !strings.Contains(out.String(), `"type":"error"`) || !strings.Contains(out.String(), "peer speaks version 2") {
		t.Errorf("agent output %q has no error message about the version", out.String())
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		line    string
		wantErr string
	}{
		{`{"v":1,"type":"bye"}`, ""},
		{`{"v":1,"type":"progress","progress":{"done":1,"total":2}}`, ""},
		{`{"v":1,"type":"progress"}`, "without its progress payload"},
		{`{"v":1,"type":"cell","cell":{"status":"maybe"}}`, "cell status"},
		{`{"v":1,"type":"job","job":{}}`, "job without id"},
		{`{"v":1,"type":"nope"}`, "unknown message type"},
		{`{"v":1}`, "without type"},
		{`{"v":1,"type":"error"}`, "without its error payload"},
		{`[1,2]`, "not a protocol message"},
		{`{"v":1,"type":"hello","hello":{"protocol":9}}`, "hello announces protocol 9"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.line))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Parse(%s) err = %v, want %q", tt.line, err, tt.wantErr)
		}
	}
}

func TestDecoderLongLine(t *testing.T) {
	long := `{"v":1,"type":"error","error":"` + strings.Repeat("x", MaxLineBytes) + `"}` + "\n"
	_, err := NewDecoder(strings.NewReader(long)).Next()
	var le *LineError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "longer than") || len(le.Text) > 300 {
		t.Fatalf("err = %v, want a short LineError about the length", err)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"hello","hello":{"protocol":1}}` + "\n" + `{"v":1,"type":"bye"}` + "\n"))
	f.Add([]byte(`{"v":1,"type":"sample","sample":{"value":1e308,"time":"2026-01-01T00:00:00Z"}}` + "\n"))
	f.Add([]byte(`{"v":1,"type":"cell","cell":{"status":"done","samples":-1}}` + "\n\n\r\n"))
	f.Add([]byte("not json\n{\"v\":1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := NewDecoder(bytes.NewReader(data))
		for i := 0; i < 1000; i++ {
			m, err := dec.Next()
			if err != nil {
				return
			}
			if m.V != Version || m.Type == "" {
				t.Fatalf("decoder accepted %+v", m)
			}
			// Whatever the decoder accepts, the encoder reproduces as valid protocol.
			var buf bytes.Buffer
			if err := NewEncoder(&buf).Send(m); err != nil {
				continue // e.g. a value json cannot encode; never a panic
			}
			if _, err := Parse(bytes.TrimSpace(buf.Bytes())); err != nil {
				t.Fatalf("re-encoded %+v does not parse: %v", m, err)
			}
		}
	})
}

// FuzzHost feeds converse arbitrary agent output: it must return, never panic,
// and never deliver a cell whose samples disagree with its closing count.
func FuzzHost(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"hello","hello":{"protocol":1}}` + "\n" + `{"v":1,"type":"result","result":{"samples":0}}` + "\n"))
	f.Add([]byte(`{"v":1,"type":"hello","hello":{"protocol":1}}` + "\n" + `{"v":1,"type":"sample","sample":{}}` + "\n" + `{"v":1,"type":"cell","cell":{"cell":{},"status":"done","samples":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := Handler{CellDone: func(ctx context.Context, c bench.Cell, s []bench.Sample) error {
			for _, x := range s {
				if x.Cell != c {
					t.Fatalf("cell %v delivered with a sample of %v", c, x.Cell)
				}
			}
			return nil
		}}
		_, _ = converse(context.Background(), "fuzz", NewDecoder(bytes.NewReader(data)), NewEncoder(io.Discard), Job{ID: "j"}, h)
	})
}
