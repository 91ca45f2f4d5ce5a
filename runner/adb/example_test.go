package adb_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/runner/adb"
)

func ExampleParseDevices() {
	entries, _ := adb.ParseDevices("List of devices attached\n" +
		"R5CT1234567 device product:pa3q model:SM_S928B device:pa3q transport_id:1\n" +
		"127.0.0.1:5560 unauthorized transport_id:2\n")
	for _, e := range entries {
		fmt.Println(e.Serial, e.State, e.Attrs["model"])
	}
	// Output:
	// R5CT1234567 device SM_S928B
	// 127.0.0.1:5560 unauthorized
}

func ExampleParseGetprop() {
	props := adb.ParseGetprop("[ro.soc.model]: [SM8650]\n[ro.product.cpu.abi]: [arm64-v8a]\n")
	fmt.Println(props["ro.soc.model"], props["ro.product.cpu.abi"])
	// Output: SM8650 arm64-v8a
}
