package devicetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SSHD is a real OpenSSH server started for one test on a loopback port.
type SSHD struct {
	User       string
	Port       int
	KeyFile    string // the client's private key, authorized for User
	KnownHosts string // a known_hosts file holding the server's host key
	Log        *bytes.Buffer
}

// StartSSHD runs /usr/sbin/sshd in the foreground (-D -e) with a generated host
// key, a temporary authorized_keys and its own config, listening on a free
// 127.0.0.1 port, and stops it when the test ends. extraConfig lines are appended
// to sshd_config. It skips the test, saying why, when sshd or ssh-keygen is not
// installed.
func StartSSHD(t *testing.T, extraConfig ...string) *SSHD {
	t.Helper()
	const sshdPath = "/usr/sbin/sshd"
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("skipping: %s not installed (Debian package openssh-server): %v", sshdPath, err)
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skipf("skipping: ssh-keygen not installed (Debian package openssh-client): %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		// sshd insists on its privilege-separation directory when started as root.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("skipping: sshd needs /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	clientKey := filepath.Join(dir, "client_ed25519")
	for _, k := range []string{hostKey, clientKey} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "rwkvbench-test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(hostPub))
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, fmt.Appendf(nil, "[127.0.0.1]:%d %s %s\n", port, f[0], f[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
PermitRootLogin prohibit-password
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel ERROR
`, port, hostKey, authorized, filepath.Join(dir, "sshd.pid")) + strings.Join(extraConfig, "\n") + "\n"
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &bytes.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sshdPath, "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = log, log
	// Session processes of connections the test left open inherit the log pipe;
	// do not wait for them after sshd itself has gone.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited before listening:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on 127.0.0.1:%d within 10s:\n%s", port, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &SSHD{User: u.Username, Port: port, KeyFile: clientKey, KnownHosts: knownHosts, Log: log}
}

// freePort asks the kernel for a free loopback port. Another process could take it
// before sshd binds it; on a test machine that race is rare and shows as a clear
// sshd bind error.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
