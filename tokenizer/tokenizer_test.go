package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/internal/fixtures"
)

func world(t testing.TB) *WorldTokenizer {
	t.Helper()
	w, err := World()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWorldPublicVectors(t *testing.T) {
	var file struct {
		Vectors []struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		} `json:"vectors"`
	}
	data, err := os.ReadFile(fixtures.Path(t, "tokenizer/world_tokenizer_test_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) != 3 {
		t.Fatalf("want the 3 public vectors, file has %d", len(file.Vectors))
	}
	w := world(t)
	for _, v := range file.Vectors {
		got := w.Encode([]byte(v.Text))
		if !slices.Equal(got, v.IDs) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", v.Text, got, v.IDs)
		}
		back, err := w.Decode(v.IDs)
		if err != nil || string(back) != v.Text {
			t.Errorf("Decode(%v) = %q, %v; want %q", v.IDs, back, err, v.Text)
		}
	}
}

func TestWorldEncode(t *testing.T) {
	w := world(t)
	for _, tc := range []struct {
		text string
		want []int
	}{
		{" the", []int{22590}},
		{"\n\n", []int{261}},
		{`"in`, []int{35, 1950}},
		{"", []int{}},
		{"\x00", []int{1}},     // a NUL byte is id 1, not end-of-text
		{"\xff", []int{256}},   // a lone invalid UTF-8 byte still encodes
		{"<|endoftext|>", nil}, // checked below: no special tokens
	} {
		got := w.Encode([]byte(tc.text))
		if tc.want == nil {
			if slices.Contains(got, EndOfText) {
				t.Errorf("Encode(%q) = %v contains end-of-text", tc.text, got)
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestWorldVocab(t *testing.T) {
	w := world(t)
	if n := len(w.tokens) - 1; n != worldVocabEntries {
		t.Fatalf("vocabulary has %d entries, want %d", n, worldVocabEntries)
	}
	// Every token encodes to itself alone: greedy longest match must find the whole
	// token, since no longer token can match within it. (A token whose greedy
	// encoding differs would mean the trie lost or shadowed an entry.)
	bad := 0
	for id := 1; id < len(w.tokens); id++ {
		if got := w.Encode(w.tokens[id]); len(got) != 1 || got[0] != id {
			if bad++; bad < 10 {
				t.Errorf("token %d %q encodes to %v", id, w.tokens[id], got)
			}
		}
	}
	if tok, ok := w.Token(EndOfText); !ok || len(tok) != 0 {
		t.Errorf("Token(EndOfText) = %q, %v; want empty, true", tok, ok)
	}
}

func TestWorldDecode(t *testing.T) {
	w := world(t)
	for _, tc := range []struct {
		ids     []int
		want    string
		wantErr string
	}{
		{[]int{22590, 261}, " the\n\n", ""},
		{[]int{0, 22590, 0}, " the", ""}, // end-of-text has no text
		{[]int{22590, 65530}, "", "id 65530 at position 1"},
		{[]int{-1}, "", "id -1 at position 0"},
	} {
		got, err := w.Decode(tc.ids)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Decode(%v) error = %v, want one containing %q", tc.ids, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Decode(%v) = %q, %v; want %q", tc.ids, got, err, tc.want)
		}
	}
}

// TestWorldTargetBoundary shows how the LAMBADA target " "+word tokenizes when the
// context and the target are encoded separately (the protocol) versus as one string.
// Separately, the target always starts with its own space token sequence; jointly,
// the greedy match may fuse the context's last bytes with the target's space, which
// is why the protocol encodes them apart.
func TestWorldTargetBoundary(t *testing.T) {
	w := world(t)
	for _, tc := range []struct {
		context, target string
		wantTarget      []int
		wantJointSame   bool
	}{
		// Ordinary word: " the" is one token either way.
		{"I look at", " the", []int{22590}, true},
		// After a newline the joint encoding fuses "\n " into one token (262) and
		// the word loses its space: jointly "the" would be scored, not " the".
		{"said.\n", " the", []int{22590}, false},
		// Trailing spaces: "  " then "the" jointly vs " the" alone.
		{"he paused ", " the", []int{22590}, false},
	} {
		ctx := w.Encode([]byte(tc.context))
		tgt := w.Encode([]byte(tc.target))
		if !slices.Equal(tgt, tc.wantTarget) {
			t.Errorf("target %q encodes to %v, want %v", tc.target, tgt, tc.wantTarget)
		}
		joint := w.Encode([]byte(tc.context + tc.target))
		same := slices.Equal(joint, append(slices.Clone(ctx), tgt...))
		if same != tc.wantJointSame {
			t.Errorf("context %q + target %q: joint %v vs separate %v+%v; same=%v, want %v",
				tc.context, tc.target, joint, ctx, tgt, same, tc.wantJointSame)
		}
	}
}

// TestWorldRoundTripLambada encodes and decodes every LAMBADA passage.
func TestWorldRoundTripLambada(t *testing.T) {
	path := fixtures.Shared(t, "lambada/lambada_test.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := world(t)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, tokens, fused := 0, 0, 0
	ctxTokens, tgtTokens, singleTargets, longestTarget := 0, 0, 0, 0
	for sc.Scan() {
		var doc struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		ids := w.Encode([]byte(doc.Text))
		if i := strings.LastIndexByte(doc.Text, ' '); i >= 0 {
			ctx := w.Encode([]byte(doc.Text[:i]))
			tgt := w.Encode([]byte(doc.Text[i:]))
			ctxTokens += len(ctx)
			tgtTokens += len(tgt)
			if len(tgt) == 1 {
				singleTargets++
			}
			longestTarget = max(longestTarget, len(tgt))
			if !slices.Equal(ids, append(ctx, w.Encode([]byte(doc.Text[i:]))...)) {
				fused++
			}
		}
		back, err := w.Decode(ids)
		if err != nil || !bytes.Equal(back, []byte(doc.Text)) {
			t.Fatalf("passage %d does not round trip: %v", n+1, err)
		}
		n++
		tokens += len(ids)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The published World-tokenizer statistics of the split (rwkv-math.md §10.4).
	if ctxTokens != 401739 || tgtTokens != 6918 || singleTargets != 3642 || longestTarget != 8 {
		t.Errorf("split statistics: %d context tokens, %d target tokens, %d single-token targets, longest target %d; want 401739, 6918, 3642, 8",
			ctxTokens, tgtTokens, singleTargets, longestTarget)
	}
	// Encoding each whole passage gives the same tokens as the two halves: the sum
	// of the published context and target counts is the whole-text count.
	if fused != 0 {
		t.Errorf("%d passages tokenize differently jointly than split", fused)
	}
	if n != 5153 {
		t.Errorf("read %d passages, want 5153", n)
	}
	t.Logf("%d passages, %d tokens; %d passages tokenize differently at the context/target boundary when encoded jointly", n, tokens, fused)
}

func TestBytes(t *testing.T) {
	b := Bytes{}
	text := []byte("\x00\"in\xff")
	ids := b.Encode(text)
	if !slices.Equal(ids, []int{0, 34, 105, 110, 255}) {
		t.Errorf("Encode = %v", ids)
	}
	back, err := b.Decode(ids)
	if err != nil || !bytes.Equal(back, text) {
		t.Errorf("Decode = %q, %v", back, err)
	}
	if _, err := b.Decode([]int{256}); err == nil || !strings.Contains(err.Error(), "id 256") {
		t.Errorf("Decode(256) error = %v, want one naming id 256", err)
	}
}

func TestForVocabAndByName(t *testing.T) {
	for _, tc := range []struct {
		vocab   int
		want    string
		wantErr bool
	}{
		{256, "bytes", false},
		{65536, "world", false},
		{65530, "world", false},
		{300, "", true},
		{65529, "", true},
		{0, "", true},
	} {
		tok, err := ForVocab(tc.vocab)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "vocab size of") {
				t.Errorf("ForVocab(%d) error = %v, want one naming the size", tc.vocab, err)
			}
			continue
		}
		if err != nil || tok.Name() != tc.want {
			t.Errorf("ForVocab(%d) = %v, %v; want %s", tc.vocab, tok, err, tc.want)
		}
	}
	for _, name := range []string{"world", "bytes", "World"} {
		tok, err := ByName(name)
		if err != nil || !strings.EqualFold(tok.Name(), name) {
			t.Errorf("ByName(%q) = %v, %v", name, tok, err)
		}
	}
	if _, err := ByName("gpt2"); err == nil {
		t.Error("ByName(gpt2) succeeded")
	}
}

func BenchmarkWorldEncode(b *testing.B) {
	w := world(b)
	// English prose with some punctuation, numbers and non-ASCII, about 1 MB.
	unit := "The quick brown fox, who was 42 years old, jumped over the lazy dog's back.\n\n" +
		"\"I don't care about signs,\" she said — 今天是美好的一天。 Naïve café.\n"
	text := []byte(strings.Repeat(unit, 1<<20/len(unit)))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		w.Encode(text)
	}
}

// naiveEncode is an independent greedy longest-match encoder: at each position it
// looks up every possible length in a map, longest first. It is slow and obviously
// right, which is what the trie is checked against.
func naiveEncode(vocab map[string]int, maxLen int, text []byte) []int {
	var ids []int
	for i := 0; i < len(text); {
		for n := min(maxLen, len(text)-i); n >= 1; n-- {
			if id, ok := vocab[string(text[i:i+n])]; ok {
				ids = append(ids, id)
				i += n
				break
			}
		}
	}
	return ids
}

func TestWorldMatchesNaive(t *testing.T) {
	w := world(t)
	vocab := map[string]int{}
	maxLen := 0
	for id, tok := range w.tokens[1:] {
		vocab[string(tok)] = id + 1
		maxLen = max(maxLen, len(tok))
	}
	// Hard cases: concatenations of random tokens, whose boundaries tempt the
	// greedy match to overshoot, and random bytes.
	rng := uint64(1)
	next := func(n int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	for range 2000 {
		var text []byte
		for range 1 + next(12) {
			if next(4) == 0 {
				text = append(text, byte(next(256)))
			} else {
				text = append(text, w.tokens[1+next(len(w.tokens)-1)]...)
			}
		}
		if got, want := w.Encode(text), naiveEncode(vocab, maxLen, text); !slices.Equal(got, want) {
			t.Fatalf("Encode(%q)\n trie  %v\n naive %v", text, got, want)
		}
	}
}
