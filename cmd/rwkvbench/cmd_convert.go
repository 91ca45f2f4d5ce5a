package main

import (
	"context"
	"fmt"
)

// runConvert is not built yet (issue #7).
func runConvert(ctx context.Context, e *env, args []string) error {
	return fmt.Errorf("not implemented yet (tracked in issue #7)")
}
