package qnn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	standin "github.com/rwkvbench/rwkvbench/internal/qnnstandin"
)

// Compiling the stand-in takes about a second on a loaded machine, so the tests
// share one build per set of -D switches. Sessions do not share state through the
// library: its per-model state lives in each context.
var standinBuilds struct {
	sync.Mutex
	dir  string
	libs map[string]string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "qnn-standin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	standinBuilds.dir, standinBuilds.libs = dir, map[string]string{}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// standinLib returns the QNN STAND-IN library built with defines, building it once.
func standinLib(t *testing.T, defines ...string) string {
	t.Helper()
	standinBuilds.Lock()
	defer standinBuilds.Unlock()
	key := strings.Join(defines, " ")
	if lib, ok := standinBuilds.libs[key]; ok {
		return lib
	}
	lib := standin.BuildIn(t, filepath.Join(standinBuilds.dir, fmt.Sprint(len(standinBuilds.libs))), defines...)
	standinBuilds.libs[key] = lib
	return lib
}
