package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

func FuzzImportJSONL(f *testing.F) {
	f.Add([]byte(`{"model":"rwkv7-0.1b","precision":"fp16","test":"tg128","run_id":"r1","metric":"generation_tokens_per_second","unit":"tok/s","value":62.5,"rep":0,"time":"2026-11-25T12:00:00Z"}`))
	f.Add([]byte(`{"run_id":"r","test":"lambada","metric":"acc","value":0.678,"rep":0,"warmup":false,"time":"2026-01-01T00:00:00.5Z","simulated":true}` + "\n\n" +
		`{"run_id":"r","test":"lambada","metric":"ppl","value":3.97,"rep":0,"time":"2026-01-01T00:00:01Z"}`))
	f.Add([]byte(`{"run_id":"r","test":"t","metric":"m","value":1e400,"time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte("{\n"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"run_id":"r","test":"t","metric":"m","rep":-1,"warmup":true,"time":"2026-01-01T00:00:00+02:00"}`))
	path := filepath.Join(f.TempDir(), "fuzz.db")
	s, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		// Samples accepted once are accepted again, adding nothing: import is idempotent.
		// The store is shared across inputs, so a first import may find some of its
		// samples already there; the second import must find all of them.
		if _, err := s.ImportJSONL(ctx, bytes.NewReader(data)); err != nil {
			return
		}
		n, err := s.ImportJSONL(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("second import of an accepted input failed: %v", err)
		}
		if n != 0 {
			t.Fatalf("second import added %d samples", n)
		}
		// Whatever was accepted must export and parse back.
		var out bytes.Buffer
		if err := s.ExportJSONL(ctx, &out, Filter{}); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadJSONL(&out); err != nil {
			t.Fatalf("export of imported samples does not parse: %v", err)
		}
	})
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"model":"m","precision":"a16w4","test":"tg128","run_id":"r","metric":"generation_tokens_per_second","unit":"tok/s","value":62.5,"rep":2,"time":"2026-11-25T12:00:00.123456789+01:00","thermal_before":"0","simulated":true}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"run_id":"r","test":"t","metric":"m","time":"2026-01-01T00:00:00Z","value":-0}` + "\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, err := ReadJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What parses writes back and parses to the same samples.
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, samples); err != nil {
			t.Fatal(err)
		}
		again, err := ReadJSONL(&buf)
		if err != nil {
			t.Fatalf("rewritten samples do not parse: %v\n%s", err, buf.Bytes())
		}
		if len(again) != len(samples) {
			t.Fatalf("%d samples became %d", len(samples), len(again))
		}
		for i := range samples {
			a, b := samples[i], again[i]
			if !a.Time.Equal(b.Time) || a.Value != b.Value || a.Cell != b.Cell || a.Metric != b.Metric || a.Rep != b.Rep {
				t.Fatalf("sample %d changed in a round trip:\n%+v\n%+v", i, a, b)
			}
		}
	})
}
