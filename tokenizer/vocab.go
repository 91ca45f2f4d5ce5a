package tokenizer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// parseVocab reads a vocabulary in the rwkv_vocab_v20230424 format: one token per
// line, "<id> <python literal> <byte length>". The literal is a Python str (encoded
// as UTF-8) or bytes literal and may itself contain spaces, so the id is what comes
// before the first space and the length what comes after the last. Ids must run
// 1, 2, 3, … without gaps: the result is indexed by id, with entry 0 (end-of-text,
// not in the file) empty. name is used in error messages.
func parseVocab(r io.Reader, name string) ([][]byte, error) {
	tokens := [][]byte{nil}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(text) == 0 {
			continue
		}
		first := bytes.IndexByte(text, ' ')
		last := bytes.LastIndexByte(text, ' ')
		if first < 0 || last <= first {
			return nil, fmt.Errorf("%s:%d: want \"<id> <literal> <length>\"", name, line)
		}
		id, err := strconv.Atoi(string(text[:first]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bad id %q", name, line, text[:first])
		}
		if id != len(tokens) {
			return nil, fmt.Errorf("%s:%d: id %d out of order (want %d)", name, line, id, len(tokens))
		}
		length, err := strconv.Atoi(string(text[last+1:]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bad byte length %q", name, line, text[last+1:])
		}
		tok, err := parsePythonLiteral(text[first+1 : last])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: token %d: %w", name, line, id, err)
		}
		if len(tok) != length {
			return nil, fmt.Errorf("%s:%d: token %d is %d bytes, the line says %d", name, line, id, len(tok), length)
		}
		if len(tok) == 0 {
			return nil, fmt.Errorf("%s:%d: token %d is empty", name, line, id)
		}
		tokens = append(tokens, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(tokens) == 1 {
		return nil, fmt.Errorf("%s: no tokens", name)
	}
	return tokens, nil
}

// parsePythonLiteral decodes one Python str or bytes literal ('…', "…", b'…', b"…")
// to bytes. str literals are UTF-8 encoded, as the tokenizer's Python original does.
// Only the escapes Python's repr produces and their close relatives are accepted;
// anything else is an error rather than a guess.
func parsePythonLiteral(lit []byte) ([]byte, error) {
	isBytes := false
	if len(lit) > 0 && lit[0] == 'b' {
		isBytes = true
		lit = lit[1:]
	}
	if len(lit) < 2 || (lit[0] != '\'' && lit[0] != '"') || lit[len(lit)-1] != lit[0] {
		return nil, fmt.Errorf("literal %q is not quoted", lit)
	}
	quote := lit[0]
	body := lit[1 : len(lit)-1]
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c == quote {
			return nil, fmt.Errorf("unescaped quote at offset %d in %q", i, lit)
		}
		if c != '\\' {
			if isBytes && c >= 0x80 {
				return nil, fmt.Errorf("non-ASCII byte 0x%02x in bytes literal %q", c, lit)
			}
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(body) {
			return nil, fmt.Errorf("dangling backslash in %q", lit)
		}
		esc := body[i+1]
		i += 2
		switch esc {
		case '\\', '\'', '"':
			out = append(out, esc)
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'v':
			out = append(out, '\v')
		case 'x', 'u', 'U':
			digits := 2
			switch esc {
			case 'u':
				digits = 4
			case 'U':
				digits = 8
			}
			if isBytes && esc != 'x' {
				return nil, fmt.Errorf("\\%c escape in bytes literal %q", esc, lit)
			}
			if i+digits > len(body) {
				return nil, fmt.Errorf("short \\%c escape in %q", esc, lit)
			}
			v, err := strconv.ParseUint(string(body[i:i+digits]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("bad \\%c escape %q in %q", esc, body[i:i+digits], lit)
			}
			i += digits
			if isBytes {
				out = append(out, byte(v))
				continue
			}
			r := rune(v)
			if !utf8.ValidRune(r) {
				// Lone surrogates and values past U+10FFFF cannot be UTF-8 encoded;
				// Python's str.encode("utf-8") fails on them too.
				return nil, fmt.Errorf("escape \\%c%s in %q is not an encodable code point", esc, body[i-digits:i], lit)
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, fmt.Errorf("unsupported escape \\%c in %q", esc, lit)
		}
	}
	if !isBytes && !utf8.Valid(out) {
		return nil, fmt.Errorf("str literal %q is not valid UTF-8", lit)
	}
	return out, nil
}
