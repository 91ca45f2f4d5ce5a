package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

const sample = `{"text": "one two three"}
{"text": "he said \"go\" now"}

{"text": "line\nbreak word"}
`

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
		format     string
		wantErr    string
	}{
		{"jsonl", sample, []string{"one two three", `he said "go" now`, "line\nbreak word"}, "jsonl", ""},
		{"jsonl bom", "\xef\xbb\xbf" + `{"text": "a b"}`, []string{"a b"}, "jsonl", ""},
		{"pipe", "one two three|he said\nso now|\n", []string{"one two three", "he said\nso now"}, "pipe", ""},
		{"pipe newline after bar", "a b|\nc d|", []string{"a b", "c d"}, "pipe", ""},
		{"pipe truncated", "a b|c d", nil, "", "passage 2 is not terminated"},
		{"pipe empty passage", "a b||", nil, "", "passage 2 is empty"},
		{"empty", "", nil, "", "no passages"},
		{"jsonl bad line", "{\"text\": \"a b\"}\n{\"text\": 3}\n", nil, "", "line 2"},
		{"jsonl no text", "{\"txt\": \"a b\"}\n", nil, "", "line 1: no \"text\""},
		{"jsonl empty text", "{\"text\": \"\"}\n", nil, "", "line 1: empty text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, format, err := Parse([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || format != tc.format || !slices.Equal(got, tc.want) {
				t.Fatalf("Parse = %q, %q, %v; want %q, %q", got, format, err, tc.want, tc.format)
			}
		})
	}
}

func TestOpenLocalStartLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l.jsonl")
	if err := os.WriteFile(p, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start, limit int
		want         []int
		wantErr      string
	}{
		{0, 0, []int{0, 1, 2}, ""},
		{1, 0, []int{1, 2}, ""},
		{1, 1, []int{1}, ""},
		{0, 10, []int{0, 1, 2}, ""},
		{3, 0, nil, ""},
		{4, 0, nil, "start 4 is past"},
		{-1, 0, nil, "negative"},
		{0, -1, nil, "negative"},
	} {
		ds, err := Open(context.Background(), Options{Path: p, Start: tc.start, Limit: tc.limit})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("start %d limit %d: error = %v, want %q", tc.start, tc.limit, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("start %d limit %d: %v", tc.start, tc.limit, err)
		}
		var got []int
		for _, d := range ds.Docs {
			got = append(got, d.Index)
		}
		if !slices.Equal(got, tc.want) || ds.Total != 3 || ds.SHA256 != hashOf(sample) || ds.Format != "jsonl" {
			t.Errorf("start %d limit %d: indexes %v total %d hash %s format %s", tc.start, tc.limit, got, ds.Total, ds.SHA256, ds.Format)
		}
	}
	if _, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "missing")}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: error = %v", err)
	}
}

// server serves sample on loopback, or misbehaves as mode says, and counts
// requests.
func server(t *testing.T, mode string, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch mode {
		case "good":
			w.Write([]byte(sample))
		case "corrupt":
			w.Write([]byte(strings.Replace(sample, "one", "One", 1)))
		case "truncated":
			// Promise the whole file, send half, and let the server cut the
			// connection.
			w.Header().Set("Content-Length", strconv.Itoa(len(sample)))
			w.Write([]byte(sample[:len(sample)/2]))
		case "error":
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDownload(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantErr string
	}{
		{"good", ""},
		{"corrupt", "SHA-256 is"},
		{"truncated", "GET"},
		{"error", "500 Internal Server Error"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			var hits atomic.Int32
			srv := server(t, tc.mode, &hits)
			cache := filepath.Join(t.TempDir(), "cache")
			ds, err := Open(context.Background(), Options{
				URL: srv.URL + "/lambada_test.jsonl", SHA256: hashOf(sample), CacheDir: cache, Limit: 2,
			})
			entries, _ := os.ReadDir(cache)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "--data PATH") || !strings.Contains(err.Error(), cache) {
					t.Errorf("error %q does not say where to put the file", err)
				}
				// Nothing, not even a partial file, may be left for a later run.
				if len(entries) != 0 {
					t.Errorf("cache holds %v after a failed download", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Docs) != 2 || ds.Docs[0].Text != "one two three" || ds.SHA256 != hashOf(sample) {
				t.Errorf("got %+v", ds)
			}
			if len(entries) != 1 || filepath.Dir(ds.Path) != cache {
				t.Errorf("cache holds %v, dataset path %s", entries, ds.Path)
			}
		})
	}
}

func TestCacheHitWithoutNetwork(t *testing.T) {
	var hits atomic.Int32
	srv := server(t, "good", &hits)
	cache := t.TempDir()
	opts := Options{URL: srv.URL + "/lambada_test.jsonl", SHA256: hashOf(sample), CacheDir: cache}
	if _, err := Open(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	srv.Close() // the network is gone
	ds, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("cached open: %v", err)
	}
	if len(ds.Docs) != 3 || hits.Load() != 1 {
		t.Errorf("%d docs, %d requests; want 3 docs from one request", len(ds.Docs), hits.Load())
	}

	// A cached copy that no longer matches is not used, and with no network the
	// error says where to put the file.
	if err := os.WriteFile(ds.Path, []byte("{\"text\": \"tampered x\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), ds.Path) {
		t.Errorf("tampered cache offline: error = %v, want one naming %s", err, ds.Path)
	}
}

func TestDownloadOptionErrors(t *testing.T) {
	cache := t.TempDir()
	for _, tc := range []struct {
		opts    Options
		wantErr string
	}{
		{Options{URL: "ftp://example.invalid/x", CacheDir: cache}, "not http(s)"},
		{Options{URL: "http://127.0.0.1:1/x", SHA256: "abc", CacheDir: cache}, "64 hex digits"},
		{Options{URL: "http://127.0.0.1:1/x", CacheDir: cache}, "--data PATH"},
	} {
		if _, err := Open(context.Background(), tc.opts); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%+v: error = %v, want %q", tc.opts, err, tc.wantErr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var hits atomic.Int32
	srv := server(t, "good", &hits)
	if _, err := Open(ctx, Options{URL: srv.URL + "/x", SHA256: hashOf(sample), CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancelled download: error = %v", err)
	}
}

func TestOpenSharedLambada(t *testing.T) {
	p := fixtures.Shared(t, "lambada/lambada_test.jsonl")
	ds, err := Open(context.Background(), Options{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Total != LambadaPassages || ds.SHA256 != LambadaSHA256 || ds.Format != "jsonl" {
		t.Errorf("total %d sha %s format %s; want %d %s jsonl", ds.Total, ds.SHA256, ds.Format, LambadaPassages, LambadaSHA256)
	}
	// The pipe form of the same passages reads back identically.
	var b strings.Builder
	for _, d := range ds.Docs {
		b.WriteString(d.Text + "|")
	}
	texts, format, err := Parse([]byte(b.String()))
	if err != nil || format != "pipe" || len(texts) != LambadaPassages {
		t.Fatalf("pipe form: %d passages, %q, %v", len(texts), format, err)
	}
	for i, tx := range texts {
		if tx != ds.Docs[i].Text {
			t.Fatalf("pipe passage %d differs", i)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("a b|c\nd e|\n"))
	f.Add([]byte("{\"text\": \"\\u00e9 x\"}"))
	f.Add([]byte("|"))
	f.Fuzz(func(t *testing.T, data []byte) {
		texts, format, err := Parse(data)
		if err != nil {
			return
		}
		if format != "jsonl" && format != "pipe" {
			t.Fatalf("format %q", format)
		}
		if len(texts) == 0 {
			t.Fatal("no passages and no error")
		}
		for i, tx := range texts {
			if tx == "" {
				t.Fatalf("passage %d empty", i)
			}
			if format == "pipe" && strings.Contains(tx, "|") {
				t.Fatalf("pipe passage %d contains |", i)
			}
		}
	})
}
