package adbemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startDevice serves a device on a free loopback port for the duration of a test.
func startDevice(t testing.TB, cfg Config) *Device {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Root == "" {
		cfg.Root = filepath.Join(t.TempDir(), "device")
	}
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return d
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown SoC", Config{Addr: "127.0.0.1:0", SoC: "SM0000", Root: dir}, "unknown SoC"},
		{"no root", Config{Addr: "127.0.0.1:0", SoC: "SM8650"}, "Root is empty"},
		{"all interfaces", Config{Addr: "0.0.0.0:0", SoC: "SM8650", Root: dir}, "not a loopback"},
		{"empty host", Config{Addr: ":0", SoC: "SM8650", Root: dir}, "not a loopback"},
		{"host name", Config{Addr: "example.com:5555", SoC: "SM8650", Root: dir}, "not a loopback"},
		{"no port", Config{Addr: "127.0.0.1", SoC: "SM8650", Root: dir}, "listen address"},
		{"shell characters in root", Config{Addr: "127.0.0.1:0", SoC: "SM8650", Root: filepath.Join(dir, "a b$(x)")}, "special to the shell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.cfg)
			if err == nil {
				d.Close()
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	d := startDevice(t, Config{SoC: "SM8650"})
	for name, want := range map[string]string{
		"sys/devices/soc0/soc_id":              "557\n",
		"sys/devices/soc0/family":              "Snapdragon\n",
		"sys/class/thermal/thermal_zone0/temp": "36500\n",
		"sys/class/power_supply/battery/temp":  "312\n",
	} {
		got, err := os.ReadFile(filepath.Join(d.Root(), name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(d.Root(), "data/local/tmp")); err != nil || !fi.IsDir() {
		t.Errorf("data/local/tmp: %v", err)
	}
	for _, name := range []string{"system/bin/getprop", "system/bin/dumpsys", "system/bin/sh", "system/bin/linker64"} {
		if _, err := os.Stat(filepath.Join(d.Root(), name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// SM8850 has no Linux soc_id in the docs: the file is absent, not invented.
	d = startDevice(t, Config{SoC: "SM8850"})
	if _, err := os.Stat(filepath.Join(d.Root(), "sys/devices/soc0/soc_id")); err == nil {
		t.Error("SM8850 got an invented soc_id")
	}
}

// hostConn is the host side of the adb protocol, enough to test the emulator
// without adb.
type hostConn struct {
	t      testing.TB
	nc     net.Conn
	banner string
}

func dialDevice(t testing.TB, d *Device) *hostConn {
	t.Helper()
	nc, err := net.Dial("tcp", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	h := &hostConn{t: t, nc: nc}
	h.send(message{command: cmdCNXN, arg0: protocolVersion, arg1: maxPayload, data: []byte("host::features=shell_v2\x00")})
	m := h.read()
	if m.command != cmdCNXN {
		t.Fatalf("handshake: got %v, want CNXN", m)
	}
	h.banner = string(m.data)
	return h
}

func (h *hostConn) send(m message) {
	h.t.Helper()
	if _, err := h.nc.Write(appendMessage(nil, m)); err != nil {
		h.t.Fatalf("send %v: %v", m, err)
	}
}

func (h *hostConn) read() message {
	h.t.Helper()
	m, err := readMessage(h.nc, 1<<20)
	if err != nil {
		h.t.Fatalf("read: %v", err)
	}
	return m
}

// run opens a service with local id 1, sends input in one WRTE, and returns what
// the device wrote until it closed the stream. A refused service returns ok false.
func (h *hostConn) run(service string, input []byte) (out []byte, ok bool) {
	h.t.Helper()
	h.send(message{command: cmdOPEN, arg0: 1, data: append([]byte(service), 0)})
	m := h.read()
	if m.command == cmdCLSE {
		return nil, false
	}
	if m.command != cmdOKAY || m.arg1 != 1 {
		h.t.Fatalf("OPEN %s: got %v", service, m)
	}
	remote := m.arg0
	if input != nil {
		h.send(message{command: cmdWRTE, arg0: 1, arg1: remote, data: input})
	}
	for {
		m := h.read()
		switch m.command {
		case cmdWRTE:
			out = append(out, m.data...)
			h.send(message{command: cmdOKAY, arg0: 1, arg1: remote})
		case cmdOKAY:
		case cmdCLSE:
			return out, true
		default:
			h.t.Fatalf("%s: unexpected %v", service, m)
		}
	}
}

// shellPackets splits shell protocol v2 output into stdout, stderr and exit code.
func shellPackets(t testing.TB, b []byte) (stdout, stderr string, exit int) {
	exit = -1
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("truncated shell packet %q", b)
		}
		n := binary.LittleEndian.Uint32(b[1:])
		data := b[5 : 5+n]
		switch b[0] {
		case shellStdout:
			stdout += string(data)
		case shellStderr:
			stderr += string(data)
		case shellExit:
			exit = int(data[0])
		}
		b = b[5+n:]
	}
	return stdout, stderr, exit
}

func shellInput(id byte, data string) []byte {
	b := []byte{id}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func TestProtocolWithoutADB(t *testing.T) {
	d := startDevice(t, Config{SoC: "SM8550", Serial: "lab-7"})
	h := dialDevice(t, d)
	for _, want := range []string{"device::", "ro.product.model=adbemu SM8550", "features=shell_v2,stat_v2,fixed_push_mkdir"} {
		if !strings.Contains(h.banner, want) {
			t.Errorf("banner %q lacks %q", h.banner, want)
		}
	}
	tests := []struct {
		name, service  string
		input          []byte
		stdout, stderr string
		exit           int // -1: raw, no exit code
	}{
		{"v2 exit code and stderr", "shell,v2,raw:echo out; echo err >&2; exit 7", nil, "out\n", "err\n", 7},
		{"getprop", "shell,v2,TERM=xterm,raw:getprop ro.soc.model; getprop ro.serialno", nil, "SM8550\nlab-7\n", "", 0},
		{"getprop in a pipeline", "shell,v2,raw:getprop | grep soc.model", nil, "[ro.soc.model]: [SM8550]\n", "", 0},
		{"sysfs", "shell,v2,raw:cat /sys/devices/soc0/soc_id", nil, "519\n", "", 0},
		{"dumpsys battery", "shell,v2,raw:dumpsys battery | grep temperature", nil, "  temperature: 312\n", "", 0},
		{"killed by a signal", "shell,v2,raw:kill -9 $$", nil, "", "", 137},
		{"stdin", "shell,v2,raw:cat; echo done", append(shellInput(shellStdin, "piped\n"), shellInput(shellCloseStdin, "")...), "piped\ndone\n", "", 0},
		{"raw shell merges stderr", "shell:echo a; echo b >&2", nil, "a\nb\n", "", -1},
		{"exec", "exec:getprop ro.product.cpu.abi", nil, "arm64-v8a\n", "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := h.run(tt.service, tt.input)
			if !ok {
				t.Fatalf("%s refused", tt.service)
			}
			if tt.exit < 0 {
				if string(out) != tt.stdout {
					t.Errorf("output %q, want %q", out, tt.stdout)
				}
				return
			}
			stdout, stderr, exit := shellPackets(t, out)
			if stdout != tt.stdout || stderr != tt.stderr || exit != tt.exit {
				t.Errorf("stdout %q stderr %q exit %d; want %q %q %d", stdout, stderr, exit, tt.stdout, tt.stderr, tt.exit)
			}
		})
	}
	for _, service := range []string{"reboot:", "root:", "shell,v9:ls", "framebuffer:", "nocolon"} {
		if _, ok := h.run(service, nil); ok {
			t.Errorf("service %q was opened; the emulator does not offer it", service)
		}
	}
	// A large output crosses many WRTEs with flow control.
	out, _ := h.run("shell,v2,raw:head -c 3000000 /dev/zero", nil)
	if stdout, _, exit := shellPackets(t, out); len(stdout) != 3000000 || exit != 0 {
		t.Errorf("3 MB of output: got %d bytes, exit %d", len(stdout), exit)
	}
}

func TestMalformedClosesOnlyThatConnection(t *testing.T) {
	var logs syncBuffer
	d := startDevice(t, Config{SoC: "SM8650", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tests := []struct {
		name   string
		send   []byte
		reason string
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "magic"},
		{"before CNXN", appendMessage(nil, message{command: cmdOPEN, arg0: 1, data: []byte("shell:ls\x00")}), "before CNXN"},
		{"old version", appendMessage(nil, message{command: cmdCNXN, arg0: 1, arg1: maxPayload}), "protocol version"},
		{"oversized", header(cmdCNXN, protocolVersion, maxPayload, maxPayload+1, 0, cmdCNXN^0xffffffff), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", d.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			nc.Write(tt.send)
			if _, err := io.ReadAll(nc); isTimeout(err) {
				t.Fatalf("the device did not close the connection: %v", err)
			}
			// The device may close the connection before it logs why.
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), tt.reason) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if !strings.Contains(logs.String(), tt.reason) {
				t.Errorf("log lacks the reason %q:\n%s", tt.reason, logs.String())
			}
		})
	}
	t.Run("WRTE flood", func(t *testing.T) {
		h := dialDevice(t, d)
		h.send(message{command: cmdOPEN, arg0: 1, data: []byte("shell,v2,raw:sleep 30\x00")})
		okay := h.read()
		// The shell does not read its stdin, but the pipe to it takes 64 KB, and the
		// stream drains into it as fast as it can: small writes could all fit. Write
		// more than the pipe and the queue hold together, without waiting for OKAY;
		// the device closes the connection part way, so write errors are expected.
		big := shellInput(shellStdin, strings.Repeat("x", 128<<10))
		for range queuedWrites + 16 {
			if _, err := h.nc.Write(appendMessage(nil, message{command: cmdWRTE, arg0: 1, arg1: okay.arg0, data: big})); err != nil {
				break
			}
		}
		if _, err := io.ReadAll(h.nc); isTimeout(err) {
			t.Fatalf("the device did not close the connection: %v", err)
		}
		const reason = "without waiting for OKAY"
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), reason) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if !strings.Contains(logs.String(), reason) {
			t.Errorf("log lacks the reason %q:\n%s", reason, logs.String())
		}
	})
	// The device still serves everyone else.
	h := dialDevice(t, d)
	out, _ := h.run("shell,v2,raw:getprop ro.soc.model", nil)
	if stdout, _, _ := shellPackets(t, out); stdout != "SM8650\n" {
		t.Errorf("after the bad connections: %q", stdout)
	}
}

// isTimeout tells a connection the device kept open (the test's deadline
// passed) from one it closed or reset.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// syncBuffer is a bytes.Buffer safe for the emulator's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFaultSwitches(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
	}{
		{"after bytes", Faults{AfterBytes: 1000, Once: true}},
		{"after time", Faults{After: 300 * time.Millisecond, Once: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDevice(t, Config{SoC: "SM8650", Faults: tt.faults})
			h := dialDevice(t, d)
			// A command that outlives the fault: the connection must die under it.
			h.send(message{command: cmdOPEN, arg0: 1, data: []byte("shell,v2,raw:sleep 1; head -c 100000 /dev/zero\x00")})
			if _, err := io.ReadAll(h.nc); isTimeout(err) {
				t.Fatal("the fault switch did not drop the connection")
			}
			// Once: the next connection stays up.
			h = dialDevice(t, d)
			out, _ := h.run("shell,v2,raw:sleep 0.5; head -c 100000 /dev/zero", nil)
			if stdout, _, exit := shellPackets(t, out); len(stdout) != 100000 || exit != 0 {
				t.Errorf("after the single drop: %d bytes, exit %d", len(stdout), exit)
			}
		})
	}
	t.Run("down for", func(t *testing.T) {
		d := startDevice(t, Config{SoC: "SM8650"})
		d.DropConnections(time.Hour)
		nc, err := net.Dial("tcp", d.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		nc.Write(appendMessage(nil, message{command: cmdCNXN, arg0: protocolVersion, arg1: maxPayload}))
		if b, _ := io.ReadAll(nc); len(b) != 0 {
			t.Errorf("a device that is down answered %q", b)
		}
	})
}

// FuzzConnection feeds arbitrary bytes to a connection after a proper handshake.
// The shell is disabled so that random input cannot run commands; the emulator
// must neither panic nor hang.
func FuzzConnection(f *testing.F) {
	cnxn := appendMessage(nil, message{command: cmdCNXN, arg0: protocolVersion, arg1: maxPayload, data: []byte("host::\x00")})
	f.Add(appendMessage(nil, message{command: cmdOPEN, arg0: 1, data: []byte("sync:\x00")}))
	f.Add(append(appendMessage(nil, message{command: cmdOPEN, arg0: 5, data: []byte("sync:\x00")}),
		appendMessage(nil, message{command: cmdWRTE, arg0: 5, arg1: 1, data: []byte("STAT\x04\x00\x00\x00/dat")})...))
	f.Add(appendMessage(nil, message{command: cmdCLSE, arg0: 1, arg1: 1}))
	f.Add(appendMessage(nil, message{command: cmdOKAY, arg0: 9, arg1: 3}))
	d, err := New(Config{Addr: "127.0.0.1:0", SoC: "SM8650", Root: filepath.Join(f.TempDir(), "device")})
	if err != nil {
		f.Fatal(err)
	}
	d.shellDisabled = true
	defer d.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		c := newConn(d, server)
		served := make(chan struct{})
		go func() { c.serve(); close(served) }()
		go io.Copy(io.Discard, client)
		client.Write(append(append([]byte(nil), cnxn...), in...))
		client.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection did not end after its input did")
		}
	})
}
