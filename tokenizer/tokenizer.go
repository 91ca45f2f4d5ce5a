// Package tokenizer turns text into the token ids RWKV models read, and back.
//
// Two tokenizers exist because two kinds of model exist: World models (vocab 65536)
// use the RWKV World vocabulary rwkv_vocab_v20230424, encoded by greedy longest byte
// match as ChatRWKV's TRIE_TOKENIZER does; byte-level models (vocab 256, such as the
// rwkv.cpp test models) read raw bytes. ForVocab picks by the model's vocab size so
// that callers never guess; ByName lets a user override the choice.
//
// Tokenizers work on bytes, not strings: the World vocabulary has tokens that are
// fragments of UTF-8 sequences, so a decoded token need not be valid UTF-8 on its own.
// The World vocabulary is embedded in the binary so tokenizing works offline.
package tokenizer

import (
	"fmt"
	"strings"
)

// Tokenizer encodes bytes to token ids and decodes ids back to bytes.
// Implementations are safe for concurrent use.
type Tokenizer interface {
	// Encode returns the token ids of text. It never fails: every byte sequence has
	// an encoding.
	Encode(text []byte) []int
	// Decode returns the bytes of ids, or an error naming the first id that has no
	// text.
	Decode(ids []int) ([]byte, error)
	// Name is the name ByName accepts: "world" or "bytes".
	Name() string
	// VocabSize is the number of ids the model side must provide logits for.
	VocabSize() int
}

// ForVocab returns the tokenizer for a model with n logits per position: bytes for
// 256, World for 65530 through 65536 (the vocabulary has ids 0..65529; official
// checkpoints pad the head to 65536).
func ForVocab(n int) (Tokenizer, error) {
	switch {
	case n == 256:
		return Bytes{}, nil
	case n >= worldVocabEntries+1 && n <= WorldVocabSize:
		return World()
	default:
		return nil, fmt.Errorf("no tokenizer for a model vocab size of %d (known: 256 for bytes, %d..%d for World)",
			n, worldVocabEntries+1, WorldVocabSize)
	}
}

// ByName returns the tokenizer called name ("world" or "bytes", any case).
func ByName(name string) (Tokenizer, error) {
	switch strings.ToLower(name) {
	case "world":
		return World()
	case "bytes", "byte":
		return Bytes{}, nil
	default:
		return nil, fmt.Errorf("unknown tokenizer %q (want world or bytes)", name)
	}
}

// Bytes is the tokenizer of byte-level models: the id of a byte is its value.
// Id 0 is therefore the NUL byte, not an end-of-text marker.
type Bytes struct{}

// Encode returns one id per byte.
func (Bytes) Encode(text []byte) []int {
	ids := make([]int, len(text))
	for i, b := range text {
		ids[i] = int(b)
	}
	return ids
}

// Decode returns the bytes of ids, each of which must be in 0..255.
func (Bytes) Decode(ids []int) ([]byte, error) {
	out := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("bytes tokenizer: id %d at position %d is not a byte", id, i)
		}
		out[i] = byte(id)
	}
	return out, nil
}

// Name returns "bytes".
func (Bytes) Name() string { return "bytes" }

// VocabSize returns 256.
func (Bytes) VocabSize() int { return 256 }
