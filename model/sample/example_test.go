package sample_test

import (
	"fmt"
	"log"

	"github.com/rwkvbench/rwkvbench/model/sample"
)

func ExampleSampler_Next() {
	logits := []float32{0.1, 2.5, 1.0, 3.0}
	// Temperature 0 is greedy; the ban skips token 3 (as generate bans the World
	// vocabulary's end-of-text token 0).
	s, err := sample.New(sample.Options{Temperature: 0, TopP: 1, Ban: []int{3}})
	if err != nil {
		log.Fatal(err)
	}
	next, err := s.Next(logits)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(next)
	// Output: 1
}
