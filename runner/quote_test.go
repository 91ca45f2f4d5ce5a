package runner

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileStrings are the names the brief and real file systems throw at a shell.
var hostileStrings = []string{
	"",
	"plain",
	"with space",
	"it's",
	`double "quoted"`,
	"$(touch /tmp/rwkvbench-pwned)",
	"`id`",
	"a;b",
	"a && b || c",
	"*",
	"?[a-z]",
	"~root",
	"line\nbreak",
	"tab\there",
	"back\\slash",
	"'",
	"''",
	`'\''`,
	"$HOME ${PATH} $1 $@",
	"-n",
	"-e \\n",
	"%s %d",
	"#comment",
	"a|b>c<d&",
	"!history",
	"{a,b}",
	"ünïcødé ✓",
	"\x01\x7f\xff",
	"trailing\\",
}

// printViaShell runs `sh -c "printf %s <quoted>"` and returns what the shell passed
// to printf.
func printViaShell(t *testing.T, s string) string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", "printf %s "+ShellQuote(s)).Output()
	if err != nil {
		t.Fatalf("sh -c printf %%s %s: %v", ShellQuote(s), err)
	}
	return string(out)
}

func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range hostileStrings {
		if got := printViaShell(t, s); got != s {
			t.Errorf("ShellQuote(%q) = %s; shell printed %q", s, ShellQuote(s), got)
		}
	}
}

// TestShellQuoteRandom is the property test: random strings of any bytes but NUL
// survive the shell unchanged.
func TestShellQuoteRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab '\"\\$`;&|*?()[]{}<>~#!\n\t-=%")
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.IntN(24))
		for j := range b {
			if rng.IntN(4) == 0 {
				b[j] = byte(1 + rng.IntN(255))
			} else {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		s := string(b)
		if got := printViaShell(t, s); got != s {
			t.Fatalf("ShellQuote(%q) = %s; shell printed %q", s, ShellQuote(s), got)
		}
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("NUL cannot be an argument")
		}
		if got := printViaShell(t, s); got != s {
			t.Fatalf("ShellQuote(%q) = %s; shell printed %q", s, ShellQuote(s), got)
		}
	})
}

func TestShellQuotePlainWordsUnchanged(t *testing.T) {
	for _, s := range []string{"adb", "/data/local/tmp/rwkvbench", "a=b", "x.bin", "-s", "v1.2+3@x:y,z%"} {
		if got := ShellQuote(s); got != s {
			t.Errorf("ShellQuote(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name    string
		cmd     Cmd
		workdir string
		want    string
		wantErr string
	}{
		{name: "plain", cmd: Cmd{Args: []string{"ls", "-l"}}, workdir: "/w", want: "cd /w && exec ls -l"},
		{name: "no workdir", cmd: Cmd{Args: []string{"true"}}, want: "exec true"},
		{name: "dir overrides", cmd: Cmd{Args: []string{"pwd"}, Dir: "/a b"}, workdir: "/w", want: "cd '/a b' && exec pwd"},
		{name: "env sorted and quoted", cmd: Cmd{Args: []string{"./agent"}, Env: map[string]string{"LD_LIBRARY_PATH": "/w", "ADSP_LIBRARY_PATH": "/w;/dsp"}},
			want: "exec env 'ADSP_LIBRARY_PATH=/w;/dsp' LD_LIBRARY_PATH=/w ./agent"},
		{name: "empty", cmd: Cmd{}, wantErr: "no program"},
		{name: "NUL arg", cmd: Cmd{Args: []string{"echo", "a\x00b"}}, wantErr: "NUL"},
		{name: "NUL dir", cmd: Cmd{Args: []string{"echo"}, Dir: "\x00"}, wantErr: "NUL"},
		{name: "bad env name", cmd: Cmd{Args: []string{"echo"}, Env: map[string]string{"A;B": "x"}}, wantErr: "not a shell identifier"},
		{name: "program with =", cmd: Cmd{Args: []string{"A=b"}}, wantErr: "contains '='"},
		{name: "program with -", cmd: Cmd{Args: []string{"-x"}}, wantErr: "starts with '-'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CommandLine(tt.cmd, tt.workdir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CommandLine() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("CommandLine() = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzCommandLine(f *testing.F) {
	f.Add("x", "y", "A", "v")
	f.Add("$(id)", "it's", "B_1", "`x`;y")
	f.Fuzz(func(t *testing.T, a, dirPart, envName, envVal string) {
		if !utf8.ValidString(a) || strings.ContainsRune(a+dirPart+envVal, 0) {
			t.Skip()
		}
		c := Cmd{Args: []string{"printf", "%s|%s", a, envVal}, Env: map[string]string{envName: envVal}}
		line, err := CommandLine(c, "/")
		if err != nil {
			if isIdentifier(envName) {
				t.Fatalf("CommandLine refused a valid command: %v", err)
			}
			return
		}
		out, err := exec.Command("/bin/sh", "-c", line).Output()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if want := a + "|" + envVal; string(out) != want {
			t.Fatalf("%s printed %q, want %q", line, out, want)
		}
	})
}
