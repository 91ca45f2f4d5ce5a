package sshdev_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/runner/sshdev"
)

func ExampleParseTarget() {
	user, host, port, err := sshdev.ParseTarget("pi@[fe80::1]:2222")
	fmt.Println(user, host, port, err)
	// Output: pi fe80::1 2222 <nil>
}
