package synthetic_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/synthetic"
)

func ExampleLookup() {
	s, err := synthetic.Lookup("v7-0.4b")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("L%d C%d F%d LoRA w=%d a=%d v=%d g=%d, %.0fM parameters\n",
		s.Layers, s.Embd, s.FFN, s.DecayLoRA, s.AlphaLoRA, s.ValueLoRA, s.GateLoRA, float64(s.Params())/1e6)
	// Output: L24 C1024 F4096 LoRA w=64 a=64 v=32 g=160, 452M parameters
}

func ExampleNames() {
	fmt.Println(synthetic.Names())
	// Output: [v5-0.4b v5-1.5b v5-3b v5-7b v6-1.6b v6-3b v6-7b v7-0.1b v7-0.4b v7-1.5b v7-3b]
}
