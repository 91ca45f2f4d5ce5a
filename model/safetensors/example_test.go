package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/rwkvbench/rwkvbench/model/safetensors"
)

func ExampleReadFrom() {
	header := `{"ln_out.weight":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	file = append(file, header...)
	file = append(file, 0x80, 0x3f, 0x40, 0xc0) // bf16 1.0 and -3.0

	s, err := safetensors.ReadFrom(bytes.NewReader(file), int64(len(file)), "tiny.safetensors")
	if err != nil {
		fmt.Println(err)
		return
	}
	t := s.Tensors["ln_out.weight"]
	fmt.Println(t.Shape, t.DType, t.Data)
	// Output:
	// [2] bf16 [1 -3]
}
