package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/deploy"
)

// largePush is the size from which a push gets a progress bar.
const largePush = 8 << 20

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "deploy", "", "Push the agent (built for each device's OS and architecture), models and, with --qnn, the QNN SDK\n"+
		"libraries for each device's HTP arch. Content-addressed: files the device already has (by sha256,\n"+
		"recorded in <workdir>/"+deploy.ManifestName+") are not pushed again; every push lands under a\n"+
		"temporary name and is renamed. Reports bytes pushed and skipped per device.")
	var ff fleetFlags
	ff.register(fs)
	devices := fs.StringArray("device", []string{"all"}, "device serial to deploy to, or \"all\"; repeatable")
	models := fs.StringArray("model", nil, "model file to push (lands in models/<name>); repeatable")
	dryRun := fs.Bool("dry-run", false, "say what would be pushed, push nothing")
	agentPath := fs.String("agent", "", "prebuilt agent binary to push instead of building one per device platform")
	agentPlatform := fs.String("agent-platform", "", "override the agent build's GOOS/GOARCH (default: what the device's uname reports)")
	source := fs.String("source", ".", "rwkvbench source tree to build the agent from")
	qnn := fs.Bool("qnn", false, "also push the QNN SDK libraries for each device's HTP arch from $QNN_SDK_ROOT")
	opPackages := fs.String("qnn-op-packages", "", "directory holding libQnnRwkvWkvOpPackageV<arch>.so builds (pushed with --qnn)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, m := range *models {
		if st, err := os.Stat(m); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("--model %s: not a readable file: %v", m, err)
		}
	}
	sdkRoot := os.Getenv("QNN_SDK_ROOT")
	if *qnn && sdkRoot == "" {
		return fmt.Errorf("--qnn: QNN_SDK_ROOT is not set; point it at the QAIRT SDK")
	}
	all, err := ff.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll(all)
	var targets []fleetDevice
	for _, d := range all {
		if slices.Contains(*devices, "all") || slices.Contains(*devices, d.serial) {
			targets = append(targets, d)
		}
	}
	for _, want := range *devices {
		if want != "all" && !slices.ContainsFunc(all, func(d fleetDevice) bool { return d.serial == want }) {
			return fmt.Errorf("--device %s: no such device (see rwkvbench devices)", want)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("no devices to deploy to (see rwkvbench devices)")
	}

	var bars *mpb.Progress
	if isTerminal(e.stderr) && !*dryRun {
		bars = mpb.NewWithContext(ctx, mpb.WithOutput(e.stderr))
	}
	builds := &agentBuilds{source: *source, prebuilt: *agentPath}
	reports := make([]deploy.Report, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, d := range targets {
		if d.dev == nil {
			errs[i] = fmt.Errorf("%s: %s", d.serial, d.state)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			files, err := deployFiles(ctx, d.dev, builds, *agentPlatform, *models, *qnn, sdkRoot, *opPackages)
			if err != nil {
				errs[i] = err
				return
			}
			opts := deploy.Options{DryRun: *dryRun}
			if bars != nil {
				opts.Progress = progressBars(bars, d.serial)
			}
			reports[i], errs[i] = deploy.Deploy(ctx, d.dev, files, opts)
		}()
	}
	wg.Wait()
	if bars != nil {
		bars.Wait()
	}
	verb := "pushed"
	if *dryRun {
		verb = "would push"
	}
	failed := 0
	for i, r := range reports {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(e.stderr, "%s: %v\n", targets[i].serial, errs[i])
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %s %d files (%s), skipped %d unchanged (%s)\n", r.Device, verb, len(r.Pushed), humanBytes(r.BytesPushed), len(r.Skipped), humanBytes(r.BytesSkipped))
		for _, name := range r.Pushed {
			fmt.Fprintf(e.stdout, "  %s %s\n", verb, name)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d devices failed", failed, len(targets))
	}
	return nil
}

// deployFiles lists what one device gets: its agent build, the models, the QNN
// libraries for its arch.
func deployFiles(ctx context.Context, d runner.Device, builds *agentBuilds, platformOverride string, models []string, qnn bool, sdkRoot, opPackages string) ([]deploy.File, error) {
	info, err := d.Describe(ctx)
	if err != nil {
		return nil, err
	}
	p, err := deploy.AgentPlatform(info, platformOverride)
	if err != nil {
		return nil, err
	}
	agent, err := builds.get(ctx, p)
	if err != nil {
		return nil, err
	}
	files := []deploy.File{{Local: agent, Name: deploy.AgentName(p)}}
	for _, m := range models {
		files = append(files, deploy.File{Local: m, Name: "models/" + filepath.Base(m)})
	}
	if qnn {
		libs, err := deploy.QNNFiles(sdkRoot, opPackages, info, p)
		if err != nil {
			return nil, err
		}
		files = append(files, libs...)
	}
	return files, nil
}

// agentBuilds builds each platform's agent once per invocation, however many
// devices share it.
type agentBuilds struct {
	source, prebuilt string

	mu     sync.Mutex
	built  map[deploy.Platform]string
	failed map[deploy.Platform]error
}

func (b *agentBuilds) get(ctx context.Context, p deploy.Platform) (string, error) {
	if b.prebuilt != "" {
		return b.prebuilt, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if path, ok := b.built[p]; ok {
		return path, nil
	}
	if err, ok := b.failed[p]; ok {
		return "", err
	}
	if b.built == nil {
		b.built, b.failed = map[deploy.Platform]string{}, map[deploy.Platform]error{}
	}
	root, err := moduleRoot(b.source)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	path, err := deploy.BuildAgent(ctx, root, p, filepath.Join(cache, "rwkvbench", "agents"))
	if err != nil {
		b.failed[p] = err
		return "", err
	}
	b.built[p] = path
	return path, nil
}

// progressBars returns a deploy progress callback drawing one bar per large file.
func progressBars(p *mpb.Progress, serial string) func(name string, done, total int64) {
	var mu sync.Mutex
	bars := map[string]*mpb.Bar{}
	return func(name string, done, total int64) {
		if total < largePush {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		bar, ok := bars[name]
		if !ok {
			bar = p.AddBar(total, mpb.PrependDecorators(decor.Name(serial+" "+shortName(name), decor.WCSyncSpaceR)),
				mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f")))
			bars[name] = bar
		}
		bar.SetCurrent(done)
	}
}

func shortName(name string) string {
	if len(name) > 40 {
		return "…" + name[len(name)-39:]
	}
	return strings.TrimSpace(name)
}
