package adbemu_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/rwkvbench/rwkvbench/runner/adbemu"
)

// A device serves until its context ends; `adb connect` its Addr to use it.
func Example() {
	dir, err := os.MkdirTemp("", "adbemu-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := adbemu.New(adbemu.Config{Addr: "127.0.0.1:0", SoC: "SM8650", Root: dir})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- d.Serve(ctx) }()

	p := d.Profile()
	fmt.Println(p.SoC, "/", p.Chip, "/", p.Platform)
	// Here a test would run: adb connect <d.Addr()>; adb -s <d.Addr()> shell getprop ro.soc.model
	cancel()
	fmt.Println("served:", <-served)
	// Output:
	// SM8650 / Snapdragon 8 Gen 3 / pineapple
	// served: <nil>
}

func ExampleLookupProfile() {
	p, err := adbemu.LookupProfile("sm8750")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s, Linux soc_id %d, Android %s\n", p.SoC, p.Chip, p.LinuxSoCID, p.Android)
	_, err = adbemu.LookupProfile("SM1234")
	fmt.Println(err != nil)
	// Output:
	// SM8750 Snapdragon 8 Elite, Linux soc_id 618, Android 15
	// true
}
