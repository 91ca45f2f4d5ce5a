package tokenizer

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"sync"
)

//go:embed rwkv_vocab_v20230424.txt
var worldVocabFile []byte

// WorldVocabSize is the logit count of World models. The vocabulary itself ends at
// id 65529; ids 65530..65535 exist in the head but have no text.
const WorldVocabSize = 65536

// worldVocabEntries is the highest id in rwkv_vocab_v20230424.
const worldVocabEntries = 65529

// EndOfText is the World id that separates documents (and prefixes LAMBADA
// contexts). It is not in the vocabulary file and has no text.
const EndOfText = 0

// WorldTokenizer is the RWKV World tokenizer (vocabulary rwkv_vocab_v20230424).
//
// Encoding is greedy: at each position it emits the longest vocabulary token that
// is a prefix of the remaining bytes. Every single byte is a token (ids 1..256 are
// the bytes 0..255), so encoding always makes progress and never fails. Text that
// looks like a special token, such as "<|endoftext|>", is ordinary bytes.
//
// Decoding concatenates token bytes. EndOfText (id 0) decodes to no bytes, so a
// generated document boundary vanishes from the text; ids with no text (65530 and
// above, or negative) are an error.
type WorldTokenizer struct {
	tokens [][]byte // by id; tokens[0] is empty

	// The trie is stored flat. pair maps the first two bytes of the input to the
	// trie node for that prefix (or -1), which skips the two widest levels of the
	// trie; below that, node n's children are edges first[n]:first[n+1], sorted by
	// label so lookups can binary search.
	pair   []int32 // 65536 entries
	nodeID []int32 // token id ending at node, 0 if none
	first  []int32 // len(nodes)+1
	label  []byte  // per edge
	child  []int32 // per edge
}

var loadWorld = sync.OnceValues(func() (*WorldTokenizer, error) {
	return newWorld(worldVocabFile, "rwkv_vocab_v20230424.txt")
})

// World returns the World tokenizer. The embedded vocabulary is parsed on the first
// call (a few tens of milliseconds); later calls share the immutable result.
func World() (*WorldTokenizer, error) {
	return loadWorld()
}

// newWorld builds a World tokenizer from a vocabulary file's content.
func newWorld(vocab []byte, name string) (*WorldTokenizer, error) {
	tokens, err := parseVocab(bytes.NewReader(vocab), name)
	if err != nil {
		return nil, fmt.Errorf("world tokenizer: %w", err)
	}
	if len(tokens) < 257 {
		return nil, fmt.Errorf("world tokenizer: %s has %d tokens; ids 1..256 must be the single bytes", name, len(tokens)-1)
	}
	for b := range 256 {
		if t := tokens[b+1]; len(t) != 1 || t[0] != byte(b) {
			return nil, fmt.Errorf("world tokenizer: %s: token %d is %q, want the single byte 0x%02x", name, b+1, t, b)
		}
	}
	w := &WorldTokenizer{tokens: tokens}
	if err := w.buildTrie(); err != nil {
		return nil, fmt.Errorf("world tokenizer: %s: %w", name, err)
	}
	return w, nil
}

// buildTrie lays out the trie breadth first from the tokens sorted bytewise, so
// each node's children are contiguous and sorted.
func (w *WorldTokenizer) buildTrie() error {
	order := make([]int, 0, len(w.tokens)-1)
	for id := 1; id < len(w.tokens); id++ {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool { return bytes.Compare(w.tokens[order[i]], w.tokens[order[j]]) < 0 })
	for i := 1; i < len(order); i++ {
		if bytes.Equal(w.tokens[order[i]], w.tokens[order[i-1]]) {
			return fmt.Errorf("tokens %d and %d are both %q", order[i-1], order[i], w.tokens[order[i]])
		}
	}

	// A node is a range [lo, hi) of order sharing a prefix of length depth.
	type span struct{ lo, hi, depth int }
	queue := []span{{0, len(order), 0}}
	w.nodeID = w.nodeID[:0]
	w.first = w.first[:0]
	for n := 0; n < len(queue); n++ {
		s := queue[n]
		lo := s.lo
		id := int32(0)
		if len(w.tokens[order[lo]]) == s.depth { // sorted first: the prefix itself
			id = int32(order[lo])
			lo++
		}
		w.nodeID = append(w.nodeID, id)
		w.first = append(w.first, int32(len(w.label)))
		for lo < s.hi {
			c := w.tokens[order[lo]][s.depth]
			hi := lo + 1
			for hi < s.hi && w.tokens[order[hi]][s.depth] == c {
				hi++
			}
			w.label = append(w.label, c)
			w.child = append(w.child, int32(len(queue)))
			queue = append(queue, span{lo, hi, s.depth + 1})
			lo = hi
		}
	}
	w.first = append(w.first, int32(len(w.label)))

	w.pair = make([]int32, 1<<16)
	for i := range w.pair {
		w.pair[i] = -1
	}
	for e := w.first[0]; e < w.first[1]; e++ {
		n1 := w.child[e]
		for e2 := w.first[n1]; e2 < w.first[n1+1]; e2++ {
			w.pair[int(w.label[e])<<8|int(w.label[e2])] = w.child[e2]
		}
	}
	return nil
}

// step returns the child of node n along byte c, or -1.
func (w *WorldTokenizer) step(n int32, c byte) int32 {
	lo, hi := w.first[n], w.first[n+1]
	// Narrow [lo, hi) to the first label >= c; short ranges scan faster than they
	// bisect.
	for hi-lo > 8 {
		mid := int32(uint32(lo+hi) >> 1)
		if w.label[mid] < c {
			lo = mid + 1
		} else {
			hi = mid + 1
		}
	}
	for ; lo < hi; lo++ {
		if l := w.label[lo]; l >= c {
			if l == c {
				return w.child[lo]
			}
			return -1
		}
	}
	return -1
}

// Encode returns the greedy longest-match encoding of text.
func (w *WorldTokenizer) Encode(text []byte) []int {
	ids := make([]int, 0, len(text)/3+1)
	for i := 0; i < len(text); {
		best, bestLen := int(text[i])+1, 1
		if i+1 < len(text) {
			n := w.pair[int(text[i])<<8|int(text[i+1])]
			for j := i + 2; n >= 0; j++ {
				if id := w.nodeID[n]; id != 0 {
					best, bestLen = int(id), j-i
				}
				if j == len(text) {
					break
				}
				n = w.step(n, text[j])
			}
		}
		ids = append(ids, best)
		i += bestLen
	}
	return ids
}

// Decode concatenates the bytes of ids. EndOfText contributes nothing.
func (w *WorldTokenizer) Decode(ids []int) ([]byte, error) {
	var out []byte
	for i, id := range ids {
		if id < 0 || id >= len(w.tokens) {
			return nil, fmt.Errorf("world tokenizer: id %d at position %d has no text (vocabulary ids are 0..%d)", id, i, len(w.tokens)-1)
		}
		out = append(out, w.tokens[id]...)
	}
	return out, nil
}

// Token returns the bytes of one id (empty for EndOfText), or nil and false for an
// id with no text.
func (w *WorldTokenizer) Token(id int) ([]byte, bool) {
	if id < 0 || id >= len(w.tokens) {
		return nil, false
	}
	return w.tokens[id], true
}

// Name returns "world".
func (w *WorldTokenizer) Name() string { return "world" }

// VocabSize returns WorldVocabSize, the model-side vocab size.
func (w *WorldTokenizer) VocabSize() int { return WorldVocabSize }
