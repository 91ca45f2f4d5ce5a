package agentproto_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/runner/agentproto"
)

func ExampleParse() {
	m, err := agentproto.Parse([]byte(`{"v":1,"type":"progress","progress":{"done":3,"total":10,"stage":"lambada"}}`))
	fmt.Println(m.Type, m.Progress.Done, m.Progress.Total, err)

	_, err = agentproto.Parse([]byte(`{"v":2,"type":"bye"}`))
	fmt.Println(err)
	// Output:
	// progress 3 10 <nil>
	// protocol version mismatch: peer speaks version 2, this side speaks 1
}
