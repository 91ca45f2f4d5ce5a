package main

import (
	"context"
	"fmt"
)

// runLogits is not built yet (issue #2).
func runLogits(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #2)")
}
