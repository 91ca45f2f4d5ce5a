// Package deploy puts the agent, models and QNN libraries on devices without
// pushing a byte twice.
//
// Deploys are content-addressed: the device keeps a manifest
// (<workdir>/.rwkvbench-manifest.json) of the sha256 and size of every file the
// harness put there, and a file whose local sha256 matches its manifest entry (and
// whose remote size still matches) is skipped. Every push lands under a temporary
// name and is renamed, so a device that drops mid-push keeps its old file or none,
// never half a file; the manifest is rewritten after the pushes, so a file it lists
// is one that arrived complete.
//
// The agent is cross-compiled for the platform the device's shell actually runs on
// (uname), not the platform its properties claim: an emulated phone reports an
// arm64 Android build but runs commands on this host.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/rwkvbench/rwkvbench/hexagon"
	"github.com/rwkvbench/rwkvbench/runner"
)

// ManifestName is the manifest's file name inside the device's work directory.
const ManifestName = ".rwkvbench-manifest.json"

// manifestVersion is bumped when the manifest's layout changes; a manifest of
// another version is ignored (everything is pushed again), never misread.
const manifestVersion = 1

// File is one file to put on a device.
type File struct {
	// Local is the file on this host.
	Local string
	// Name is its path relative to the device's work directory ("models/x.bin").
	Name string
}

// Entry is what the manifest records of a deployed file.
type Entry struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

type manifest struct {
	Version int              `json:"version"`
	Files   map[string]Entry `json:"files"`
}

// Options tunes a deploy.
type Options struct {
	// DryRun computes what would be pushed without pushing or rewriting the
	// manifest.
	DryRun bool
	// Progress, if set, is called as a push advances: the file's name, bytes sent
	// so far and its size.
	Progress func(name string, done, total int64)
}

// Report says what a deploy did (or, for a dry run, would do).
type Report struct {
	Device       string
	Pushed       []string
	Skipped      []string
	BytesPushed  int64
	BytesSkipped int64
}

// Deploy puts files on d, skipping those whose content the device already has.
func Deploy(ctx context.Context, d runner.Device, files []File, opts Options) (rep Report, err error) {
	rep.Device = d.Serial()
	seen := map[string]bool{}
	type local struct {
		File
		Entry
	}
	var todo []local
	for _, f := range files {
		if err := checkName(f.Name); err != nil {
			return rep, fmt.Errorf("deploy to %s: %w", d.Serial(), err)
		}
		if seen[f.Name] {
			return rep, fmt.Errorf("deploy to %s: %s listed twice", d.Serial(), f.Name)
		}
		seen[f.Name] = true
		st, err := os.Stat(f.Local)
		if err != nil {
			return rep, fmt.Errorf("deploy to %s: %w", d.Serial(), err)
		}
		sum, err := runner.FileSHA256(f.Local)
		if err != nil {
			return rep, fmt.Errorf("deploy to %s: %w", d.Serial(), err)
		}
		todo = append(todo, local{f, Entry{SHA256: sum, Size: st.Size()}})
	}

	m, err := readManifest(ctx, d)
	if err != nil {
		return rep, err
	}

	changed := false
	defer func() {
		if changed && !opts.DryRun {
			// Record what did arrive even when a later push failed, so that the
			// retry skips it. The write must survive a cancelled context.
			if werr := writeManifest(context.WithoutCancel(ctx), d, m); werr != nil && err == nil {
				err = werr
			}
		}
	}()
	for _, f := range todo {
		remote := path.Join(d.Workdir(), f.Name)
		if have, ok := m.Files[f.Name]; ok && have == f.Entry {
			st, serr := d.Stat(ctx, remote)
			if serr == nil && st.Size == f.Size {
				rep.Skipped = append(rep.Skipped, f.Name)
				rep.BytesSkipped += f.Size
				continue
			}
			if serr != nil && !errors.Is(serr, fs.ErrNotExist) {
				err = fmt.Errorf("deploy to %s: %w", d.Serial(), serr)
				return rep, err
			}
		}
		rep.Pushed = append(rep.Pushed, f.Name)
		rep.BytesPushed += f.Size
		if opts.DryRun {
			continue
		}
		var progress func(int64)
		if opts.Progress != nil {
			name, size := f.Name, f.Size
			progress = func(n int64) { opts.Progress(name, n, size) }
		}
		if perr := d.Push(ctx, f.Local, remote, progress); perr != nil {
			err = fmt.Errorf("deploy to %s: %w", d.Serial(), perr)
			return rep, err
		}
		m.Files[f.Name] = f.Entry
		changed = true
	}
	return rep, nil
}

// checkName refuses names that would leave the work directory or hide in it.
func checkName(name string) error {
	switch {
	case name == "" || strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("file name %q is empty or contains NUL", name)
	case path.IsAbs(name) || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../"):
		return fmt.Errorf("file name %q must be a clean path inside the work directory", name)
	case name == ManifestName:
		return fmt.Errorf("file name %q is the manifest's", name)
	}
	return nil
}

func readManifest(ctx context.Context, d runner.Device) (manifest, error) {
	fresh := manifest{Version: manifestVersion, Files: map[string]Entry{}}
	b, err := runner.ReadRemote(ctx, d, path.Join(d.Workdir(), ManifestName), 16<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return fresh, fmt.Errorf("deploy to %s: manifest: %w", d.Serial(), err)
	}
	var m manifest
	if json.Unmarshal(b, &m) != nil || m.Version != manifestVersion || m.Files == nil {
		// A manifest we cannot trust costs one full push, nothing more.
		return fresh, nil
	}
	return m, nil
}

func writeManifest(ctx context.Context, d runner.Device, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "rwkvbench-manifest-*.json")
	if err != nil {
		return fmt.Errorf("deploy to %s: manifest: %w", d.Serial(), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("deploy to %s: manifest: %w", d.Serial(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("deploy to %s: manifest: %w", d.Serial(), err)
	}
	if err := d.Push(ctx, tmp.Name(), path.Join(d.Workdir(), ManifestName), nil); err != nil {
		return fmt.Errorf("deploy to %s: manifest: %w", d.Serial(), err)
	}
	return nil
}

// Platform is a Go build target.
type Platform struct{ GOOS, GOARCH string }

func (p Platform) String() string { return p.GOOS + "/" + p.GOARCH }

// AgentPlatform picks the agent build for a device from what Describe found. An
// override ("linux/arm64") wins; otherwise the platform of the machine the device's
// shell runs on.
func AgentPlatform(info runner.Info, override string) (Platform, error) {
	if override != "" {
		goos, goarch, ok := strings.Cut(override, "/")
		if !ok || goos == "" || goarch == "" {
			return Platform{}, fmt.Errorf("agent platform %q: want GOOS/GOARCH, e.g. android/arm64", override)
		}
		return Platform{goos, goarch}, nil
	}
	if info.GOOS == "" || info.GOARCH == "" {
		return Platform{}, fmt.Errorf("device %s: cannot tell its OS/architecture (uname said nothing usable, ABI %q); give the agent platform explicitly", info.Serial, info.ABI)
	}
	return Platform{info.GOOS, info.GOARCH}, nil
}

// AgentName is the agent's file name on a platform.
func AgentName(p Platform) string {
	if p.GOOS == "windows" {
		return "rwkvbench-agent.exe"
	}
	return "rwkvbench-agent"
}

// BuildAgent cross-compiles cmd/rwkvbench-agent from the module at moduleDir for p
// into outDir and returns the binary's path. The build is reproducible on one host
// (no cgo, no VCS stamp, which would change whenever the tree is edited), so an
// unchanged agent has an unchanged sha256 and is not pushed again.
func BuildAgent(ctx context.Context, moduleDir string, p Platform, outDir string) (string, error) {
	out := filepath.Join(outDir, p.GOOS+"-"+p.GOARCH, AgentName(p))
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./cmd/rwkvbench-agent")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.GOOS, "GOARCH="+p.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build agent for %s: %w\n%s", p, err, b)
	}
	return out, nil
}

// QNNFiles lists the QNN SDK libraries a device needs for HTP runs: libQnnHtp, the
// arch's stub and unsigned skel, libQnnSystem, and the RWKV op package built for
// the arch (from opPackageDir). A missing SDK or file is an error naming it.
func QNNFiles(sdkRoot, opPackageDir string, info runner.Info, p Platform) ([]File, error) {
	if sdkRoot == "" {
		return nil, fmt.Errorf("QNN libraries requested but QNN_SDK_ROOT is not set")
	}
	chip, ok := hexagon.Lookup(info.SoC)
	if !ok || chip.Arch == 0 {
		return nil, fmt.Errorf("device %s: SoC %q has no known HTP arch; cannot pick QNN libraries", info.Serial, info.SoC)
	}
	var target, htp, system string
	switch p.GOOS {
	case "android":
		target, htp, system = "aarch64-android", "libQnnHtp.so", "libQnnSystem.so"
	case "linux":
		target, htp, system = "aarch64-oe-linux-gcc11.2", "libQnnHtp.so", "libQnnSystem.so"
	case "windows":
		target, htp, system = "aarch64-windows-msvc", "QnnHtp.dll", "QnnSystem.dll"
	default:
		return nil, fmt.Errorf("device %s: no QNN libraries for %s", info.Serial, p)
	}
	arch := chip.Arch
	lib := filepath.Join(sdkRoot, "lib", target)
	skelDir := filepath.Join(sdkRoot, "lib", fmt.Sprintf("hexagon-v%d", int(arch)), "unsigned")
	files := []File{
		{Local: filepath.Join(lib, htp), Name: htp},
		{Local: filepath.Join(lib, system), Name: system},
		{Local: filepath.Join(lib, arch.StubLib(p.GOOS)), Name: arch.StubLib(p.GOOS)},
		{Local: filepath.Join(skelDir, arch.SkelLib()), Name: arch.SkelLib()},
	}
	if p.GOOS == "windows" {
		files = append(files, File{Local: filepath.Join(skelDir, arch.WindowsCatalog()), Name: arch.WindowsCatalog()})
	}
	if opPackageDir != "" {
		files = append(files, File{Local: filepath.Join(opPackageDir, arch.OpPackageLib()), Name: arch.OpPackageLib()})
	}
	var missing []string
	for _, f := range files {
		if _, err := os.Stat(f.Local); err != nil {
			missing = append(missing, f.Local)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("device %s (%s, HTP v%d): QNN files missing: %s", info.Serial, chip.SoC, int(arch), strings.Join(missing, ", "))
	}
	return files, nil
}

// RunEnv is the environment the agent runs with in workdir: that directory first on
// LD_LIBRARY_PATH (the CPU-side QNN libraries) and on ADSP_LIBRARY_PATH (the skel
// the DSP loader fetches; semicolon-separated, with Android's standard DSP
// directories after it).
func RunEnv(workdir string, qnn bool) map[string]string {
	if !qnn {
		return nil
	}
	w := workdir
	return map[string]string{
		"LD_LIBRARY_PATH":   w,
		"ADSP_LIBRARY_PATH": w + ";/system/lib/rfsa/adsp;/system/vendor/lib/rfsa/adsp;/dsp",
	}
}
