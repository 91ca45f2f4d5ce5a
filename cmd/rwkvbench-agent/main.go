// Command rwkvbench-agent runs on a device (phone, Linux board, Windows-on-Arm laptop
// or the host itself) and executes bench and eval jobs the host sends it over a
// versioned JSON-lines protocol on stdin/stdout.
package main

import (
	"fmt"
	"os"
)

func main() {
	// The protocol loop arrives with the device fleet (issue #5).
	fmt.Fprintln(os.Stderr, "rwkvbench-agent: not implemented yet (issue #5)")
	os.Exit(1)
}
