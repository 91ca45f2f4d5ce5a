package devicetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/runner/adb"
	"github.com/rwkvbench/rwkvbench/runner/adbemu"
)

// ADBLab is a private adb server with emulated devices connected to it.
type ADBLab struct {
	Client  adb.Client
	Emus    []*adbemu.Device
	Serials []string // adb's names for Emus, in the same order
}

// StartADBLab starts a private adb server on a free loopback port (so that it never
// touches another test's or the user's server), one emulated device per SoC with
// the given faults, and connects them. Everything stops when the test ends. It skips
// the test, saying why, when the adb binary is not installed.
func StartADBLab(t *testing.T, socs []string, faults []adbemu.Faults) *ADBLab {
	t.Helper()
	bin, err := exec.LookPath("adb")
	if err != nil {
		t.Skipf("skipping: the adb binary is not installed (Debian package adb): %v", err)
	}
	lab := &ADBLab{Client: adb.Client{Path: bin, Port: freePort(t)}}
	ctx := context.Background()
	home := t.TempDir()
	// adb keeps its keys under $HOME/.android; a private HOME keeps the user's keys
	// and server out of the test. The server inherits the environment of the first
	// client call, so set it for the whole test.
	t.Setenv("HOME", home)
	t.Setenv("ANDROID_USER_HOME", filepath.Join(home, ".android"))
	if out, err := exec.CommandContext(ctx, bin, "-P", strconv.Itoa(lab.Client.Port), "start-server").CombinedOutput(); err != nil {
		t.Fatalf("adb start-server: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command(bin, "-P", strconv.Itoa(lab.Client.Port), "kill-server").Run()
	})
	for i, soc := range socs {
		cfg := adbemu.Config{Addr: "127.0.0.1:0", SoC: soc, Root: filepath.Join(rootDir(t), soc+"-"+strconv.Itoa(i))}
		if i < len(faults) {
			cfg.Faults = faults[i]
		}
		emu, err := adbemu.New(cfg)
		if err != nil {
			t.Fatalf("emulated %s: %v", soc, err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = emu.Serve(sctx); close(done) }()
		t.Cleanup(func() { cancel(); emu.Close(); <-done })
		if err := connect(ctx, lab.Client, emu.Addr()); err != nil {
			t.Fatalf("adb connect %s (%s): %v", emu.Addr(), soc, err)
		}
		lab.Emus = append(lab.Emus, emu)
		lab.Serials = append(lab.Serials, emu.Addr())
	}
	return lab
}

// connect retries briefly: the server may still be starting.
func connect(ctx context.Context, c adb.Client, addr string) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = c.Connect(ctx, addr); err == nil {
			for j := 0; j < 50; j++ {
				if st, _ := c.State(ctx, addr); st == "device" {
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// rootDir returns a temporary directory whose path adbemu accepts (it allows only
// shell-neutral characters).
func rootDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rwkvbench-adbemu-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
