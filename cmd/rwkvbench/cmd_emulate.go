package main

import (
	"context"
	"fmt"
)

// runEmulate is not built yet (issue #5).
func runEmulate(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #5)")
}
