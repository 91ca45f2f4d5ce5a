package main

import (
	"context"
	"fmt"
)

// runBench is not built yet (issue #4).
func runBench(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #4)")
}
