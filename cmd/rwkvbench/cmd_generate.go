package main

import (
	"context"
	"fmt"
)

// runGenerate is not built yet (issue #2).
func runGenerate(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #2)")
}
