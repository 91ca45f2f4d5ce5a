package bench_test

import (
	"context"
	"fmt"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/model"
)

// printSink prints each recorded cell instead of storing it.
type printSink struct{}

func (printSink) Done(context.Context, bench.Cell) (bool, error) { return false, nil }

func (printSink) Record(_ context.Context, c bench.Cell, samples []bench.Sample) error {
	warmups := 0
	for _, s := range samples {
		if s.Warmup {
			warmups++
		}
	}
	fmt.Printf("%s %s: %d samples, %d of them warm-ups\n", c.Precision, c.Test, len(samples), warmups)
	return nil
}

func (printSink) Fail(_ context.Context, c bench.Cell, reason string) error {
	fmt.Printf("%s %s failed: %s\n", c.Precision, c.Test, reason)
	return nil
}

func ExampleRunner() {
	var tests []bench.Test
	for _, name := range []string{"pp64", "tg16", "pp64+tg16"} {
		t, err := bench.ParseTest(name, 64)
		if err != nil {
			panic(err)
		}
		tests = append(tests, t)
	}
	r := &bench.Runner{
		RunID:       "example",
		Tests:       tests,
		Repetitions: 3,
		Warmup:      1,
		Seed:        1,
		Sink:        printSink{},
	}
	target := bench.Target{
		Cell: bench.Cell{Model: "fake", Precision: "fp32", Device: "local"},
		// A real target opens a model.Engine (or a device session) here.
		Open: func(context.Context) (model.Session, error) { return bench.NewFakeSession(256), nil },
	}
	if err := r.Run(context.Background(), []bench.Target{target}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// fp32 pp64: 4 samples, 1 of them warm-ups
	// fp32 tg16: 4 samples, 1 of them warm-ups
	// fp32 pp64+tg16: 12 samples, 3 of them warm-ups
}
