package qnn_test

import (
	"errors"
	"fmt"

	"github.com/rwkvbench/rwkvbench/qnn"
)

func ExampleABI() {
	abi := qnn.ABI()
	t := abi.Structs["Qnn_TensorV2_t"]
	fmt.Println(t.Size, t.Fields["quantizeParams"], abi.Slots["graphExecute"])
	// Output: 136 32 21
}

func ExampleErrorName() {
	fmt.Println(qnn.ErrorName(5004))
	fmt.Println(qnn.ErrorName(6099))
	// Output:
	// QNN_CONTEXT_ERROR_BINARY_VERSION
	// QNN_GRAPH_ERROR_UNKNOWN_6099
}

func ExampleError() {
	err := fmt.Errorf("load model.bin: %w", &qnn.Error{Op: "contextCreateFromBinary", Code: 5008, Name: qnn.ErrorName(5008)})
	var qe *qnn.Error
	if errors.As(err, &qe) {
		fmt.Println(qe.Code, qe.DSPRestarted())
	}
	fmt.Println(err)
	// Output:
	// 5008 false
	// load model.bin: qnn contextCreateFromBinary: QNN_CONTEXT_ERROR_BINARY_CONFIGURATION (5008)
}

func ExampleLibraryNames() {
	fmt.Println(qnn.LibraryNames("android", qnn.BackendHTP))
	fmt.Println(qnn.LibraryNames("windows", qnn.BackendHTP))
	// Output:
	// libQnnHtp.so libQnnSystem.so
	// QnnHtp.dll QnnSystem.dll
}

// A session over a chunked model: the chunk-1 file brings its siblings. (Not run:
// it needs a device with QNN.)
func ExampleOpenSession() {
	cfg := qnn.SessionConfig{
		Runtime:      qnn.Config{Backend: qnn.BackendHTP, Perf: qnn.PerfBurst},
		ContextFiles: []string{"/data/local/tmp/rwkv/RWKV-x070-1.5B_chunk1of2.bin"},
	}
	_ = cfg // s, err := qnn.OpenSession(ctx, cfg); s.Forward(ctx, tokens, logits)
}
