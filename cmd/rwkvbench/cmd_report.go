package main

import (
	"context"
	"fmt"
)

// runReport is not built yet (issue #4).
func runReport(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #4)")
}
