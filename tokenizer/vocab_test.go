package tokenizer

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePythonLiteral(t *testing.T) {
	for _, tc := range []struct {
		lit     string
		want    string
		wantErr string
	}{
		{`'a'`, "a", ""},
		{`' the'`, " the", ""},
		{`"'"`, "'", ""},
		{`'\''`, "'", ""},
		{`'\"'`, `"`, ""},
		{`'\\'`, `\`, ""},
		{`'\n\t\r'`, "\n\t\r", ""},
		{`'\x00'`, "\x00", ""},
		{`'\xe9'`, "é", ""}, // a str \x escape is a code point, UTF-8 encoded
		{`b'\xe9'`, "\xe9", ""},
		{`'\u2002'`, "\u2002", ""},
		{`'\U0001F600'`, "\U0001F600", ""},
		{`'以下'`, "以下", ""},
		{`b'a\\b'`, `a\b`, ""},
		{`'a`, "", "not quoted"},
		{`'a"`, "", "not quoted"},
		{`'it's'`, "", "unescaped quote"},
		{`'\q'`, "", "unsupported escape"},
		{`'\x4'`, "", "short"},
		{`'\xzz'`, "", "bad"},
		{`'\ud800'`, "", "not an encodable code point"},
		{`b'\u2002'`, "", "bytes literal"},
		{"b'\xe9'", "", "non-ASCII"},
		{"'\xff'", "", "not valid UTF-8"},
		{`'\'`, "", "dangling"},
	} {
		got, err := parsePythonLiteral([]byte(tc.lit))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parsePythonLiteral(%s) = %q, %v; want error containing %q", tc.lit, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("parsePythonLiteral(%s) = %q, %v; want %q", tc.lit, got, err, tc.want)
		}
	}
}

func TestParseVocabErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"ok", "1 'a' 1\n2 'bc' 2\n", ""},
		{"gap", "1 'a' 1\n3 'b' 1\n", "v:2: id 3 out of order (want 2)"},
		{"length", "1 'ab' 3\n", "v:1: token 1 is 2 bytes, the line says 3"},
		{"fields", "1 'a'\n", "v:1:"},
		{"id", "x 'a' 1\n", "bad id"},
		{"empty token", "1 '' 0\n", "empty"},
		{"empty file", "", "no tokens"},
		{"space inside", "1 ' a b' 4\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseVocab(strings.NewReader(tc.file), "v")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewWorldRejectsBadVocab(t *testing.T) {
	// Too short to hold the 256 single bytes.
	if _, err := newWorld([]byte("1 'a' 1\n"), "tiny"); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("error = %v, want one naming the file", err)
	}
}

// FuzzParseVocab checks the vocabulary parser never panics, and that what it
// accepts obeys the format's promises.
func FuzzParseVocab(f *testing.F) {
	f.Add([]byte(worldVocabFile[:4000]))
	f.Add([]byte("1 'a' 1\n2 b'\\x80' 1\n3 '\\u2002' 3\n4 \"'\" 1\n5 ' a b' 4\n"))
	f.Add([]byte("1 '\\U0001F600' 4\n"))
	f.Add([]byte("1 '\\'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := parseVocab(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		if len(tokens[0]) != 0 {
			t.Fatalf("entry 0 is %q, want empty", tokens[0])
		}
		for id, tok := range tokens[1:] {
			if len(tok) == 0 {
				t.Fatalf("token %d is empty", id+1)
			}
		}
	})
}

// FuzzParsePythonLiteral checks that str literals always decode to valid UTF-8 and
// that quoting a decoded ASCII-safe value gives it back.
func FuzzParsePythonLiteral(f *testing.F) {
	for _, s := range []string{`'a'`, `b'\xff'`, `'\u2002'`, `"'"`, `'\\'`, `'\n'`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, lit []byte) {
		got, err := parsePythonLiteral(lit)
		if err != nil {
			return
		}
		if lit[0] != 'b' && !utf8.Valid(got) {
			t.Fatalf("str literal %q decoded to invalid UTF-8 %q", lit, got)
		}
	})
}

// FuzzWorldRoundTrip checks that any bytes survive encode then decode.
func FuzzWorldRoundTrip(f *testing.F) {
	f.Add([]byte("I'll 'd test блабла"))
	f.Add([]byte("\x00\xff\n\n "))
	w, err := World()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		ids := w.Encode(text)
		back, err := w.Decode(ids)
		if err != nil || !bytes.Equal(back, text) {
			t.Fatalf("round trip of %q: %q, %v", text, back, err)
		}
		for _, id := range ids {
			if id <= 0 || id > worldVocabEntries {
				t.Fatalf("Encode(%q) produced id %d", text, id)
			}
		}
	})
}
