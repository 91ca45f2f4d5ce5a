// Command rwkvbench-agent runs on a device (phone, Linux board, Windows-on-Arm laptop
// or the host itself) and executes bench and eval jobs the host sends it over a
// versioned JSON-lines protocol on stdin/stdout (package runner/agentproto). The
// host cross-compiles it for each device and pushes it with rwkvbench deploy.
//
// Usage:
//
//	rwkvbench-agent           serve the protocol on stdin/stdout
//	rwkvbench-agent -version  print the agent and protocol versions
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rwkvbench/rwkvbench/runner/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := agent.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
