// Package devicetest checks that a runner.Device behaves as the interface promises:
// the same test runs against the local, adb and SSH transports, so that a transport
// passes only if hostile file names and arguments survive it unchanged.
package devicetest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwkvbench/rwkvbench/runner"
)

// HostileName is a file name with spaces, both quote kinds, a command
// substitution, backticks, a glob and a semicolon.
const HostileName = "a b 'c' \"d\" $(touch pwned) `touch pwned2`; *.sh"

// HostileArgs are arguments a command must receive verbatim.
var HostileArgs = []string{"", "two words", "it's", "$(id)", "`id`", "a;b", "*", "line\nbreak", "$HOME", "\\"}

// Conformance pushes a script under HostileName to d, runs it with HostileArgs and
// checks what it received, then exercises Stat, SHA256, Pull, exit codes, stdin and
// Describe. It leaves its files under d's work directory in a "conformance"
// subdirectory.
func Conformance(t *testing.T, d runner.Device) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	local := filepath.Join(t.TempDir(), "script.sh")
	// The script prints each argument followed by a NUL-free separator line, and
	// its own name, so the test sees exactly what the device shell delivered.
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\nprintf 'env=<%s>\\n' \"$RWKV_TEST_VALUE\"\n"
	if err := os.WriteFile(local, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := path.Join(d.Workdir(), "conformance", "dir with 'quote' and $(x)")
	if err := d.Run(ctx, runner.Cmd{Args: []string{"mkdir", "-p", dir}}); err != nil {
		t.Fatalf("mkdir on %s: %v", d.Serial(), err)
	}
	remote := path.Join(dir, HostileName)
	var pushed int64
	if err := d.Push(ctx, local, remote, func(n int64) { pushed = n }); err != nil {
		t.Fatalf("push to %s: %v", d.Serial(), err)
	}
	if pushed != int64(len(script)) {
		t.Errorf("push progress reported %d bytes, want %d", pushed, len(script))
	}

	st, err := d.Stat(ctx, remote)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if st.Size != int64(len(script)) {
		t.Errorf("stat size = %d, want %d", st.Size, len(script))
	}
	sum, err := d.SHA256(ctx, remote)
	if err != nil {
		t.Fatalf("sha256: %v", err)
	}
	want, _ := runner.FileSHA256(local)
	if sum != want {
		t.Errorf("remote sha256 = %s, want %s", sum, want)
	}
	if _, err := d.Stat(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat of a missing file: err = %v, want fs.ErrNotExist", err)
	}

	var out bytes.Buffer
	value := "v'$(id)`x`;\"y\""
	err = d.Run(ctx, runner.Cmd{Args: append([]string{"sh", remote}, HostileArgs...), Env: map[string]string{"RWKV_TEST_VALUE": value}, Dir: dir, Stdout: &out})
	if err != nil {
		t.Fatalf("run %q on %s: %v", remote, d.Serial(), err)
	}
	var wantOut strings.Builder
	for _, a := range HostileArgs {
		wantOut.WriteString("<" + a + ">\n")
	}
	wantOut.WriteString("env=<" + value + ">\n")
	if out.String() != wantOut.String() {
		t.Errorf("script on %s printed\n%q\nwant\n%q", d.Serial(), out.String(), wantOut.String())
	}
	for _, p := range []string{"pwned", "pwned2"} {
		if _, err := d.Stat(ctx, path.Join(dir, p)); err == nil {
			t.Errorf("a quoted name was executed: %s exists on %s", p, d.Serial())
		}
	}

	// Exit status and standard input.
	err = d.Run(ctx, runner.Cmd{Args: []string{"sh", "-c", "cat; echo oops >&2; exit 7"}, Stdin: strings.NewReader("from stdin"), Stdout: &out})
	var exit *runner.ExitError
	if !errors.As(err, &exit) || exit.Code != 7 {
		t.Fatalf("exit 7 on %s: err = %v, want *runner.ExitError with code 7", d.Serial(), err)
	}
	if !strings.Contains(exit.Stderr, "oops") {
		t.Errorf("ExitError.Stderr = %q, want the command's standard error", exit.Stderr)
	}
	if !strings.HasSuffix(out.String(), "from stdin") {
		t.Errorf("stdin did not reach the command on %s: output ends %q", d.Serial(), out.String())
	}

	pulled := filepath.Join(t.TempDir(), "pulled")
	if err := d.Pull(ctx, remote, pulled); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if b, _ := os.ReadFile(pulled); string(b) != script {
		t.Errorf("pulled %q, want %q", b, script)
	}

	info, err := d.Describe(ctx)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	if info.Serial != d.Serial() || info.Transport != d.Transport() {
		t.Errorf("describe: serial/transport = %q/%q, want %q/%q", info.Serial, info.Transport, d.Serial(), d.Transport())
	}
	if info.GOARCH == "" || info.GOOS == "" {
		t.Errorf("describe: no agent platform in %+v", info)
	}
	thermal, err := d.ThermalState(ctx)
	if err != nil {
		t.Fatalf("thermal state: %v", err)
	}
	if want := info.ThermalState(); thermal.Status != want.Status {
		t.Errorf("ThermalState status %d, Describe says %d", thermal.Status, want.Status)
	}
}
