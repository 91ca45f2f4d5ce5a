package main

import (
	"context"
	"fmt"
)

// runTokenize is not built yet (issue #3).
func runTokenize(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #3)")
}
