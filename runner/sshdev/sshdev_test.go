package sshdev

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/runner"
	"github.com/rwkvbench/rwkvbench/runner/devicetest"
)

func TestConformanceAgainstRealSSHD(t *testing.T) {
	srv := devicetest.StartSSHD(t)
	d, err := Dial(context.Background(), Config{
		User: srv.User, Host: "127.0.0.1", Port: srv.Port,
		KeyFiles: []string{srv.KeyFile}, NoAgent: true, KnownHosts: srv.KnownHosts,
		Workdir: filepath.Join(t.TempDir(), "work dir"),
	})
	if err != nil {
		t.Fatalf("dial: %v\nsshd log:\n%s", err, srv.Log)
	}
	defer d.Close()
	devicetest.Conformance(t, d)
}

func TestUnknownHostKeyRefused(t *testing.T) {
	srv := devicetest.StartSSHD(t)
	other := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := Config{User: srv.User, Host: "127.0.0.1", Port: srv.Port, KeyFiles: []string{srv.KeyFile}, NoAgent: true, KnownHosts: other}
	_, err := Dial(context.Background(), base)
	if err == nil || !strings.Contains(err.Error(), "key is unknown") {
		t.Fatalf("dial with an empty known_hosts: err = %v, want an unknown-key refusal", err)
	}
	// The explicit opt-out connects.
	base.InsecureIgnoreHostKey = true
	d, err := Dial(context.Background(), base)
	if err != nil {
		t.Fatalf("dial with InsecureIgnoreHostKey: %v", err)
	}
	defer d.Close()

	// A dropped connection fails commands until Reconnect re-dials.
	d.conn().Close()
	if err := d.Run(context.Background(), runner.Cmd{Args: []string{"true"}}); err == nil {
		t.Fatal("Run on a closed connection succeeded")
	}
	if err := d.Reconnect(context.Background(), 30*time.Second); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	if err := d.Run(context.Background(), runner.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatalf("Run after reconnect: %v", err)
	}
}

// TestWindowsHostRefused: a host whose shell answers like Windows cmd is refused at
// Dial, naming the reason, instead of receiving POSIX-quoted commands. The "Windows
// host" is an sshd whose ForceCommand prints what cmd.exe would.
func TestWindowsHostRefused(t *testing.T) {
	srv := devicetest.StartSSHD(t, `ForceCommand printf 'Microsoft Windows [Version 10.0.22631.4460]\r\nC:\\Users\\lab\r\n'`)
	_, err := Dial(context.Background(), Config{User: srv.User, Host: "127.0.0.1", Port: srv.Port, KeyFiles: []string{srv.KeyFile}, NoAgent: true, KnownHosts: srv.KnownHosts})
	if err == nil || !strings.Contains(err.Error(), "Windows targets over SSH are refused") {
		t.Fatalf("dial of a Windows-like host: err = %v, want a refusal naming Windows", err)
	}
}

func TestParseTarget(t *testing.T) {
	t.Setenv("USER", "me")
	tests := []struct {
		in         string
		user, host string
		port       int
		wantErr    bool
	}{
		{in: "pi@board.lan", user: "pi", host: "board.lan", port: 22},
		{in: "pi@board.lan:2222", user: "pi", host: "board.lan", port: 2222},
		{in: "board", user: "me", host: "board", port: 22},
		{in: "root@[::1]:22", user: "root", host: "::1", port: 22},
		{in: "a@b:0", wantErr: true},
		{in: "a@b:x", wantErr: true},
		{in: "@b", wantErr: true},
		{in: "a b@c", wantErr: true},
	}
	for _, tt := range tests {
		u, h, p, err := ParseTarget(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseTarget(%q) = %q %q %d, want an error", tt.in, u, h, p)
			}
			continue
		}
		if err != nil || u != tt.user || h != tt.host || p != tt.port {
			t.Errorf("ParseTarget(%q) = %q %q %d %v, want %q %q %d", tt.in, u, h, p, err, tt.user, tt.host, tt.port)
		}
	}
}
