package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "rwkvbench-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(filepath.Join(dir, "results.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	run := store.Run{ID: "2026-11-25T12:00Z", HarnessVersion: "0.1.0", Command: "rwkvbench bench -r 2"}
	if err := s.BeginRun(ctx, run); err != nil {
		log.Fatal(err)
	}
	cell := bench.Cell{Model: "rwkv7-0.1b", Precision: "fp16", Backend: "cpu", Device: "local", Test: "tg128"}
	var samples []bench.Sample
	for rep, tokPerSec := range []float64{61.9, 62.5} {
		samples = append(samples, bench.Sample{Cell: cell, RunID: run.ID, HarnessVersion: run.HarnessVersion,
			Metric: "generation_tokens_per_second", Unit: "tok/s", Value: tokPerSec, Rep: rep, Time: time.Now()})
	}
	// Samples and the done mark commit together: a resumed run skips this cell.
	if err := s.RecordCell(ctx, run.ID, cell, samples); err != nil {
		log.Fatal(err)
	}
	status, _, err := s.CellStatus(ctx, run.ID, cell)
	if err != nil {
		log.Fatal(err)
	}
	got, err := s.Samples(ctx, store.Filter{Runs: []string{run.ID}, Match: map[string]string{"precision": "fp16"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status, len(got), got[1].Value)
	// Output: done 2 62.5
}

func ExampleStore_ExportJSONL() {
	dir, err := os.MkdirTemp("", "rwkvbench-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(filepath.Join(dir, "results.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	sample := bench.Sample{Cell: bench.Cell{Model: "rwkv7-0.1b", Precision: "a16w4", Test: "lambada"},
		RunID: "r1", Metric: "acc", Value: 0.678, Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Simulated: true}
	if err := s.Record(ctx, sample); err != nil {
		log.Fatal(err)
	}
	if err := s.ExportJSONL(ctx, os.Stdout, store.Filter{}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"model":"rwkv7-0.1b","model_hash":"","precision":"a16w4","backend":"","device":"","soc":"","htp_arch":"","runtime":"","perf_profile":"","test":"lambada","run_id":"r1","harness_version":"","metric":"acc","unit":"","value":0.678,"rep":0,"warmup":false,"time":"2026-11-25T12:00:00Z","simulated":true}
}
