package runner_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/devicetest"
)

func TestLocalConformance(t *testing.T) {
	d, err := runner.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Conformance(t, d)
	info, err := d.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.GOARCH != runtime.GOARCH {
		t.Errorf("local GOARCH = %q, want %q", info.GOARCH, runtime.GOARCH)
	}
}

func ExampleShellQuote() {
	fmt.Println(runner.ShellQuote("/data/local/tmp/model.bin"))
	fmt.Println(runner.ShellQuote("my model's $(name).bin"))
	// Output:
	// /data/local/tmp/model.bin
	// 'my model'\''s $(name).bin'
}

func ExampleCommandLine() {
	line, _ := runner.CommandLine(runner.Cmd{
		Args: []string{"./rwkvbench-agent"},
		Env:  map[string]string{"LD_LIBRARY_PATH": "/data/local/tmp/rwkvbench"},
	}, "/data/local/tmp/rwkvbench")
	fmt.Println(line)
	// Output:
	// cd /data/local/tmp/rwkvbench && exec env LD_LIBRARY_PATH=/data/local/tmp/rwkvbench ./rwkvbench-agent
}
