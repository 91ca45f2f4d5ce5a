package deploy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/deploy"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDeployContentAddressed(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	d, err := runner.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(src, "a.bin")
	b := filepath.Join(src, "b $(x) 'q'.bin")
	write(t, a, "alpha")
	write(t, b, "bravo!")
	files := []deploy.File{{Local: a, Name: "rwkvbench-agent"}, {Local: b, Name: "models/b $(x) 'q'.bin"}}

	steps := []struct {
		name        string
		before      func()
		dryRun      bool
		wantPushed  []string
		wantBytes   int64
		wantSkipped int
	}{
		{name: "first deploy pushes all", wantPushed: []string{"rwkvbench-agent", "models/b $(x) 'q'.bin"}, wantBytes: 11},
		{name: "unchanged pushes nothing", wantSkipped: 2},
		{name: "changed file is pushed", before: func() { write(t, b, "bravo?") }, wantPushed: []string{"models/b $(x) 'q'.bin"}, wantBytes: 6, wantSkipped: 1},
		{name: "file removed on the device is pushed", before: func() { os.Remove(filepath.Join(d.Workdir(), "rwkvbench-agent")) }, wantPushed: []string{"rwkvbench-agent"}, wantBytes: 5, wantSkipped: 1},
		{name: "corrupt manifest costs one full push", before: func() { write(t, filepath.Join(d.Workdir(), deploy.ManifestName), "{not json") },
			wantPushed: []string{"rwkvbench-agent", "models/b $(x) 'q'.bin"}, wantBytes: 11},
		{name: "dry run reports without pushing", before: func() { write(t, a, "alpha2") }, dryRun: true, wantPushed: []string{"rwkvbench-agent"}, wantBytes: 6, wantSkipped: 1},
		{name: "dry run changed nothing", wantPushed: []string{"rwkvbench-agent"}, wantBytes: 6, wantSkipped: 1},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		rep, err := deploy.Deploy(ctx, d, files, deploy.Options{DryRun: s.dryRun})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !slices.Equal(rep.Pushed, s.wantPushed) || rep.BytesPushed != s.wantBytes || len(rep.Skipped) != s.wantSkipped {
			t.Errorf("%s: pushed %q (%d bytes), skipped %d; want %q (%d bytes), skipped %d", s.name, rep.Pushed, rep.BytesPushed, len(rep.Skipped), s.wantPushed, s.wantBytes, s.wantSkipped)
		}
	}
	got, err := os.ReadFile(filepath.Join(d.Workdir(), "models", "b $(x) 'q'.bin"))
	if err != nil || string(got) != "bravo?" {
		t.Errorf("device has %q (%v), want the last content", got, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(d.Workdir(), "models", ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestDeployRefusesBadNames(t *testing.T) {
	d, err := runner.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "x")
	write(t, f, "x")
	for _, name := range []string{"", "/etc/passwd", "../escape", "a/../../b", "a//b", deploy.ManifestName, "nul\x00"} {
		if _, err := deploy.Deploy(context.Background(), d, []deploy.File{{Local: f, Name: name}}, deploy.Options{}); err == nil {
			t.Errorf("Deploy accepted the name %q", name)
		}
	}
	if _, err := deploy.Deploy(context.Background(), d, []deploy.File{{Local: f, Name: "a"}, {Local: f, Name: "a"}}, deploy.Options{}); err == nil {
		t.Errorf("Deploy accepted a name twice")
	}
}

func TestAgentPlatform(t *testing.T) {
	tests := []struct {
		info     runner.Info
		override string
		want     string
		wantErr  bool
	}{
		{info: runner.Info{GOOS: "android", GOARCH: "arm64"}, want: "android/arm64"},
		{info: runner.Info{GOOS: "linux", GOARCH: "amd64", ABI: "arm64-v8a"}, want: "linux/amd64"},
		{info: runner.Info{GOOS: "linux", GOARCH: "amd64"}, override: "android/arm64", want: "android/arm64"},
		{info: runner.Info{ABI: "arm64-v8a"}, wantErr: true},
		{override: "android", wantErr: true},
	}
	for _, tt := range tests {
		p, err := deploy.AgentPlatform(tt.info, tt.override)
		if (err != nil) != tt.wantErr || (err == nil && p.String() != tt.want) {
			t.Errorf("AgentPlatform(%+v, %q) = %v, %v; want %q (error %v)", tt.info, tt.override, p, err, tt.want, tt.wantErr)
		}
	}
}

func TestQNNFiles(t *testing.T) {
	sdk := t.TempDir()
	ops := t.TempDir()
	for _, p := range []string{"lib/aarch64-android/libQnnHtp.so", "lib/aarch64-android/libQnnSystem.so", "lib/aarch64-android/libQnnHtpV75Stub.so",
		"lib/hexagon-v75/unsigned/libQnnHtpV75Skel.so"} {
		write(t, filepath.Join(sdk, p), "lib")
	}
	write(t, filepath.Join(ops, "libQnnRwkvWkvOpPackageV75.so"), "op")
	android := deploy.Platform{GOOS: "android", GOARCH: "arm64"}
	files, err := deploy.QNNFiles(sdk, ops, runner.Info{Serial: "p", SoC: "SM8650"}, android)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := []string{"libQnnHtp.so", "libQnnSystem.so", "libQnnHtpV75Stub.so", "libQnnHtpV75Skel.so", "libQnnRwkvWkvOpPackageV75.so"}
	if !slices.Equal(names, want) {
		t.Errorf("QNNFiles names = %q, want %q", names, want)
	}
	for _, tt := range []struct {
		sdk  string
		soc  string
		want string
	}{
		{"", "SM8650", "QNN_SDK_ROOT is not set"},
		{sdk, "SM8750", "libQnnHtpV79Stub.so"}, // the v79 files are missing from the fake SDK
		{sdk, "SM9999", "no known HTP arch"},
	} {
		if _, err := deploy.QNNFiles(tt.sdk, ops, runner.Info{Serial: "p", SoC: tt.soc}, android); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("QNNFiles(%q, %s) err = %v, want %q", tt.sdk, tt.soc, err, tt.want)
		}
	}
	env := deploy.RunEnv("/w", true)
	if env["LD_LIBRARY_PATH"] != "/w" || !strings.HasPrefix(env["ADSP_LIBRARY_PATH"], "/w;") {
		t.Errorf("RunEnv = %v", env)
	}
}

// TestBuildAgentReproducible cross-builds the agent for android/arm64 twice: the
// same source gives the same sha256, which is what lets deploy skip it.
func TestBuildAgentReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the agent cross-build in -short mode")
	}
	root := fixtures.Root(t)
	var sums []string
	for i := 0; i < 2; i++ {
		path, err := deploy.BuildAgent(context.Background(), root, deploy.Platform{GOOS: "android", GOARCH: "arm64"}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b[:64]), "ELF") {
			t.Fatalf("%s is not an ELF binary", path)
		}
		h := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(h[:]))
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of the same source differ: %s vs %s", sums[0], sums[1])
	}
}

func ExampleDeploy() {
	ctx := context.Background()
	work, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(work)
	d, _ := runner.NewLocal(work)
	src := filepath.Join(work, "..", filepath.Base(work)+"-model.bin")
	os.WriteFile(src, []byte("weights"), 0o644)
	defer os.Remove(src)
	files := []deploy.File{{Local: src, Name: "models/model.bin"}}
	for i := 0; i < 2; i++ {
		rep, _ := deploy.Deploy(ctx, d, files, deploy.Options{})
		fmt.Printf("pushed %d bytes, skipped %d bytes\n", rep.BytesPushed, rep.BytesSkipped)
	}
	// Output:
	// pushed 7 bytes, skipped 0 bytes
	// pushed 0 bytes, skipped 7 bytes
}
