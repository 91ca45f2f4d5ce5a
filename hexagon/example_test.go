package hexagon_test

import (
	"fmt"

	"github.com/rwkvbench/rwkvbench/hexagon"
)

func ExampleLookup() {
	c, ok := hexagon.Lookup("sm8650")
	fmt.Println(ok, c.Product, c.SocModel, c.DSPArch(), c.HTPStubLib("android"), c.SkelLib())
	// Output: true Snapdragon 8 Gen 3 57 v75 libQnnHtpV75Stub.so libQnnHtpV75Skel.so
}

func ExampleBySocID() {
	// The value of /sys/devices/soc0/soc_id on a Snapdragon 8 Elite phone.
	c, _ := hexagon.BySocID(618)
	fmt.Println(c.SoC, c.Arch)
	// Output: SM8750 v79
}
