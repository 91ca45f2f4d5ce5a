// Package archtest checks that the import rules in docs/architecture.md hold in the code.
// The document is the source of truth: the test parses its "Import rules" table, so the
// page cannot drift from what the packages really import.
package archtest

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

const module = "github.com/rwkvbench/rwkvbench"

// rule is one row of the import-rules table.
type rule struct {
	anything bool
	allowed  []string
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readRules parses the "## Import rules" table of docs/architecture.md.
func readRules(t *testing.T, root string) map[string]rule {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatalf("open architecture doc: %v", err)
	}
	defer f.Close()
	rules := map[string]rule{}
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inSection = line == "## Import rules"
			continue
		}
		if !inSection || !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 4 {
			t.Fatalf("architecture doc: malformed rule row %q", line)
		}
		var r rule
		switch {
		case strings.Contains(cols[2], "anything"):
			r.anything = true
		case strings.Contains(cols[2], "nothing of the project"):
		default:
			for _, m := range backticked.FindAllStringSubmatch(cols[2], -1) {
				r.allowed = append(r.allowed, m[1])
			}
		}
		for _, m := range backticked.FindAllStringSubmatch(cols[1], -1) {
			rules[m[1]] = r
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read architecture doc: %v", err)
	}
	for _, must := range []string{"model", "reports", "runner", "cmd/rwkvbench"} {
		if _, ok := rules[must]; !ok {
			t.Fatalf("architecture doc: no import rule for %s under '## Import rules'", must)
		}
	}
	return rules
}

// governing returns the row a package follows: its own, or its nearest listed parent's.
func governing(pkg string, rules map[string]rule) (string, bool) {
	for p := pkg; p != "." && p != ""; p = filepath.ToSlash(filepath.Dir(p)) {
		if _, ok := rules[p]; ok {
			return p, true
		}
	}
	return "", false
}

func within(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

// projectImports returns, per package directory, the project packages its non-test files import.
func projectImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	imports := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "docs") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range file.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if within(p, module) && p != module {
				imports[pkg][strings.TrimPrefix(p, module+"/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	out := map[string][]string{}
	for pkg, set := range imports {
		list := []string{}
		for p := range set {
			list = append(list, p)
		}
		sort.Strings(list)
		out[pkg] = list
	}
	return out
}

func TestImportRules(t *testing.T) {
	root := fixtures.Root(t)
	rules := readRules(t, root)
	for pkg, imps := range projectImports(t, root) {
		if pkg == "." {
			continue
		}
		row, ok := governing(pkg, rules)
		if !ok {
			t.Errorf("package %s has no row in docs/architecture.md's import rules", pkg)
			continue
		}
		r := rules[row]
		if r.anything {
			continue
		}
		for _, imp := range imps {
			if within(imp, row) {
				continue // its own component
			}
			ok := false
			for _, a := range r.allowed {
				if within(imp, a) {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("package %s imports %s, which docs/architecture.md does not allow for %s", pkg, imp, row)
			}
		}
	}
}

func TestReportsNeverImportRunner(t *testing.T) {
	root := fixtures.Root(t)
	for pkg, imps := range projectImports(t, root) {
		if !within(pkg, "reports") {
			continue
		}
		for _, imp := range imps {
			if within(imp, "runner") {
				t.Errorf("%s imports %s: reports must never depend on the device fleet", pkg, imp)
			}
		}
	}
}
