package main

import (
	"context"
	"fmt"
)

// runPlan is not built yet (issue #9).
func runPlan(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #9)")
}
