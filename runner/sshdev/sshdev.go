// Package sshdev reaches Linux boards (and any POSIX machine) over SSH as a
// runner.Device.
//
// Opinions: host keys are checked against known_hosts unless the caller opts out
// explicitly; files move through the session's standard streams (`cat > tmp && mv`)
// so the target needs no SFTP subsystem; every command line is built by
// runner.CommandLine. Windows targets are refused at Dial: their shells do not
// follow POSIX quoting, and a half-right quoting is worse than none.
package sshdev

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/rwkvbench/rwkvbench/bench"
	"github.com/rwkvbench/rwkvbench/runner"
)

// Config says how to reach and log in to a host.
type Config struct {
	User string
	Host string
	Port int // 22 when zero
	// KeyFiles are private keys to offer; when empty, the usual ~/.ssh/id_* files
	// that exist are offered.
	KeyFiles []string
	// Password, when set, is offered after keys.
	Password string
	// NoAgent stops the use of a running ssh-agent (SSH_AUTH_SOCK).
	NoAgent bool
	// KnownHosts is the known_hosts file; ~/.ssh/known_hosts when empty.
	KnownHosts string
	// InsecureIgnoreHostKey accepts any host key. Only for throwaway lab setups.
	InsecureIgnoreHostKey bool
	// Workdir is the directory for deploys; "rwkvbench" under the login directory
	// when empty (relative paths are taken from there).
	Workdir string
	// DialTimeout bounds connecting and logging in; 15s when zero.
	DialTimeout time.Duration
}

// ParseTarget splits "user@host[:port]" (IPv6 as "user@[::1]:22"); the user
// defaults to $USER and the port to 22.
func ParseTarget(s string) (user, host string, port int, err error) {
	user = os.Getenv("USER")
	rest := s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, rest = s[:i], s[i+1:]
	}
	port = 22
	host = rest
	if h, p, splitErr := net.SplitHostPort(rest); splitErr == nil {
		host = h
		n, convErr := strconv.Atoi(p)
		if convErr != nil || n <= 0 || n > 65535 {
			return "", "", 0, fmt.Errorf("ssh target %q: bad port %q", s, p)
		}
		port = n
	} else if strings.Count(rest, ":") == 1 {
		return "", "", 0, fmt.Errorf("ssh target %q: %v", s, splitErr)
	}
	host = strings.Trim(host, "[]")
	if user == "" || host == "" || strings.ContainsAny(user+host, " \t\n/") {
		return "", "", 0, fmt.Errorf("ssh target %q: want user@host[:port]", s)
	}
	return user, host, port, nil
}

// Device is a host reached over SSH.
type Device struct {
	cfg     Config
	serial  string
	workdir string

	mu     sync.Mutex // guards client, which Reconnect replaces
	client *ssh.Client
}

func (d *Device) conn() *ssh.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.client
}

// Dial connects, logs in, refuses non-POSIX hosts and creates the work directory.
func Dial(ctx context.Context, cfg Config) (*Device, error) {
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	serial := cfg.User + "@" + addr
	auth, closeAgent, err := authMethods(cfg)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", serial, err)
	}
	defer closeAgent()
	hostKey, err := hostKeyCallback(cfg)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", serial, err)
	}
	dialCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", serial, err)
	}
	if dl, ok := dialCtx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:            cfg.User,
		Auth:            auth,
		HostKeyCallback: hostKey,
		Timeout:         cfg.DialTimeout,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh %s: %w", serial, err)
	}
	_ = conn.SetDeadline(time.Time{})
	d := &Device{cfg: cfg, client: ssh.NewClient(c, chans, reqs), serial: serial}

	// One round trip: is this a POSIX shell, and where is home?
	var out, errOut strings.Builder
	if err := d.runLine(ctx, `uname -s; pwd`, runner.Cmd{Stdout: &out, Stderr: &errOut}, []string{"uname"}); err != nil {
		d.Close()
		return nil, fmt.Errorf("ssh %s: the login shell does not answer `uname -s` (%v); only POSIX targets are supported — Windows hosts need their own quoting, which this harness does not implement", serial, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || strings.Contains(strings.ToLower(lines[0]), "windows") || !strings.HasPrefix(lines[len(lines)-1], "/") {
		d.Close()
		return nil, fmt.Errorf("ssh %s: not a POSIX host (uname/pwd said %q); Windows targets over SSH are refused: their shells need their own quoting", serial, out.String())
	}
	home := strings.TrimSpace(lines[len(lines)-1])
	d.workdir = cfg.Workdir
	if d.workdir == "" {
		d.workdir = "rwkvbench"
	}
	if !path.IsAbs(d.workdir) {
		d.workdir = path.Join(home, d.workdir)
	}
	if err := d.Run(ctx, runner.Cmd{Args: []string{"mkdir", "-p", d.workdir}, Dir: "/"}); err != nil {
		d.Close()
		return nil, fmt.Errorf("ssh %s: create work directory: %w", serial, err)
	}
	return d, nil
}

func authMethods(cfg Config) ([]ssh.AuthMethod, func(), error) {
	var methods []ssh.AuthMethod
	closeAgent := func() {}
	var signers []ssh.Signer
	keyFiles := cfg.KeyFiles
	explicit := len(keyFiles) > 0
	if !explicit {
		if home, err := os.UserHomeDir(); err == nil {
			for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				p := filepath.Join(home, ".ssh", n)
				if _, err := os.Stat(p); err == nil {
					keyFiles = append(keyFiles, p)
				}
			}
		}
	}
	for _, p := range keyFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, closeAgent, fmt.Errorf("private key: %w", err)
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) && !explicit {
				continue // encrypted default keys are the agent's job
			}
			return nil, closeAgent, fmt.Errorf("private key %s: %w", p, err)
		}
		signers = append(signers, s)
	}
	if !cfg.NoAgent {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			if conn, err := net.Dial("unix", sock); err == nil {
				closeAgent = func() { conn.Close() }
				if agentSigners, err := agent.NewClient(conn).Signers(); err == nil {
					signers = append(signers, agentSigners...)
				}
			}
		}
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if cfg.Password != "" {
		methods = append(methods, ssh.Password(cfg.Password))
	}
	if len(methods) == 0 {
		return nil, closeAgent, fmt.Errorf("no authentication method: give a key file, run ssh-agent or set a password")
	}
	return methods, closeAgent, nil
}

func hostKeyCallback(cfg Config) (ssh.HostKeyCallback, error) {
	if cfg.InsecureIgnoreHostKey {
		return ssh.InsecureIgnoreHostKey(), nil
	}
	file := cfg.KnownHosts
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		file = filepath.Join(home, ".ssh", "known_hosts")
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w (add the host with ssh-keyscan, or opt out of host key checking explicitly)", file, err)
	}
	return cb, nil
}

// Serial implements runner.Device.
func (d *Device) Serial() string { return d.serial }

// Transport implements runner.Device.
func (d *Device) Transport() string { return "ssh" }

// Workdir implements runner.Device.
func (d *Device) Workdir() string { return d.workdir }

// Run implements runner.Device.
func (d *Device) Run(ctx context.Context, c runner.Cmd) error {
	line, err := runner.CommandLine(c, d.workdir)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.serial, err)
	}
	return d.runLine(ctx, line, c, c.Args)
}

func (d *Device) runLine(ctx context.Context, line string, c runner.Cmd, args []string) error {
	s, err := d.conn().NewSession()
	if err != nil {
		return fmt.Errorf("device %s: new session: %w", d.serial, err)
	}
	defer s.Close()
	s.Stdin, s.Stdout = c.Stdin, c.Stdout
	tail := &runner.Tail{}
	if c.Stderr != nil {
		s.Stderr = multiWriter{c.Stderr, tail}
	} else {
		s.Stderr = tail
	}
	if err := s.Start(line); err != nil {
		return fmt.Errorf("device %s: start %q: %w", d.serial, args, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		<-done
		return fmt.Errorf("device %s: %q: %w", d.serial, args, ctx.Err())
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) && exit.Signal() == "" {
		return &runner.ExitError{Device: d.serial, Args: args, Code: exit.ExitStatus(), Stderr: tail.String()}
	}
	if err != nil {
		return fmt.Errorf("device %s: %q: %w", d.serial, args, err)
	}
	return nil
}

type multiWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (m multiWriter) Write(p []byte) (int, error) {
	if _, err := m.a.Write(p); err != nil {
		return 0, err
	}
	return m.b.Write(p)
}

// Push implements runner.Device over the session's standard input.
func (d *Device) Push(ctx context.Context, local, remote string, progress func(int64)) error {
	return runner.PushViaStdin(ctx, d, local, d.abs(remote), progress)
}

// Pull implements runner.Device over the session's standard output.
func (d *Device) Pull(ctx context.Context, remote, local string) error {
	return runner.PullViaStdout(ctx, d, d.abs(remote), local)
}

// Stat implements runner.Device.
func (d *Device) Stat(ctx context.Context, remote string) (runner.FileInfo, error) {
	return runner.StatPOSIX(ctx, d, d.abs(remote))
}

// SHA256 implements runner.Device.
func (d *Device) SHA256(ctx context.Context, remote string) (string, error) {
	return runner.SHA256POSIX(ctx, d, d.abs(remote))
}

// Describe implements runner.Device.
func (d *Device) Describe(ctx context.Context) (runner.Info, error) {
	return runner.DescribePOSIX(ctx, d, nil)
}

// ThermalState implements runner.Device and bench.Thermal.
func (d *Device) ThermalState(ctx context.Context) (bench.ThermalState, error) {
	info, err := d.Describe(ctx)
	if err != nil {
		return bench.ThermalState{}, err
	}
	return info.ThermalState(), nil
}

// Reconnect replaces a dropped connection with a new one, trying until it succeeds
// or wait has passed.
func (d *Device) Reconnect(ctx context.Context, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	cfg := d.cfg
	cfg.Workdir = d.workdir
	for {
		nd, err := Dial(ctx, cfg)
		if err == nil {
			d.mu.Lock()
			old := d.client
			d.client = nd.client
			d.mu.Unlock()
			old.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ssh %s did not come back within %v: %w", d.serial, wait, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Close implements runner.Device.
func (d *Device) Close() error { return d.conn().Close() }

func (d *Device) abs(p string) string {
	if path.IsAbs(p) {
		return p
	}
	return path.Join(d.workdir, p)
}
