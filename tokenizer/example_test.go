package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/rwkvbench/rwkvbench/tokenizer"
)

func ExampleForVocab() {
	tok, err := tokenizer.ForVocab(65536)
	if err != nil {
		log.Fatal(err)
	}
	ids := tok.Encode([]byte("I love you"))
	text, err := tok.Decode(ids)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Name(), ids, string(text))
	// Output: world [74 31337 22799] I love you
}

func ExampleBytes() {
	tok, _ := tokenizer.ForVocab(256)
	fmt.Println(tok.Name(), tok.Encode([]byte(`"in`)))
	// Output: bytes [34 105 110]
}
