// Package datasets finds, fetches and reads the text data sets evaluation runs on.
//
// Today that is LAMBADA (OpenAI's detokenized test set, the one lm-eval calls
// lambada_openai): 5153 passages whose last word is to be predicted. The package
// accepts the two forms in circulation, JSON lines ({"text": …}) and the
// "|"-terminated text form of rwkv-qualcomm, and detects which one a file is.
//
// Data comes from a local file, or is downloaded once into the user's cache
// directory. A download is written to a temporary file beside its final name,
// checked against a SHA-256 and only then renamed into place, so a partial or
// corrupt download is never read as data. The package does not split passages into
// context and target: that is the evaluation protocol's job (package eval).
package datasets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// LAMBADA's standard test file: BlinkDL/ChatRWKV misc/lambada_test.jsonl at a fixed
// commit (Apache-2.0), byte-identical to OpenAI's lambada_test.jsonl.
const (
	LambadaURL      = "https://raw.githubusercontent.com/BlinkDL/ChatRWKV/4772bed84d13230a20307e4d1e8a3c49a3a020bb/misc/lambada_test.jsonl"
	LambadaSHA256   = "4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226"
	LambadaPassages = 5153
)

// Doc is one passage.
type Doc struct {
	// Index is the passage's 0-based position in the file, before Start is applied,
	// so that logs from partial runs line up.
	Index int
	Text  string
}

// Dataset is a read data set.
type Dataset struct {
	Path   string // the file read (the cache file after a download)
	SHA256 string // hex SHA-256 of that file, for the results record
	Format string // "jsonl" or "pipe"
	Total  int    // passages in the file
	Docs   []Doc  // the passages selected by Start and Limit
}

// Options says where the data comes from and which passages to use.
type Options struct {
	// Path is a local file. When set, nothing is downloaded and SHA256 is not
	// enforced (the file's hash is still reported): a user's own file may differ
	// from the standard one on purpose.
	Path string
	// URL is where to download from when Path is empty; LambadaURL if empty.
	URL string
	// SHA256 is the expected hex SHA-256 of the download and of the cached copy;
	// LambadaSHA256 if empty. A download is never used unverified.
	SHA256 string
	// CacheDir holds downloads; os.UserCacheDir()/rwkvbench if empty.
	CacheDir string
	// Client performs the download; http.DefaultClient if nil.
	Client *http.Client
	// Start skips that many passages; Limit, when positive, keeps at most that many.
	Start, Limit int
}

// Open reads LAMBADA as the options say: the local file, else a verified cached
// copy, else a fresh verified download into the cache.
func Open(ctx context.Context, opts Options) (*Dataset, error) {
	if opts.Start < 0 {
		return nil, fmt.Errorf("lambada: start %d is negative", opts.Start)
	}
	if opts.Limit < 0 {
		return nil, fmt.Errorf("lambada: limit %d is negative", opts.Limit)
	}
	p := opts.Path
	if p == "" {
		var err error
		if p, err = fetch(ctx, opts); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("lambada: %w", err)
	}
	ds := &Dataset{Path: p, SHA256: sha256Hex(data)}
	texts, format, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("lambada: %s: %w", p, err)
	}
	ds.Format, ds.Total = format, len(texts)
	if opts.Start > len(texts) {
		return nil, fmt.Errorf("lambada: %s: start %d is past the last of its %d passages", p, opts.Start, len(texts))
	}
	end := len(texts)
	if opts.Limit > 0 {
		end = min(end, opts.Start+opts.Limit)
	}
	for i := opts.Start; i < end; i++ {
		ds.Docs = append(ds.Docs, Doc{Index: i, Text: texts[i]})
	}
	return ds, nil
}

// Parse reads passages from a file's content, detecting its form: JSON lines if
// the first non-space byte is "{", else "|"-terminated passages. It returns the
// passages and "jsonl" or "pipe".
func Parse(data []byte) (texts []string, format string, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		texts, err = parseJSONL(data)
		return texts, "jsonl", err
	}
	texts, err = parsePipe(data)
	return texts, "pipe", err
}

// parseJSONL reads one {"text": "…"} object per line; blank lines are allowed.
func parseJSONL(data []byte) ([]string, error) {
	var texts []string
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var doc struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(line, &doc); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if doc.Text == nil {
			return nil, fmt.Errorf("line %d: no \"text\" field", n+1)
		}
		if *doc.Text == "" {
			return nil, fmt.Errorf("line %d: empty text", n+1)
		}
		texts = append(texts, *doc.Text)
	}
	if len(texts) == 0 {
		return nil, errors.New("no passages")
	}
	return texts, nil
}

// parsePipe reads passages each terminated by "|". Passages may span lines and are
// kept byte for byte, except that the line break conventionally written after a
// "|" is not part of the next passage. Text after the last "|" means a cut-off
// file and is an error, not a passage.
func parsePipe(data []byte) ([]string, error) {
	parts := strings.Split(string(data), "|")
	last := parts[len(parts)-1]
	if strings.TrimSpace(last) != "" {
		return nil, fmt.Errorf("passage %d is not terminated by \"|\" (truncated file?)", len(parts))
	}
	var texts []string
	for i, p := range parts[:len(parts)-1] {
		if i > 0 {
			p = strings.TrimPrefix(strings.TrimPrefix(p, "\r"), "\n")
		}
		if p == "" {
			return nil, fmt.Errorf("passage %d is empty", i+1)
		}
		texts = append(texts, p)
	}
	if len(texts) == 0 {
		return nil, errors.New("no passages")
	}
	return texts, nil
}

// fetch returns the path of a verified cached copy of opts.URL, downloading it if
// needed.
func fetch(ctx context.Context, opts Options) (string, error) {
	src := opts.URL
	if src == "" {
		src = LambadaURL
	}
	want := strings.ToLower(opts.SHA256)
	if want == "" {
		want = LambadaSHA256
	}
	if len(want) != 64 || strings.Trim(want, "0123456789abcdef") != "" {
		return "", fmt.Errorf("lambada: expected SHA-256 %q is not 64 hex digits", opts.SHA256)
	}
	dir := opts.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("lambada: no cache directory (%v); download %s yourself and pass --data PATH", err, src)
		}
		dir = filepath.Join(base, "rwkvbench")
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("lambada: download URL %q is not http(s)", src)
	}
	// The cache name carries the hash, so copies of different files never collide
	// and a changed expectation never picks up an old file.
	name := path.Base(u.Path)
	if name == "" || name == "/" || name == "." {
		name = "lambada"
	}
	dest := filepath.Join(dir, want[:16]+"-"+name)

	if data, err := os.ReadFile(dest); err == nil && sha256Hex(data) == want {
		return dest, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lambada: cache: %w", err)
	}
	if err := download(ctx, opts.Client, src, dir, dest, want); err != nil {
		return "", fmt.Errorf("lambada: not in the cache and the download failed: %w; "+
			"download the file yourself and pass --data PATH, or put it at %s", err, dest)
	}
	return dest, nil
}

// download fetches src into a temporary file in dir, checks its SHA-256 against
// want and renames it to dest. On any failure the temporary file is removed.
func download(ctx context.Context, client *http.Client, src, dir, dest, want string) (err error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", src, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err // already names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, ".download-*.part")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: after %d bytes: %w", src, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("GET %s: got %d of %d bytes", src, n, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("GET %s: SHA-256 is %s, want %s (%d bytes)", src, got, want, n)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
