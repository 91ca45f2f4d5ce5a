package rwkvcpp_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/rwkvcpp"
)

func ExampleRead() {
	s, err := rwkvcpp.Read("../../testdata/rwkv_cpp_tiny/tiny-rwkv-7v0-834K-Q5_1.bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version", s.VersionHint, "with", len(s.Tensors), "tensors")
	for _, name := range []string{"blocks.1.att.x_r", "blocks.1.att.w1", "blocks.1.att.key.weight"} {
		t := s.Tensors[name]
		fmt.Println(name, t.Shape, t.DType)
	}
	// Output:
	// version 7 with 399 tensors
	// blocks.1.att.x_r [1 1 64] f32
	// blocks.1.att.w1 [64 32] f32
	// blocks.1.att.key.weight [64 64] q5_1
}
