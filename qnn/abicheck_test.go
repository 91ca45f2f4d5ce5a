//go:build linux && (amd64 || arm64)

package qnn

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	standin "github.com/rwkvbench/rwkvbench/internal/qnnstandin"
)

// abiProgram is a C program printing sizeof and offsetof for every struct and
// field ABI() reports, so the binding's layout can be compared with a C compiler's
// reading of a set of headers. Table members named after an API version (v2_32,
// v1_7) are skipped when skipVersioned is set, since an SDK names them after its
// own version.
func abiProgram(includes []string, skipVersioned bool) []byte {
	var b bytes.Buffer
	b.WriteString("#include <stddef.h>\n#include <stdio.h>\n")
	for _, inc := range includes {
		fmt.Fprintf(&b, "#include %q\n", inc)
	}
	b.WriteString("int main(void) {\n")
	abi := ABI()
	names := make([]string, 0, len(abi.Structs))
	for n := range abi.Structs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\tprintf(\"%s #sizeof %%zu\\n\", sizeof(%s));\n", n, n)
		fields := make([]string, 0)
		for f := range abi.Structs[n].Fields {
			if skipVersioned && (f == "v2_32" || f == "v1_7") {
				continue
			}
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			fmt.Fprintf(&b, "\tprintf(\"%s %s %%zu\\n\", offsetof(%s, %s));\n", n, f, n, f)
		}
	}
	b.WriteString("\treturn 0;\n}\n")
	return b.Bytes()
}

// checkABI compiles and runs abiProgram and compares every line with ABI().
func checkABI(t *testing.T, dir string, includes []string, cflags []string, skipVersioned bool) {
	t.Helper()
	src := filepath.Join(dir, "abi_check.c")
	if err := os.WriteFile(src, abiProgram(includes, skipVersioned), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "abi_check")
	args := append(append([]string{}, cflags...), "-o", exe, src)
	if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		t.Fatalf("compile the ABI check: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	abi := ABI()
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		v, _ := strconv.ParseUint(f[2], 10, 64)
		s := abi.Structs[f[0]]
		want := s.Size
		if f[1] != "#sizeof" {
			want = s.Fields[f[1]]
		}
		if uintptr(v) != want {
			t.Errorf("%s %s: C says %d, the binding %d", f[0], f[1], v, want)
		}
		n++
	}
	if n < 100 {
		t.Errorf("only %d checks ran", n)
	}
}

// TestABIAgainstStandinHeader checks the ABI report against the stand-in's own C
// declarations — which proves the check program, not QNN.
func TestABIAgainstStandinHeader(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skipf("no C compiler: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qnn_standin.h"), standin.Header(), 0o644); err != nil {
		t.Fatal(err)
	}
	checkABI(t, dir, []string{"qnn_standin.h"}, []string{"-I" + dir}, false)
}

// TestABIAgainstSDKHeaders checks the ABI report against the real QNN headers of
// the SDK at $QNN_SDK_ROOT (include/QNN), when one is installed.
func TestABIAgainstSDKHeaders(t *testing.T) {
	root := os.Getenv("QNN_SDK_ROOT")
	inc := filepath.Join(root, "include", "QNN")
	if _, err := os.Stat(filepath.Join(inc, "QnnInterface.h")); root == "" || err != nil {
		t.Skipf("no QNN SDK headers at $QNN_SDK_ROOT/include/QNN (QNN_SDK_ROOT=%q); the layout is checked against the documented values and the stand-in header only", root)
	}
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skipf("no C compiler: %v", err)
	}
	checkABI(t, t.TempDir(), []string{
		"QnnInterface.h", "QnnTypes.h", "QnnContext.h", "QnnMem.h",
		"System/QnnSystemInterface.h", "System/QnnSystemContext.h",
		"HTP/QnnHtpDevice.h", "HTP/QnnHtpPerfInfrastructure.h", "HTP/QnnHtpMem.h", "HTP/QnnHtpContext.h",
	}, []string{"-I" + inc}, true)
}
