package fleet_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/adb"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
	"github.com/rwkvbench/rwkvbench/runner/fleet"
)

// Example runs the same bench job on every phone of an adb server, in parallel,
// into a results store. (It needs phones, so it is compiled but not run.)
func Example() {
	ctx := context.Background()
	st, err := store.Open("results.db")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.BeginRun(ctx, store.Run{ID: "run-1", HarnessVersion: "dev"}); err != nil {
		log.Fatal(err)
	}
	client := adb.Client{}
	entries, err := client.Devices(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var workers []fleet.Worker
	for _, e := range entries {
		if e.State != "device" {
			continue
		}
		d := client.Device(e.Serial, "")
		workers = append(workers, fleet.Worker{
			Device:    d,
			Agent:     runner.Cmd{Args: []string{"./rwkvbench-agent"}}, // deployed by package deploy
			Reconnect: func(ctx context.Context) error { return d.Reconnect(ctx, time.Minute) },
			Jobs: []agentproto.Job{{
				ID: "bench", Kind: "bench", ModelPath: "models/rwkv7-0.1b.pth", RunID: "run-1",
				Cell:  bench.Cell{Model: "rwkv7-0.1b", Precision: "fp32", Backend: "cpu"},
				Bench: &agentproto.BenchSpec{Tests: []string{"pp512", "tg128"}, Reps: 5, Warmup: 1},
			}},
		})
	}
	sum, err := fleet.Run(ctx, workers, fleet.StoreSink{Store: st, RunID: "run-1"}, fleet.Options{Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d cells done, %d failed, %d retries\n", sum.CellsDone, sum.CellsFailed, sum.Retries)
}
