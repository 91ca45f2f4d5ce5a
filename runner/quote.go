package runner

import (
	"fmt"
	"sort"
	"strings"
)

// ShellQuote quotes s as one word for a POSIX shell (sh, dash, bash, Android's mksh
// and toybox): the result, read by the shell, is exactly s. Words made only of
// characters no shell treats specially are returned as they are, for readable
// command lines; everything else goes inside single quotes, where the shell
// interprets nothing, and each single quote is written as '\” (close, escaped
// quote, reopen). A NUL byte cannot be passed to a program at all; CommandLine
// refuses it before quoting.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if isPlainWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isPlainWord reports whether s needs no quoting: letters, digits and a few
// punctuation marks that no POSIX shell expands in any position.
func isPlainWord(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_-./:,+@%", r):
		case r == '=' && i > 0: // zsh expands a leading '='
		default:
			return false
		}
	}
	// A leading '-' is fine for the shell; whether the program takes it as a flag
	// is the caller's business. A leading '%' is job syntax only in interactive
	// shells' fg/bg, which never run our commands.
	return true
}

// CommandLine renders c as one POSIX shell command line: change to the working
// directory, set the environment, exec the program. Every variable part is quoted
// with ShellQuote. It refuses NUL bytes and environment names that are not shell
// identifiers rather than produce a line that means something else.
func CommandLine(c Cmd, workdir string) (string, error) {
	if len(c.Args) == 0 {
		return "", fmt.Errorf("command line: no program given")
	}
	dir := c.Dir
	if dir == "" {
		dir = workdir
	}
	var b strings.Builder
	if dir != "" {
		if err := checkNUL("working directory", dir); err != nil {
			return "", err
		}
		b.WriteString("cd ")
		b.WriteString(ShellQuote(dir))
		b.WriteString(" && ")
	}
	names := make([]string, 0, len(c.Env))
	for k := range c.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	b.WriteString("exec")
	if len(names) > 0 {
		b.WriteString(" env")
	}
	for _, k := range names {
		if !isIdentifier(k) {
			return "", fmt.Errorf("command line: environment name %q is not a shell identifier", k)
		}
		v := c.Env[k]
		if err := checkNUL("environment variable "+k, v); err != nil {
			return "", err
		}
		b.WriteString(" ")
		b.WriteString(ShellQuote(k + "=" + v))
	}
	for i, a := range c.Args {
		if err := checkNUL(fmt.Sprintf("argument %d", i), a); err != nil {
			return "", err
		}
		if i == 0 && (strings.Contains(a, "=") || strings.HasPrefix(a, "-")) {
			// exec and env would read such a word as an assignment or an option, not
			// as the program; no program we run is named like this.
			return "", fmt.Errorf("command line: program name %q starts with '-' or contains '='", a)
		}
		b.WriteString(" ")
		b.WriteString(ShellQuote(a))
	}
	return b.String(), nil
}

func checkNUL(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("command line: %s contains a NUL byte, which no program can receive", what)
	}
	return nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
