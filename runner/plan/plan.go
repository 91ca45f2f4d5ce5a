// Package plan runs a whole study from one file: models × precisions × devices ×
// tests, each cell measured on its device through the agent, stored, and rendered
// as a report at the end.
//
// Opinions: the store is the plan's memory. A run's identity comes from the plan's
// name, so running the same plan again continues it — cells already recorded are
// skipped, failed cells are retried — and --force starts a fresh run instead. A
// cell that cannot be measured becomes NA with its reason; it never aborts the
// plan. Every device, the host included, runs the same agent, so a cell measured on
// the host and one measured on a phone come from the same code.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
)

// Plan is the content of a plan file.
type Plan struct {
	// Name identifies the plan's run in the store; a re-run with the same name
	// continues it.
	Name string `toml:"name" yaml:"name"`
	// Store is the results file; relative paths are from the plan file's folder.
	Store string `toml:"store" yaml:"store"`
	// ReportDir receives report.md, recommend.md and the plots.
	ReportDir string `toml:"report_dir" yaml:"report_dir"`

	Models     []Model  `toml:"model" yaml:"model"`
	Precisions []string `toml:"precisions" yaml:"precisions"`
	Devices    []Device `toml:"device" yaml:"device"`
	// Parallel bounds how many devices measure at once (0: all). Devices that share
	// one CPU, as the host and emulated phones do, distort each other's timings when
	// they run together; 1 runs them one after another.
	Parallel int    `toml:"parallel" yaml:"parallel"`
	Bench    Bench  `toml:"bench" yaml:"bench"`
	Eval     *Eval  `toml:"eval" yaml:"eval"`
	Report   Report `toml:"report" yaml:"report"`

	// dir is the folder relative paths are resolved against.
	dir string
}

// Model is one checkpoint.
type Model struct {
	Name string `toml:"name" yaml:"name"`
	Path string `toml:"path" yaml:"path"`
}

// Device is one place to run: the host ("local"), a phone or board over adb, a
// Linux board over SSH, or an emulated adb device the plan starts itself.
type Device struct {
	// Kind is local, adb, ssh or emulated.
	Kind string `toml:"kind" yaml:"kind"`
	// Serial selects an adb device (adb -s); for ssh it is user@host[:port].
	Serial string `toml:"serial" yaml:"serial"`
	// ADBHost and ADBPort reach a remote adb server (adb -H/-P).
	ADBHost string `toml:"adb_host" yaml:"adb_host"`
	ADBPort int    `toml:"adb_port" yaml:"adb_port"`
	// SoC is the profile of an emulated device (SM8650, ...).
	SoC string `toml:"soc" yaml:"soc"`
	// Identity is the SSH private key file; KnownHosts the known_hosts file.
	Identity   string `toml:"identity" yaml:"identity"`
	KnownHosts string `toml:"known_hosts" yaml:"known_hosts"`
	// Backend is cpu (the reference engine, default) or qnn-htp: each model ×
	// precision is then converted for the device's chip (from the artifact cache
	// when it was converted before) with the SDK at $QNN_SDK_ROOT, and its context
	// binaries and the SDK libraries are deployed with it.
	Backend string `toml:"backend" yaml:"backend"`
	// Perf is the HTP perf profile (burst, sustained_high_performance, balanced).
	Perf string `toml:"perf" yaml:"perf"`
}

// Bench holds the benchmark settings every device runs.
type Bench struct {
	// Tests are llama-bench test names: ppN, tgN, ppN+tgM, ttft, load-cold,
	// load-warm. Default: pp512, tg128, ttft, load-warm.
	Tests []string `toml:"tests" yaml:"tests"`
	// Prompt is the ttft prompt length (default 512).
	Prompt  int    `toml:"prompt" yaml:"prompt"`
	Reps    int    `toml:"reps" yaml:"reps"`     // measured runs per cell (default 5)
	Warmup  int    `toml:"warmup" yaml:"warmup"` // warm-up runs per cell (default 1)
	Seed    uint64 `toml:"seed" yaml:"seed"`     // seed of the token inputs (default 1)
	Threads int    `toml:"threads" yaml:"threads"`
}

// Eval is the accuracy task every model × precision × device runs.
type Eval struct {
	Task string `toml:"task" yaml:"task"` // lambada
	// Data is the LAMBADA file (jsonl or |-separated); relative to the plan file.
	Data        string `toml:"data" yaml:"data"`
	Limit       int    `toml:"limit" yaml:"limit"`
	PrefixToken *int   `toml:"prefix_token" yaml:"prefix_token"` // default 0; -1 for none
}

// Report shapes the final report.
type Report struct {
	Rows []string `toml:"rows" yaml:"rows"` // default model, precision
	Cols []string `toml:"cols" yaml:"cols"` // default soc
	// MaxAccDrop and MaxKLD bound what recommend accepts (defaults 1 point, 0.05).
	MaxAccDrop *float64 `toml:"max_acc_drop" yaml:"max_acc_drop"`
	MaxKLD     *float64 `toml:"max_kld" yaml:"max_kld"`
	// Reference is the precision the bounds are measured against (default fp32).
	Reference string `toml:"reference" yaml:"reference"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Read parses and checks a plan file: YAML for .yaml and .yml, TOML otherwise.
func Read(path string) (*Plan, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	parse := Parse
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		parse = ParseYAML
	}
	p, err := parse(raw, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	return p, nil
}

// Parse parses a plan whose relative paths are resolved against dir.
func Parse(raw []byte, dir string) (*Plan, error) {
	var p Plan
	md, err := toml.NewDecoder(bytes.NewReader(raw)).Decode(&p)
	if err != nil {
		return nil, err
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown keys: %s", strings.Join(keys, ", "))
	}
	p.dir = dir
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// ParseYAML is Parse for a plan written in YAML, with the same keys.
func ParseYAML(raw []byte, dir string) (*Plan, error) {
	var p Plan
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	p.dir = dir
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Path resolves a path of the plan against its folder.
func (p *Plan) Path(rel string) string {
	if rel == "" || filepath.IsAbs(rel) || strings.HasPrefix(rel, synthetic.PathPrefix) {
		return rel
	}
	return filepath.Join(p.dir, rel)
}

func (p *Plan) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !validName.MatchString(p.Name) {
		bad("name %q: want letters, digits, '.', '_' or '-'", p.Name)
	}
	if p.Store == "" {
		p.Store = "results.db"
	}
	if p.ReportDir == "" {
		p.ReportDir = "report"
	}
	if len(p.Models) == 0 {
		bad("no [[model]]")
	}
	seen := map[string]bool{}
	for i, m := range p.Models {
		if !validName.MatchString(m.Name) {
			bad("model %d: name %q: want letters, digits, '.', '_' or '-'", i+1, m.Name)
		}
		if seen[m.Name] {
			bad("model %s listed twice", m.Name)
		}
		seen[m.Name] = true
		if name, ok := strings.CutPrefix(m.Path, synthetic.PathPrefix); ok {
			if _, err := synthetic.Lookup(name); err != nil {
				bad("model %s: %v", m.Name, err)
			}
		} else if m.Path == "" {
			bad("model %s: no path", m.Name)
		} else if _, err := os.Stat(p.Path(m.Path)); err != nil {
			bad("model %s: %v", m.Name, err)
		}
	}
	if len(p.Precisions) == 0 {
		p.Precisions = precision.Names()
	}
	for _, name := range p.Precisions {
		if !slices.Contains(precision.Names(), name) {
			bad("precision %q: want one of %s", name, strings.Join(precision.Names(), ", "))
		}
	}
	if len(p.Devices) == 0 {
		p.Devices = []Device{{Kind: "local"}}
	}
	if p.Parallel < 0 {
		bad("parallel %d: want 0 (all devices at once) or more", p.Parallel)
	}
	for i, d := range p.Devices {
		switch d.Backend {
		case "", "cpu":
			p.Devices[i].Backend = "cpu"
		case "qnn-htp":
			if d.Kind == "emulated" {
				bad("device %d: an emulated phone has no NPU; backend qnn-htp needs a real device", i+1)
			}
		default:
			bad("device %d: backend %q: want cpu or qnn-htp", i+1, d.Backend)
		}
		switch d.Kind {
		case "local":
		case "adb":
			if d.Serial == "" {
				bad("device %d (adb): no serial", i+1)
			}
		case "ssh":
			if d.Serial == "" {
				bad("device %d (ssh): no serial (user@host[:port])", i+1)
			}
		case "emulated":
			if d.SoC == "" {
				bad("device %d (emulated): no soc", i+1)
			}
		default:
			bad("device %d: kind %q: want local, adb, ssh or emulated", i+1, d.Kind)
		}
	}
	b := &p.Bench
	if len(b.Tests) == 0 {
		b.Tests = []string{"pp512", "tg128", "ttft", "load-warm"}
	}
	if b.Prompt == 0 {
		b.Prompt = 512
	}
	if b.Reps == 0 {
		b.Reps = 5
	}
	if b.Warmup == 0 {
		b.Warmup = 1
	}
	if b.Seed == 0 {
		b.Seed = 1
	}
	if b.Reps < 1 || b.Warmup < 0 {
		bad("bench: reps %d and warmup %d: want reps ≥ 1 and warmup ≥ 0", b.Reps, b.Warmup)
	}
	for _, t := range b.Tests {
		if _, err := bench.ParseTest(t, b.Prompt); err != nil {
			bad("bench: %v", err)
		}
	}
	if e := p.Eval; e != nil {
		if e.Task == "" {
			e.Task = "lambada"
		}
		if e.Task != "lambada" {
			bad("eval: task %q: only lambada is supported", e.Task)
		}
		if e.Data == "" {
			bad("eval: no data file (the LAMBADA jsonl)")
		}
		if e.Limit < 0 {
			bad("eval: limit %d is negative", e.Limit)
		}
	}
	r := &p.Report
	if len(r.Rows) == 0 {
		r.Rows = []string{"model", "precision"}
	}
	if len(r.Cols) == 0 {
		r.Cols = []string{"soc"}
	}
	if r.Reference == "" {
		r.Reference = precision.FP32
	}
	return errors.Join(errs...)
}
