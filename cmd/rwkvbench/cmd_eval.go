package main

import (
	"context"
	"fmt"
)

// runEval is not built yet (issue #3).
func runEval(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #3)")
}
