package main

import (
	"context"
	"fmt"
)

// runDoctor is not built yet (issue #6).
func runDoctor(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #6)")
}
