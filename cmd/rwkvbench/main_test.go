package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// run calls the CLI as a user would, with empty stdin, and returns its exit code
// and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runIn(t, "", args...)
}

// runIn is run with stdin.
func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code = dispatch(context.Background(), e, args)
	return code, out.String(), errb.String()
}
