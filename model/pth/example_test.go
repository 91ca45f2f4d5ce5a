package pth_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/pth"
)

func ExampleRead() {
	s, err := pth.Read("../../testdata/golden/v7-bf16.pth")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close() // releases the memory mapping, if any
	emb, err := s.Get("emb.weight")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(s.Tensors), "tensors")
	fmt.Println("emb.weight", emb.Shape, emb.DType, emb.Data[:3])
	// Output:
	// 105 tensors
	// emb.weight [300 128] bf16 [-1.5234375 -0.75 -0.65234375]
}
