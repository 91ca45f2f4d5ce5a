package adbemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests drive the emulator with the real adb client, which is the point of
// it: whatever adb does against a phone, it does here.

// adbServer is a private adb server: its own port, home and log directory, so
// tests neither fight each other nor touch a user's server and keys.
type adbServer struct {
	t    *testing.T
	bin  string
	port string
	env  []string
}

func startADB(t *testing.T) *adbServer {
	t.Helper()
	bin, err := exec.LookPath("adb")
	if err != nil {
		t.Skip("adb is not installed (Debian package adb, which .ci/run installs): skipping the tests against the real adb client")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	home := t.TempDir()
	s := &adbServer{t: t, bin: bin, port: port, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + home, // where the server writes its log
		"ANDROID_ADB_SERVER_PORT=" + port,
	}}
	if _, stderr, _, err := s.run(nil, "start-server"); err != nil {
		t.Fatalf("adb start-server on port %s: %v\n%s", port, err, stderr)
	}
	t.Cleanup(func() { s.run(nil, "kill-server") })
	return s
}

// run runs adb against the private server and returns its outputs and exit code;
// err is set only when adb could not run or timed out, not for a non-zero exit.
func (s *adbServer) run(stdin []byte, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"-P", s.port}, args...)...)
	cmd.Env = s.env
	// The forked server must not hold our pipes open.
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return out.String(), errOut.String(), ee.ExitCode(), nil
	}
	return out.String(), errOut.String(), 0, err
}

// must runs adb and fails the test unless it exits 0.
func (s *adbServer) must(args ...string) string {
	s.t.Helper()
	stdout, stderr, code, err := s.run(nil, args...)
	if err != nil || code != 0 {
		s.t.Fatalf("adb %q: exit %d, %v\nstdout: %s\nstderr: %s", args, code, err, stdout, stderr)
	}
	return stdout
}

// state returns the device's state in `adb devices`, "" when it is not listed.
func (s *adbServer) state(serial string) string {
	out, _, _, _ := s.run(nil, "devices")
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == serial {
			return f[1]
		}
	}
	return ""
}

// waitState polls `adb devices` until the device's state satisfies ok.
func (s *adbServer) waitState(serial, what string, ok func(string) bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = s.state(serial); ok(last) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("%s never became %s in adb devices (last state %q)", serial, what, last)
}

func (s *adbServer) connect(d *Device) string {
	s.t.Helper()
	serial := d.Addr()
	if out := s.must("connect", serial); !strings.Contains(out, "connected to "+serial) {
		s.t.Fatalf("adb connect %s: %q", serial, out)
	}
	s.waitState(serial, "device", func(st string) bool { return st == "device" })
	return serial
}

func randomFile(t *testing.T, dir, name string, size int, seed uint64) (string, []byte) {
	t.Helper()
	content := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, content
}

func TestADBClient(t *testing.T) {
	adb := startADB(t)
	d := startDevice(t, Config{SoC: "SM8650"})
	serial := adb.connect(d)
	local := t.TempDir()

	t.Run("devices", func(t *testing.T) {
		out := adb.must("devices", "-l")
		if !strings.Contains(out, serial) || !strings.Contains(out, "model:adbemu_SM8650") {
			t.Errorf("adb devices -l:\n%s", out)
		}
		if got := strings.TrimSpace(adb.must("-s", serial, "get-state")); got != "device" {
			t.Errorf("get-state = %q", got)
		}
	})
	t.Run("getprop", func(t *testing.T) {
		tests := []struct{ command, want string }{
			{"getprop ro.soc.model", "SM8650"},
			{"getprop ro.soc.manufacturer", "QTI"},
			{"getprop ro.product.cpu.abi", "arm64-v8a"},
			{"getprop ro.board.platform", "pineapple"},
			{"cat /sys/devices/soc0/soc_id", "557"},
			{"echo $(getprop ro.build.version.sdk)", "34"},
		}
		for _, tt := range tests {
			if got := strings.TrimSpace(adb.must("-s", serial, "shell", tt.command)); got != tt.want {
				t.Errorf("adb shell %s = %q, want %q", tt.command, got, tt.want)
			}
		}
	})
	t.Run("exit codes", func(t *testing.T) {
		for _, want := range []int{0, 1, 3, 42, 255} {
			_, stderr, code, err := adb.run(nil, "-s", serial, "shell", fmt.Sprintf("exit %d", want))
			if err != nil || code != want {
				t.Errorf("adb shell 'exit %d': exit %d, %v %s", want, code, err, stderr)
			}
		}
	})
	t.Run("stdout and stderr", func(t *testing.T) {
		stdout, stderr, code, err := adb.run(nil, "-s", serial, "shell", "echo out; echo err >&2; exit 5")
		if err != nil || stdout != "out\n" || stderr != "err\n" || code != 5 {
			t.Errorf("stdout %q stderr %q exit %d %v; want out, err, 5", stdout, stderr, code, err)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		stdout, _, code, err := adb.run([]byte("line one\nline two\n"), "-s", serial, "shell", "wc -l")
		if err != nil || strings.TrimSpace(stdout) != "2" || code != 0 {
			t.Errorf("adb shell wc -l with two lines in: %q exit %d %v", stdout, code, err)
		}
	})
	t.Run("exec-out", func(t *testing.T) {
		if got := adb.must("-s", serial, "exec-out", "getprop ro.soc.model"); got != "SM8650\n" {
			t.Errorf("exec-out getprop = %q", got)
		}
	})
	t.Run("push and pull 5 MB", func(t *testing.T) {
		src, content := randomFile(t, local, "big.bin", 5<<20, 1)
		adb.must("-s", serial, "push", src, "/data/local/tmp/big.bin")
		onDevice, err := os.ReadFile(filepath.Join(d.Root(), "data/local/tmp/big.bin"))
		if err != nil || !bytes.Equal(onDevice, content) {
			t.Fatalf("pushed file differs (%d bytes, %v)", len(onDevice), err)
		}
		back := filepath.Join(local, "back.bin")
		adb.must("-s", serial, "pull", "/data/local/tmp/big.bin", back)
		if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("pulled file differs (%d bytes, %v)", len(got), err)
		}
		if out := adb.must("-s", serial, "shell", "ls -l /data/local/tmp"); !strings.Contains(out, "5242880") || !strings.Contains(out, "big.bin") {
			t.Errorf("adb shell ls -l /data/local/tmp:\n%s", out)
		}
		if got := adb.must("-s", serial, "shell", "sha256sum /data/local/tmp/big.bin | cut -c1-64"); len(strings.TrimSpace(got)) != 64 {
			t.Errorf("sha256sum on the device: %q", got)
		}
	})
	t.Run("hostile file name", func(t *testing.T) {
		const name = `a b'c"$(touch PWNED)` + "`touch PWNED2`;x.txt"
		src := filepath.Join(local, name)
		if err := os.WriteFile(src, []byte("payload\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		adb.must("-s", serial, "push", src, "/data/local/tmp/")
		if out := adb.must("-s", serial, "shell", "ls /data/local/tmp"); !strings.Contains(out, name) {
			t.Errorf("adb shell ls does not list %q:\n%s", name, out)
		}
		if got := adb.must("-s", serial, "shell", "cat "+shellQuote("/data/local/tmp/"+name)); got != "payload\n" {
			t.Errorf("adb shell cat of the quoted name = %q", got)
		}
		back := filepath.Join(local, "back.txt")
		adb.must("-s", serial, "pull", "/data/local/tmp/"+name, back)
		if got, _ := os.ReadFile(back); string(got) != "payload\n" {
			t.Errorf("pulled %q", got)
		}
		for _, dir := range []string{d.Root(), filepath.Join(d.Root(), "data/local/tmp"), local, "."} {
			for _, p := range []string{"PWNED", "PWNED2"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("the file name ran a command: %s exists in %s", p, dir)
				}
			}
		}
	})
	t.Run("push and pull a directory", func(t *testing.T) {
		tree := filepath.Join(local, "tree")
		files := map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n", "sub/deeper/c d.txt": "gamma\n"}
		for name, content := range files {
			p := filepath.Join(tree, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		adb.must("-s", serial, "push", tree, "/data/local/tmp/")
		back := filepath.Join(local, "back")
		adb.must("-s", serial, "pull", "/data/local/tmp/tree", back)
		for name, content := range files {
			if got, err := os.ReadFile(filepath.Join(back, name)); err != nil || string(got) != content {
				t.Errorf("%s after a push and pull of its directory: %q, %v", name, got, err)
			}
		}
	})
	t.Run("pull of a missing file fails", func(t *testing.T) {
		_, stderr, code, err := adb.run(nil, "-s", serial, "pull", "/data/local/tmp/nothing", filepath.Join(local, "x"))
		if err != nil || code == 0 {
			t.Errorf("adb pull of a missing file: exit %d, %v, %s", code, err, stderr)
		}
	})
}

// TestADBDeviceDrops makes the device vanish in the middle of a push and come back,
// as a phone on a loose cable does: adb must see it offline, then online again.
func TestADBDeviceDrops(t *testing.T) {
	adb := startADB(t)
	d := startDevice(t, Config{SoC: "SM8750", Faults: Faults{AfterBytes: 1 << 20, Once: true, DownFor: 2 * time.Second}})
	serial := adb.connect(d)
	src, content := randomFile(t, t.TempDir(), "model.bin", 3<<20, 2)

	if _, _, code, err := adb.run(nil, "-s", serial, "push", src, "/data/local/tmp/model.bin"); err != nil || code == 0 {
		t.Fatalf("a push through a connection that drops after 1 MiB succeeded (exit %d, %v)", code, err)
	}
	adb.waitState(serial, "offline or gone", func(st string) bool { return st != "device" })
	if _, err := os.Stat(filepath.Join(d.Root(), "data/local/tmp/model.bin")); err == nil {
		t.Error("the interrupted push left a file under its final name")
	}
	adb.waitState(serial, "device again", func(st string) bool { return st == "device" })
	adb.must("-s", serial, "push", src, "/data/local/tmp/model.bin")
	if got, err := os.ReadFile(filepath.Join(d.Root(), "data/local/tmp/model.bin")); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the push after the device came back differs (%d bytes, %v)", len(got), err)
	}
}

// TestADBThreeDevices serves three SoCs at once to one adb server and talks to
// them in parallel.
func TestADBThreeDevices(t *testing.T) {
	adb := startADB(t)
	socs := []struct {
		soc, platform string
		linuxID       string
	}{{"SM8650", "pineapple", "557"}, {"SM8550", "kalama", "519"}, {"SM8750", "sun", "618"}}
	devices := make([]*Device, len(socs))
	serials := make([]string, len(socs))
	for i, s := range socs {
		devices[i] = startDevice(t, Config{SoC: s.soc})
		serials[i] = adb.connect(devices[i])
	}
	out := adb.must("devices")
	for _, serial := range serials {
		if !strings.Contains(out, serial+"\tdevice") {
			t.Errorf("adb devices lacks %s:\n%s", serial, out)
		}
	}
	src, content := randomFile(t, t.TempDir(), "agent", 256<<10, 3)
	var wg sync.WaitGroup
	for i, s := range socs {
		wg.Go(func() {
			serial := serials[i]
			stdout, _, code, err := adb.run(nil, "-s", serial, "shell", "getprop ro.soc.model; getprop ro.board.platform; cat /sys/devices/soc0/soc_id")
			if want := s.soc + "\n" + s.platform + "\n" + s.linuxID + "\n"; err != nil || code != 0 || stdout != want {
				t.Errorf("%s: %q (exit %d, %v), want %q", serial, stdout, code, err, want)
			}
			if _, stderr, code, err := adb.run(nil, "-s", serial, "push", src, "/data/local/tmp/agent"); err != nil || code != 0 {
				t.Errorf("%s: push: exit %d %v %s", serial, code, err, stderr)
				return
			}
			if got, _ := os.ReadFile(filepath.Join(devices[i].Root(), "data/local/tmp/agent")); !bytes.Equal(got, content) {
				t.Errorf("%s: pushed agent differs", serial)
			}
		})
	}
	wg.Wait()
}

// TestADBShellCutByDrop drops the connection under a running command: the host
// sees the output stop, and the command is killed on the device rather than left
// running (a phone's adbd does the same when its USB link goes).
func TestADBShellCutByDrop(t *testing.T) {
	adb := startADB(t)
	d := startDevice(t, Config{SoC: "SM8650"})
	serial := adb.connect(d)
	type result struct {
		stdout, stderr string
		code           int
		err            error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.stdout, r.stderr, r.code, r.err = adb.run(nil, "-s", serial, "shell",
			"echo started; touch /data/local/tmp/started; sleep 2; touch /data/local/tmp/finished; echo finished")
		done <- r
	}()
	started := filepath.Join(d.Root(), "data/local/tmp/started")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
	}
	d.DropConnections(0)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.Contains(r.stdout, "finished") {
		t.Errorf("output of a command cut by a drop: %q", r.stdout)
	}
	// adb 29 exits 0 here, without an exit code from the device: callers must not
	// take a zero exit as proof that a command completed.
	t.Logf("adb shell through a dropped connection: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(d.Root(), "data/local/tmp/finished")); err == nil {
		t.Error("the command kept running on the device after the connection dropped")
	}
}
