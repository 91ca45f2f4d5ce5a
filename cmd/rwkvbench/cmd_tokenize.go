package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rwkvbench/rwkvbench/tokenizer"
)

func runTokenize(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "tokenize", "", "Read text on stdin and print its token ids as a JSON array; with --decode, read a JSON\n"+
		"array of ids and print their text. The World tokenizer is built in (rwkv_vocab_v20230424,\n"+
		"greedy longest byte match; id 0, end-of-text, decodes to nothing); bytes maps each byte\n"+
		"to its value, for vocab-256 models.")
	name := fs.String("tokenizer", "world", "`name`: world or bytes")
	decode := fs.Bool("decode", false, "read a JSON array of ids and print the text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the text is read from stdin)", fs.Arg(0))
	}
	tok, err := tokenizer.ByName(*name)
	if err != nil {
		return fmt.Errorf("--tokenizer: %w", err)
	}
	input, err := io.ReadAll(e.stdin)
	if err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	if !*decode {
		ids := tok.Encode(input)
		b, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	var ids []int
	if err := json.Unmarshal(input, &ids); err != nil {
		return fmt.Errorf("stdin: want a JSON array of token ids: %w", err)
	}
	text, err := tok.Decode(ids)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(text)
	return err
}
