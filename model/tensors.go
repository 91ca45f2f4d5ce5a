package model

import "github.com/rwkvbench/rwkvbench/model/tensor"

// Tensors returns the checkpoint's tensors in the official layout, as read (before
// ln0 folding or any other load-time preprocessing). Precision simulation and
// conversion start from these so that they see what the file holds. The set belongs
// to the model: it stays valid until Close.
func (m *Model) Tensors() *tensor.Set { return m.set }
