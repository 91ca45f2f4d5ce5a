package plan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/bench/store"
	"github.com/rwkvbench/rwkvbench/convert"
	"github.com/rwkvbench/rwkvbench/hexagon"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/model/synthetic"
	"github.com/rwkvbench/rwkvbench/reports"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/adb"
	"github.com/rwkvbench/rwkvbench/runner/adbemu"
	"github.com/rwkvbench/rwkvbench/runner/agentproto"
	"github.com/rwkvbench/rwkvbench/runner/deploy"
	"github.com/rwkvbench/rwkvbench/runner/fleet"
	"github.com/rwkvbench/rwkvbench/runner/sshdev"
)

// Options tune how a plan runs (not what it measures).
type Options struct {
	// Force starts a new run instead of continuing the plan's latest one.
	Force bool
	// ModuleDir is the rwkvbench source tree the agent is built from for each
	// device's platform.
	ModuleDir string
	// HarnessVersion is recorded with the run.
	HarnessVersion string
	// ADB is the adb binary ("adb" on PATH when empty).
	ADB string
	// Log receives progress lines; Live, when set, replaces them with one live line
	// per device.
	Log  io.Writer
	Live Live
	// EmulatorADBPort is the port of the private adb server the plan starts for
	// emulated devices; 0 picks a free one.
	EmulatorADBPort int
	// Retries and Backoff pass to the fleet (see fleet.Options).
	Retries int
	Backoff time.Duration
	// emulated receives the emulated devices once they serve (for tests that drop
	// one mid-run).
	emulated func([]*adbemu.Device)
}

// Live shows one progress line per device.
type Live interface {
	// Device adds a device's line with its number of cells.
	Device(serial string, cells int)
	// Cell says a device started a cell; done says one finished or failed.
	Cell(serial, cell string)
	Done(serial string)
	// Wait ends the display.
	Wait()
}

// Result is what a run produced.
type Result struct {
	RunID         string
	Summary       fleet.Summary
	Skipped       int // cells already recorded before this run
	ReportPath    string
	RecommendPath string
	Plots         []string
	// Report is the Markdown report and recommendation, as written to the files.
	Report string
}

// device is one place of the plan, connected and described.
type device struct {
	// name is the device's name in cells: its serial, or for an emulated device a
	// name that stays the same across runs (its loopback port does not).
	name     string
	spec     Device
	dev      runner.Device
	info     runner.Info
	soc      string // the SoC column; "(emulated)" marks a device that runs on this host
	agent    runner.Cmd
	reconn   func(ctx context.Context) error
	platform deploy.Platform
}

// Run executes the plan: it connects every device (starting emulated ones), deploys
// the agent, models and data, runs every cell not yet recorded, and writes the
// report. A cell that fails is recorded as failed; only a failure of the store or of
// the plan itself returns an error.
func Run(ctx context.Context, p *Plan, opts Options) (*Result, error) {
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	if err := os.MkdirAll(filepath.Dir(p.Path(p.Store)), 0o755); err != nil {
		return nil, err
	}
	st, err := store.Open(p.Path(p.Store))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	runID, err := pickRun(ctx, st, p, opts)
	if err != nil {
		return nil, err
	}
	logf("plan %s: run %s, store %s", p.Name, runID, p.Path(p.Store))

	hashes := map[string]string{}
	for _, m := range p.Models {
		sum, err := runner.ModelSHA256(p.Path(m.Path))
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		hashes[m.Name] = sum
	}

	adbc := adb.Client{Path: opts.ADB}
	devices, cleanup, err := connect(ctx, p, &adbc, opts, logf)
	defer cleanup()
	if err != nil {
		return nil, err
	}

	done, err := recorded(ctx, st, runID)
	if err != nil {
		return nil, err
	}
	res := &Result{RunID: runID}
	var workers []fleet.Worker
	for _, d := range devices {
		w, skipped, err := prepare(ctx, p, opts, d, hashes, done, runID, logf)
		if err != nil {
			// A device that cannot be prepared fails its cells; the others go on.
			logf("%s: %v", d.name, err)
			if ferr := failAll(ctx, st, runID, p, d, hashes, done, err); ferr != nil {
				return nil, ferr
			}
			continue
		}
		res.Skipped += skipped
		if len(w.Jobs) > 0 {
			workers = append(workers, w)
		}
	}

	sink := &liveSink{StoreSink: fleet.StoreSink{Store: st, RunID: runID}, live: opts.Live}
	if opts.Live != nil {
		for _, w := range workers {
			name := w.Jobs[0].Cell.Device
			n := 0
			for _, j := range w.Jobs {
				if j.Bench != nil {
					n += len(j.Bench.Tests)
				} else {
					n++
				}
			}
			opts.Live.Device(name, n)
			opts.Live.Cell(name, firstCell(w.Jobs))
		}
		sink.jobs = map[string][]string{}
		for _, w := range workers {
			sink.jobs[w.Jobs[0].Cell.Device] = cellNames(w.Jobs)
		}
	}
	fopts := fleet.Options{Retries: opts.Retries, Backoff: opts.Backoff}
	if opts.Live == nil {
		fopts.Log = opts.Log
	}
	res.Summary, err = runBatches(ctx, workers, sink, fopts, p.Parallel)
	if opts.Live != nil {
		opts.Live.Wait()
	}
	if err != nil {
		return res, err
	}
	if err := writeReport(ctx, st, p, runID, res); err != nil {
		return res, err
	}
	return res, nil
}

// runBatches runs the workers at most parallel at a time (all at once for 0).
func runBatches(ctx context.Context, workers []fleet.Worker, sink fleet.Sink, opts fleet.Options, parallel int) (fleet.Summary, error) {
	if parallel <= 0 || parallel >= len(workers) {
		return fleet.Run(ctx, workers, sink, opts)
	}
	total := fleet.Summary{Failures: map[string]string{}}
	for start := 0; start < len(workers); start += parallel {
		sum, err := fleet.Run(ctx, workers[start:min(start+parallel, len(workers))], sink, opts)
		total.CellsDone += sum.CellsDone
		total.CellsFailed += sum.CellsFailed
		total.Samples += sum.Samples
		total.Retries += sum.Retries
		for k, v := range sum.Failures {
			total.Failures[k] = v
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pickRun continues the plan's latest run, or starts one.
func pickRun(ctx context.Context, st *store.Store, p *Plan, opts Options) (string, error) {
	prefix := "plan-" + p.Name + "-"
	if !opts.Force {
		runs, err := st.Runs(ctx)
		if err != nil {
			return "", err
		}
		for i := len(runs) - 1; i >= 0; i-- {
			if strings.HasPrefix(runs[i].ID, prefix) {
				return runs[i].ID, nil
			}
		}
	}
	id := prefix + time.Now().UTC().Format("20060102T150405Z")
	meta := map[string]string{
		"plan":        p.Name,
		"precisions":  strings.Join(p.Precisions, ","),
		"tests":       strings.Join(p.Bench.Tests, ","),
		"repetitions": strconv.Itoa(p.Bench.Reps),
		"warmup":      strconv.Itoa(p.Bench.Warmup),
		"seed":        strconv.FormatUint(p.Bench.Seed, 10),
		"simulated":   "precisions other than fp32 are simulated on the CPU engine; emulated devices run on this host's CPU",
	}
	if p.Eval != nil {
		meta["lambada_data"] = p.Eval.Data
		meta["lambada_limit"] = strconv.Itoa(p.Eval.Limit)
		meta["lambada_prefix_token"] = strconv.Itoa(prefixToken(p.Eval))
	}
	err := st.BeginRun(ctx, store.Run{ID: id, HarnessVersion: opts.HarnessVersion, Command: "rwkvbench run", Started: time.Now().UTC(), Meta: meta})
	return id, err
}

func prefixToken(e *Eval) int {
	if e.PrefixToken == nil {
		return 0
	}
	return *e.PrefixToken
}

// cellKey identifies a cell across runs of the agent: the runtime string the agent
// fills in is left out, so a host that has not heard the agent yet can match it.
type cellKey struct{ model, precision, device, test string }

func recorded(ctx context.Context, st *store.Store, runID string) (map[cellKey]bool, error) {
	cells, err := st.Cells(ctx, runID)
	if err != nil {
		return nil, err
	}
	done := map[cellKey]bool{}
	for _, c := range cells {
		if c.Status == store.CellDone {
			done[cellKey{c.Model, c.Precision, c.Device, c.Test}] = true
		}
	}
	return done, nil
}

// connect opens every device of the plan; emulated devices get a private adb server
// and are served from this process until cleanup.
func connect(ctx context.Context, p *Plan, adbc *adb.Client, opts Options, logf func(string, ...any)) ([]*device, func(), error) {
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	var out []*device
	var emus []*adbemu.Device
	emuClient := adb.Client{Path: adbc.Path}
	for i, spec := range p.Devices {
		d := &device{spec: spec}
		switch spec.Kind {
		case "local":
			cache, err := os.UserCacheDir()
			if err != nil {
				cache = os.TempDir()
			}
			l, err := runner.NewLocal(filepath.Join(cache, "rwkvbench", "device-local"))
			if err != nil {
				return nil, cleanup, err
			}
			d.dev = l
		case "adb":
			c := adb.Client{Path: adbc.Path, Host: spec.ADBHost, Port: spec.ADBPort}
			d.dev = c.Device(spec.Serial, "")
			d.reconn = reconnector(c, spec.Serial)
		case "ssh":
			cfg, err := sshConfig(spec)
			if err != nil {
				return nil, cleanup, err
			}
			dev, err := sshdev.Dial(ctx, cfg)
			if err != nil {
				return nil, cleanup, fmt.Errorf("device %s: %w", spec.Serial, err)
			}
			d.dev = dev
		case "emulated":
			if emuClient.Port == 0 {
				port, stop, err := startADBServer(ctx, adbc.Path, opts.EmulatorADBPort)
				if err != nil {
					return nil, cleanup, err
				}
				cleanups = append(cleanups, stop)
				emuClient.Port = port
			}
			root, err := os.MkdirTemp("", "rwkvbench-emulated-")
			if err != nil {
				return nil, cleanup, err
			}
			cleanups = append(cleanups, func() { os.RemoveAll(root) })
			emu, err := adbemu.New(adbemu.Config{Addr: "127.0.0.1:0", SoC: spec.SoC, Root: root})
			if err != nil {
				return nil, cleanup, fmt.Errorf("emulated %s: %w", spec.SoC, err)
			}
			sctx, cancel := context.WithCancel(context.Background())
			served := make(chan struct{})
			go func() { _ = emu.Serve(sctx); close(served) }()
			cleanups = append(cleanups, func() { cancel(); emu.Close(); <-served })
			if err := waitConnected(ctx, emuClient, emu.Addr()); err != nil {
				return nil, cleanup, fmt.Errorf("emulated %s at %s: %w", spec.SoC, emu.Addr(), err)
			}
			emus = append(emus, emu)
			d.dev = emuClient.Device(emu.Addr(), "")
			d.reconn = reconnector(emuClient, emu.Addr())
		}
		cleanups = append(cleanups, func() { d.dev.Close() })
		info, err := d.dev.Describe(ctx)
		if err != nil {
			return nil, cleanup, fmt.Errorf("describe %s: %w", d.dev.Serial(), err)
		}
		d.info = info
		d.name = d.dev.Serial()
		if spec.Kind == "emulated" {
			d.name = fmt.Sprintf("emulated-%d-%s", i+1, spec.SoC)
		}
		d.soc = info.SoC
		if d.soc == "" {
			d.soc = info.Model
		}
		if spec.Kind == "local" {
			d.soc = bench.HostCPUName()
		}
		if spec.Kind == "emulated" {
			// The emulated phone answers as its SoC but computes on this host: the
			// column must never read as a measurement of the phone.
			d.soc = info.SoC + " (emulated on host)"
		}
		logf("%s (%s): %s, %s, %s", d.name, info.Serial, d.soc, info.ABI, info.OS)
		out = append(out, d)
	}
	if opts.emulated != nil && len(emus) > 0 {
		opts.emulated(emus)
	}
	return out, cleanup, nil
}

func sshConfig(d Device) (sshdev.Config, error) {
	userHost, port := d.Serial, 0
	if h, p, ok := strings.Cut(userHost, ":"); ok && !strings.Contains(p, "@") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return sshdev.Config{}, fmt.Errorf("device %s: port %q", d.Serial, p)
		}
		userHost, port = h, n
	}
	user, host, ok := strings.Cut(userHost, "@")
	if !ok {
		return sshdev.Config{}, fmt.Errorf("device %s: want user@host[:port]", d.Serial)
	}
	cfg := sshdev.Config{User: user, Host: host, Port: port, KnownHosts: d.KnownHosts}
	if d.Identity != "" {
		cfg.KeyFiles = []string{d.Identity}
	}
	return cfg, nil
}

// startADBServer starts a private adb server on a free loopback port, so emulated
// devices never touch the user's server.
func startADBServer(ctx context.Context, bin string, port int) (int, func(), error) {
	if bin == "" {
		bin = "adb"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return 0, func() {}, fmt.Errorf("emulated devices need the adb client (Debian package adb): %w", err)
	}
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return 0, func() {}, err
		}
	}
	if out, err := exec.CommandContext(ctx, bin, "-P", strconv.Itoa(port), "start-server").CombinedOutput(); err != nil {
		return 0, func() {}, fmt.Errorf("adb start-server on port %d: %v: %s", port, err, out)
	}
	stop := func() { _ = exec.Command(bin, "-P", strconv.Itoa(port), "kill-server").Run() }
	return port, stop, nil
}

func waitConnected(ctx context.Context, c adb.Client, addr string) error {
	var err error
	for range 30 {
		if err = c.Connect(ctx, addr); err == nil {
			for range 50 {
				if st, _ := c.State(ctx, addr); st == "device" {
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			err = errors.New("never reached state device")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func reconnector(c adb.Client, serial string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if strings.Contains(serial, ":") {
			_ = c.Connect(ctx, serial)
		}
		st, err := c.State(ctx, serial)
		if err != nil {
			return err
		}
		if st != "device" {
			return fmt.Errorf("%s is %s", serial, st)
		}
		return nil
	}
}

// prepare deploys to a device and returns its worker with the jobs still to run.
func prepare(ctx context.Context, p *Plan, opts Options, d *device, hashes map[string]string, done map[cellKey]bool, runID string, logf func(string, ...any)) (fleet.Worker, int, error) {
	w := fleet.Worker{Device: d.dev, Reconnect: d.reconn}
	plat, err := deploy.AgentPlatform(d.info, "")
	if err != nil {
		return w, 0, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	agentBin, err := deploy.BuildAgent(ctx, opts.ModuleDir, plat, filepath.Join(cache, "rwkvbench", "agents", plat.GOOS+"-"+plat.GOARCH))
	if err != nil {
		return w, 0, err
	}
	files := []deploy.File{{Local: agentBin, Name: deploy.AgentName(plat)}}
	modelPaths := map[string]string{}
	for _, m := range p.Models {
		if strings.HasPrefix(m.Path, synthetic.PathPrefix) {
			modelPaths[m.Name] = m.Path // built on the device; nothing to push
			continue
		}
		name := "models/" + m.Name + filepath.Ext(m.Path)
		files = append(files, deploy.File{Local: p.Path(m.Path), Name: name})
		modelPaths[m.Name] = name
	}
	dataName := ""
	if p.Eval != nil {
		dataName = "data/" + filepath.Base(p.Eval.Data)
		files = append(files, deploy.File{Local: p.Path(p.Eval.Data), Name: dataName})
	}
	rep, err := deploy.Deploy(ctx, d.dev, files, deploy.Options{})
	if err != nil {
		return w, 0, err
	}
	logf("%s: deployed %d files (%d bytes pushed, %d bytes unchanged)", d.name, len(rep.Pushed), rep.BytesPushed, rep.BytesSkipped)
	w.Agent = runner.Cmd{Args: []string{path.Join(d.dev.Workdir(), deploy.AgentName(plat))}}

	if d.spec.Backend == "qnn-htp" {
		return prepareQNN(ctx, p, opts, d, w, plat, files, hashes, done, runID, logf)
	}
	skipped := 0
	for _, m := range p.Models {
		// fp32 first: the other precisions' KL divergence is measured against it.
		precs := slices.Clone(p.Precisions)
		slices.SortStableFunc(precs, func(a, b string) int { return boolInt(a != precision.FP32) - boolInt(b != precision.FP32) })
		for _, prec := range precs {
			cell := bench.Cell{Model: m.Name, ModelHash: hashes[m.Name], Precision: prec, Backend: "cpu", Device: d.name, SoC: d.soc}
			var tests []string
			for _, t := range p.Bench.Tests {
				if done[cellKey{m.Name, prec, cell.Device, t}] {
					skipped++
					continue
				}
				tests = append(tests, t)
			}
			if len(tests) > 0 {
				w.Jobs = append(w.Jobs, agentproto.Job{
					ID: fmt.Sprintf("%s/%s/%s/bench", m.Name, prec, cell.Device), Kind: "bench", ModelPath: modelPaths[m.Name],
					Cell: cell, RunID: runID, HarnessVersion: opts.HarnessVersion,
					Bench: &agentproto.BenchSpec{Tests: tests, Reps: p.Bench.Reps, Warmup: p.Bench.Warmup, Prompt: p.Bench.Prompt, Seed: p.Bench.Seed},
				})
			}
			if p.Eval == nil {
				continue
			}
			if done[cellKey{m.Name, prec, cell.Device, bench.TestLAMBADA}] {
				skipped++
				continue
			}
			w.Jobs = append(w.Jobs, agentproto.Job{
				ID: fmt.Sprintf("%s/%s/%s/lambada", m.Name, prec, cell.Device), Kind: "eval", ModelPath: modelPaths[m.Name],
				Cell: cell, RunID: runID, HarnessVersion: opts.HarnessVersion,
				Eval: &agentproto.EvalSpec{Task: p.Eval.Task, DatasetPath: dataName, Limit: p.Eval.Limit, PrefixToken: prefixToken(p.Eval),
					Reference: fmt.Sprintf("references/%s-%s.ref", m.Name, hashes[m.Name][:16]), SaveReference: prec == precision.FP32},
			})
		}
	}
	return w, skipped, nil
}

// prepareQNN converts every model × precision for the device's chip (the artifact
// cache makes a second plan run reuse the binaries), deploys the context binaries
// and the SDK's libraries for its HTP arch, and returns jobs that run them on the
// HTP. fp32 has no NPU form and is left out.
func prepareQNN(ctx context.Context, p *Plan, opts Options, d *device, w fleet.Worker, plat deploy.Platform, files []deploy.File,
	hashes map[string]string, done map[cellKey]bool, runID string, logf func(string, ...any)) (fleet.Worker, int, error) {
	sdk, err := convert.FindSDK(os.Getenv("QNN_SDK_ROOT"))
	if err != nil {
		return w, 0, err
	}
	chip, ok := hexagon.Lookup(d.info.SoC)
	if !ok {
		return w, 0, fmt.Errorf("SoC %q is not in the chip catalog; cannot convert for it", d.info.SoC)
	}
	libs, err := deploy.QNNFiles(sdk.Root, "", d.info, plat)
	if err != nil {
		return w, 0, err
	}
	files = append(files, libs...)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	type job struct {
		model, prec, ctxFile string
	}
	var jobs []job
	for _, m := range p.Models {
		mod, err := model.Load(p.Path(m.Path))
		if err != nil {
			return w, 0, err
		}
		for _, prec := range p.Precisions {
			if prec == precision.FP32 {
				continue
			}
			o := convert.Options{ModelName: m.Name, Config: mod.Config, Precision: prec, Chips: []hexagon.Chip{chip}, Chunks: 1, PrefillLen: 16, SDK: sdk}
			o.OutDir = filepath.Join(cache, "rwkvbench", "artifacts", convert.ArtifactKey(hashes[m.Name], o, chip.SoC, sdk.Version.String()))
			manifestPath := filepath.Join(o.OutDir, chip.SoC, "manifest.json")
			if _, err := convert.ReadManifest(manifestPath, true); err != nil {
				logf("%s: converting %s %s for %s", d.name, m.Name, prec, chip.SoC)
				var enc *precision.Encodings
				if prec != precision.FP16 {
					calib, err := precision.CalibrationTokens(mod.Config.Vocab)
					if err != nil {
						mod.Close()
						return w, 0, err
					}
					_, _, e, err := precision.Prepare(ctx, mod, prec, calib)
					if err != nil {
						mod.Close()
						return w, 0, err
					}
					enc = &e
				}
				if _, err := convert.Run(ctx, mod, hashes[m.Name], o, enc, convert.Encodings100); err != nil {
					mod.Close()
					return w, 0, err
				}
			}
			bin := convert.ContextBinaryName(m.Name, 1, 1) + ".bin"
			name := fmt.Sprintf("artifacts/%s/%s/%s", m.Name, prec, bin)
			files = append(files, deploy.File{Local: filepath.Join(o.OutDir, chip.SoC, bin), Name: name})
			jobs = append(jobs, job{m.Name, prec, name})
		}
		mod.Close()
	}
	rep, err := deploy.Deploy(ctx, d.dev, files, deploy.Options{})
	if err != nil {
		return w, 0, err
	}
	logf("%s: deployed %d files (%d bytes pushed, %d bytes unchanged)", d.name, len(rep.Pushed), rep.BytesPushed, rep.BytesSkipped)
	w.Agent = runner.Cmd{Args: []string{path.Join(d.dev.Workdir(), deploy.AgentName(plat))}, Env: deploy.RunEnv(d.dev.Workdir(), true)}
	skipped := 0
	for _, j := range jobs {
		cell := bench.Cell{Model: j.model, ModelHash: hashes[j.model], Precision: j.prec, Backend: "qnn-htp", Device: d.name, SoC: d.soc, HTPArch: chip.DSPArch(), PerfProfile: d.spec.Perf}
		var tests []string
		for _, t := range p.Bench.Tests {
			if done[cellKey{j.model, j.prec, d.name, t}] {
				skipped++
				continue
			}
			tests = append(tests, t)
		}
		if len(tests) > 0 {
			w.Jobs = append(w.Jobs, agentproto.Job{ID: fmt.Sprintf("%s/%s/%s/bench", j.model, j.prec, d.name), Kind: "bench", ModelPath: j.ctxFile,
				Cell: cell, RunID: runID, HarnessVersion: opts.HarnessVersion,
				Bench: &agentproto.BenchSpec{Tests: tests, Reps: p.Bench.Reps, Warmup: p.Bench.Warmup, Prompt: p.Bench.Prompt, Seed: p.Bench.Seed}})
		}
		if p.Eval != nil && !done[cellKey{j.model, j.prec, d.name, bench.TestLAMBADA}] {
			w.Jobs = append(w.Jobs, agentproto.Job{ID: fmt.Sprintf("%s/%s/%s/lambada", j.model, j.prec, d.name), Kind: "eval", ModelPath: j.ctxFile,
				Cell: cell, RunID: runID, HarnessVersion: opts.HarnessVersion,
				Eval: &agentproto.EvalSpec{Task: p.Eval.Task, DatasetPath: "data/" + filepath.Base(p.Eval.Data), Limit: p.Eval.Limit, PrefixToken: prefixToken(p.Eval)}})
		} else if p.Eval != nil {
			skipped++
		}
	}
	return w, skipped, nil
}

// failAll marks every cell of a device that could not be prepared as failed.
func failAll(ctx context.Context, st *store.Store, runID string, p *Plan, d *device, hashes map[string]string, done map[cellKey]bool, cause error) error {
	for _, m := range p.Models {
		for _, prec := range p.Precisions {
			if d.spec.Backend == "qnn-htp" && prec == precision.FP32 {
				continue // fp32 has no NPU form: no cell, rather than a failed one
			}
			tests := slices.Clone(p.Bench.Tests)
			if p.Eval != nil {
				tests = append(tests, bench.TestLAMBADA)
			}
			for _, t := range tests {
				if done[cellKey{m.Name, prec, d.name, t}] {
					continue
				}
				c := bench.Cell{Model: m.Name, ModelHash: hashes[m.Name], Precision: prec, Backend: d.spec.Backend, Device: d.name, SoC: d.soc, Test: t}
				if err := st.MarkCell(ctx, runID, c, store.CellFailed, cause.Error()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// liveSink records cells and moves each device's live line along.
type liveSink struct {
	fleet.StoreSink
	live Live
	mu   sync.Mutex
	jobs map[string][]string // per device, the cells still to come, in order
}

func (s *liveSink) advance(device string) {
	if s.live == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.Done(device)
	if rest := s.jobs[device]; len(rest) > 0 {
		s.jobs[device] = rest[1:]
		if len(rest) > 1 {
			s.live.Cell(device, rest[1])
		}
	}
}

// CellDone implements fleet.Sink.
func (s *liveSink) CellDone(ctx context.Context, c bench.Cell, samples []bench.Sample) error {
	if err := s.StoreSink.CellDone(ctx, c, samples); err != nil {
		return err
	}
	s.advance(c.Device)
	return nil
}

// CellFailed implements fleet.Sink.
func (s *liveSink) CellFailed(ctx context.Context, c bench.Cell, reason string) error {
	if err := s.StoreSink.CellFailed(ctx, c, reason); err != nil {
		return err
	}
	s.advance(c.Device)
	return nil
}

func cellNames(jobs []agentproto.Job) []string {
	var out []string
	for _, j := range jobs {
		if j.Bench != nil {
			for _, t := range j.Bench.Tests {
				out = append(out, j.Cell.Model+" "+j.Cell.Precision+" "+t)
			}
		} else {
			out = append(out, j.Cell.Model+" "+j.Cell.Precision+" "+bench.TestLAMBADA)
		}
	}
	return out
}

func firstCell(jobs []agentproto.Job) string {
	if names := cellNames(jobs); len(names) > 0 {
		return names[0]
	}
	return ""
}

// writeReport renders the run's samples: report.md with the table, recommend.md,
// and the plots.
func writeReport(ctx context.Context, st *store.Store, p *Plan, runID string, res *Result) error {
	samples, err := st.Samples(ctx, store.Filter{Runs: []string{runID}})
	if err != nil {
		return err
	}
	cells, err := st.Cells(ctx, runID)
	if err != nil {
		return err
	}
	var failed []store.CellState
	for _, c := range cells {
		if c.Status == store.CellFailed {
			failed = append(failed, c)
		}
	}
	dir := p.Path(p.ReportDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nRun %s: %d models × %d precisions × %d devices; tests %s, %d runs each (+%d warm-up)",
		p.Name, runID, len(p.Models), len(p.Precisions), len(p.Devices), strings.Join(p.Bench.Tests, ", "), p.Bench.Reps, p.Bench.Warmup)
	if p.Eval != nil {
		fmt.Fprintf(&b, "; accuracy by the LAMBADA protocol on %s, %s documents, prefix token %d", filepath.Base(p.Eval.Data), limitText(p.Eval.Limit), prefixToken(p.Eval))
	}
	b.WriteString(".\n\n")
	if len(samples) == 0 {
		b.WriteString("No cell was measured.\n")
	} else {
		tbl, err := reports.Build(samples, failed, reports.Options{Rows: p.Report.Rows, Cols: p.Report.Cols})
		if err != nil {
			return err
		}
		if err := tbl.Markdown(&b); err != nil {
			return err
		}
	}
	res.ReportPath = filepath.Join(dir, "report.md")
	if err := os.WriteFile(res.ReportPath, []byte(b.String()), 0o644); err != nil {
		return err
	}
	report := b.String()

	ropt := reports.RecommendOptions{Reference: p.Report.Reference, MaxAccDrop: 1, MaxKLD: 0.05}
	if p.Report.MaxAccDrop != nil {
		ropt.MaxAccDrop = *p.Report.MaxAccDrop
	}
	if p.Report.MaxKLD != nil {
		ropt.MaxKLD = *p.Report.MaxKLD
	}
	var rb strings.Builder
	rb.WriteString("\n## Recommendation\n\n")
	if recs, err := reports.Recommend(samples, ropt); err != nil {
		fmt.Fprintf(&rb, "No recommendation: %v\n", err)
	} else if err := reports.WriteRecommendationsMarkdown(&rb, recs, ropt); err != nil {
		return err
	}
	res.RecommendPath = filepath.Join(dir, "recommend.md")
	if err := os.WriteFile(res.RecommendPath, []byte(rb.String()), 0o644); err != nil {
		return err
	}
	if len(samples) > 0 {
		written, _, err := reports.WritePlots(dir, samples)
		if err != nil {
			return err
		}
		res.Plots = written
	}
	res.Report = report + rb.String()
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func limitText(n int) string {
	if n == 0 {
		return "all"
	}
	return strconv.Itoa(n)
}
