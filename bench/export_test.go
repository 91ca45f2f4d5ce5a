package bench

import "github.com/rwkvbench/rwkvbench/model"

// NewFakeSession exposes the deterministic, allocation-free fake engine to the
// external tests (the SIGKILL test runs it in a child process).
func NewFakeSession(vocab int) model.Session { return &fakeSession{vocab: vocab} }
