// Command rwkvbench converts, deploys, benchmarks and evaluates RWKV models on the host
// CPU and on Qualcomm Hexagon NPUs, and publishes the results.
//
// Each subcommand lives in its own cmd_*.go file and parses its own flags with pflag;
// main only dispatches, so that every subcommand's help is complete on its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// env is what a subcommand may touch of the process: its streams and its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string // one line, shown in the command list
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand in the order the help shows them: the order of the
// work, from a checkpoint to a published table.
func commands() []command {
	return []command{
		{"info", "show a checkpoint's version, shapes, parameter count and dtype", runInfo},
		{"logits", "print a model's logits for a token sequence as JSON", runLogits},
		{"generate", "generate text from a prompt and report tokens/s", runGenerate},
		{"tokenize", "encode text to token ids, or decode ids to text", runTokenize},
		{"eval", "evaluate a model on LAMBADA (perplexity, accuracy, KL divergence)", runEval},
		{"bench", "benchmark prefill, generation, TTFT, load time and memory", runBench},
		{"report", "render stored results as Markdown, CSV or JSON tables and plots", runReport},
		{"compare", "compare two sets of results with significance tests", runCompare},
		{"recommend", "name the fastest precision per chip within an accuracy bound", runRecommend},
		{"devices", "list attached devices with their SoC and HTP architecture", runDevices},
		{"deploy", "push the agent, libraries and models to devices", runDeploy},
		{"emulate", "serve an emulated adb device on a loopback port", runEmulate},
		{"doctor", "check a host or device for the QNN SDK and its ABI", runDoctor},
		{"convert", "convert a checkpoint into per-chip QNN context binaries", runConvert},
		{"run", "run a plan: convert, deploy, bench, eval, report", runPlan},
		{"version", "print the harness version", runVersion},
	}
}

// harnessVersion is recorded with every result; bump it when measurement changes.
const harnessVersion = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(dispatch(ctx, e, os.Args[1:]))
}

// dispatch runs the subcommand named by args[0] and returns the exit code.
func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			return dispatch(ctx, e, []string{args[1], "--help"})
		}
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, pflag.ErrHelp):
			return 0
		case errors.Is(err, errRegression):
			fmt.Fprintf(e.stderr, "rwkvbench %s: %v\n", c.name, err)
			return 3
		default:
			fmt.Fprintf(e.stderr, "rwkvbench %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "rwkvbench: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "rwkvbench %s — RWKV on the host CPU and Qualcomm Hexagon NPUs: convert, deploy, bench, eval, report.\n\n", harnessVersion)
	fmt.Fprintln(w, "Usage: rwkvbench <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'rwkvbench <command> --help' for a command's flags.")
}

// newFlags returns a flag set whose usage line names the command and describes its
// positional arguments.
func newFlags(e *env, name, args, description string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: rwkvbench %s [flags]%s\n\n", name, strings.TrimRight(" "+args, " "))
		fmt.Fprintln(e.stderr, description)
		fmt.Fprintln(e.stderr)
		fmt.Fprintln(e.stderr, "Flags:")
		fmt.Fprint(e.stderr, fs.FlagUsages())
	}
	return fs
}

// errRegression marks a failure that is a finding (a significant regression), not
// a broken invocation: it exits 3 rather than 1 so CI can tell the two apart.
var errRegression = errors.New("significant regression")

func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "", "Print the harness version.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, harnessVersion)
	return nil
}

// isTerminal reports whether w is a character device (a terminal), where progress
// lines and bars belong; pipes and files get plain output only.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
