package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/rwkvbench/rwkvbench/runner/adbemu"
)

// runEmulate serves one emulated adb device until interrupted.
func runEmulate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "emulate", "",
		"Serve an emulated adb device that the real adb client reaches with 'adb connect'.\n"+
			"Shell commands sent to it RUN ON THIS HOST inside --root (device paths such as\n"+
			"/data/local/tmp are rewritten into it); getprop, dumpsys, thermal and battery\n"+
			"readings are simulated from the SoC profile. Runs until interrupted.\n\n"+
			"SoCs: "+strings.Join(adbemu.SoCs(), ", "))
	listen := fs.String("listen", "127.0.0.1:5560", "TCP address to listen on (loopback only unless --allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback --listen address: anyone who connects can run commands on this host")
	soc := fs.String("soc", "SM8650", "SoC profile to report (ro.soc.model)")
	root := fs.String("root", "", "directory holding the device filesystem (default: a new temporary directory, removed on exit)")
	serial := fs.String("serial", "", "ro.serialno to report (default adbemu-<soc>-<port>)")
	dropBytes := fs.Int64("drop-after-bytes", 0, "fault: drop each connection after it carried this many bytes (0: never)")
	dropAfter := fs.Duration("drop-after", 0, "fault: drop each connection this long after it was accepted (0: never)")
	dropOnce := fs.Bool("drop-once", false, "fault: disarm the drop switches after the first drop")
	downFor := fs.Duration("down-for", 0, "fault: after a drop, refuse connections for this long")
	verbose := fs.BoolP("verbose", "v", false, "log every connection and protocol event to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dropBytes < 0 || *dropAfter < 0 || *downFor < 0 {
		return errors.New("--drop-after-bytes, --drop-after and --down-for must not be negative")
	}
	dir := *root
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rwkvbench-emulate-")
		if err != nil {
			return fmt.Errorf("create device root: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	d, err := adbemu.New(adbemu.Config{
		Addr:             *listen,
		AllowNonLoopback: *allowRemote,
		SoC:              *soc,
		Root:             dir,
		Serial:           *serial,
		Faults:           adbemu.Faults{AfterBytes: *dropBytes, After: *dropAfter, Once: *dropOnce, DownFor: *downFor},
		Logger:           slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	p := d.Profile()
	fmt.Fprintf(e.stdout, "emulated %s (%s, simulated) on %s, filesystem in %s\n", p.SoC, p.Chip, d.Addr(), d.Root())
	fmt.Fprintf(e.stdout, "connect with: adb connect %s\n", d.Addr())
	if err := d.Serve(ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "emulator stopped")
	return nil
}
