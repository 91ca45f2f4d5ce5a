package rwkvcpp

import (
	"fmt"
	"math"
	"strings"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// undoTransforms inverts python/convert_pytorch_to_ggml.py for the given version, in
// place, so that names and shapes are those of the official .pth.
func undoTransforms(s *tensor.Set, version string, h header) error {
	c := h.Embd
	for _, name := range s.Names() {
		t := s.Tensors[name]
		if !strings.HasPrefix(name, "blocks.") {
			continue
		}
		// The block-relative part, e.g. "att.time_decay".
		_, rest, _ := strings.Cut(strings.TrimPrefix(name, "blocks."), ".")
		var err error
		switch version {
		case "7":
			err = undoV7(s, t, rest, c)
		case "6":
			err = undoV6(t, rest, c)
		case "5.2", "5.1", "4":
			err = undoV4V5(t, rest, version, c)
		}
		if err != nil {
			return fmt.Errorf("tensor %s: %w", name, err)
		}
	}
	return nil
}

func undoV7(s *tensor.Set, t *tensor.Tensor, rest string, c int) error {
	switch rest {
	case "att.x_rwkvag":
		if !sameShape(t.Shape, 6, 1, c) {
			return fmt.Errorf("shape %v, want (6,1,%d)", t.Shape, c)
		}
		base := strings.TrimSuffix(t.Name, "x_rwkvag")
		delete(s.Tensors, t.Name)
		// The rows of x_rwkvag, in order.
		for i, n := range [6]string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"} {
			part := &tensor.Tensor{Name: base + n, Shape: []int{1, 1, c}, DType: t.DType, Data: t.Data[i*c : (i+1)*c : (i+1)*c]}
			if err := s.Add(part); err != nil {
				return err
			}
		}
	case "att.w1", "att.w2", "att.a1", "att.a2", "att.v1", "att.v2", "att.g1", "att.g2":
		return transposeLast2(t)
	}
	return nil
}

func undoV6(t *tensor.Tensor, rest string, c int) error {
	switch rest {
	case "att.time_maa_x", "att.time_maa_w", "att.time_maa_k", "att.time_maa_v", "att.time_maa_r", "att.time_maa_g",
		"ffn.time_maa_k", "ffn.time_maa_r":
		return unsqueeze(t, c)
	case "att.time_decay":
		// Stored raw but reshaped (H,N,1); the official shape is (1,1,C).
		if len(t.Shape) != 3 || t.Shape[2] != 1 || t.Len() != c {
			return fmt.Errorf("shape %v, want (H,N,1) with H·N = %d", t.Shape, c)
		}
		t.Shape = []int{1, 1, c}
	case "att.time_faaaa":
		return dropTrailingOne(t, c)
	case "att.time_maa_w1", "att.time_decay_w1", "att.time_decay_w2":
		return transposeLast2(t)
	case "att.time_maa_w2":
		// (5,D,C) was stored as (5,C,D) by transpose(1,2).
		if len(t.Shape) != 3 {
			return fmt.Errorf("shape %v, want 3 dimensions", t.Shape)
		}
		return transposeLast2(t)
	}
	return nil
}

// undoV4V5 restores the squeezed time_mix vectors and un-exponentiates the decays.
func undoV4V5(t *tensor.Tensor, rest, version string, c int) error {
	switch {
	case strings.HasPrefix(rest, "att.time_mix_") || strings.HasPrefix(rest, "ffn.time_mix_"):
		return unsqueeze(t, c)
	}
	switch version + " " + rest {
	case "5.2 att.time_decay":
		// Stored as exp(-exp(w)) in shape (H,N,1).
		if err := dropTrailingOne(t, c); err != nil {
			return err
		}
		return mapValues(t, decayToLogLog)
	case "5.2 att.time_faaaa":
		return dropTrailingOne(t, c)
	case "5.1 att.time_decay", "5.1 att.time_first":
		// Per-head scalars stored as (H,1,1): exp(-exp(w)) and exp(u). RWKV-5.0 keeps them as (H).
		if len(t.Shape) != 3 || t.Shape[1] != 1 || t.Shape[2] != 1 {
			return fmt.Errorf("shape %v, want (H,1,1)", t.Shape)
		}
		t.Shape = []int{t.Shape[0]}
		if strings.HasSuffix(rest, "time_decay") {
			return mapValues(t, decayToLogLog)
		}
		return mapValues(t, expToRaw)
	case "4 att.time_decay":
		// Stored as -exp(w), shape (C) as in RWKV-4.
		return mapValues(t, negExpToRaw)
	}
	return nil
}

// decayToLogLog inverts d = exp(-exp(w)) in float64. The ends of [0,1] have no finite
// preimage; they get a w whose float32 exp(-exp(w)) gives the same d back.
func decayToLogLog(d float32) (float32, error) {
	x := float64(d)
	switch {
	case math.IsNaN(x) || x < 0 || x > 1:
		return 0, fmt.Errorf("decay %v is not in [0,1]", d)
	case x == 0:
		return 5, nil // exp(-exp(5)) underflows to 0 in float32
	case x == 1:
		return -20, nil // exp(-exp(-20)) rounds to 1 in float32
	}
	return float32(math.Log(-math.Log(x))), nil
}

// expToRaw inverts e = exp(u).
func expToRaw(e float32) (float32, error) {
	x := float64(e)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || x < 0:
		return 0, fmt.Errorf("value %v is not a finite exp(u)", e)
	case x == 0:
		return -120, nil // exp(-120) underflows to 0 in float32
	}
	return float32(math.Log(x)), nil
}

// negExpToRaw inverts td = -exp(w).
func negExpToRaw(td float32) (float32, error) {
	x := float64(td)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || x > 0:
		return 0, fmt.Errorf("value %v is not a finite -exp(w)", td)
	case x == 0:
		return -120, nil
	}
	return float32(math.Log(-x)), nil
}

func mapValues(t *tensor.Tensor, f func(float32) (float32, error)) error {
	for i, v := range t.Data {
		w, err := f(v)
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		t.Data[i] = w
	}
	return nil
}

// unsqueeze gives a squeezed (C) vector back its official (1,1,C) shape.
func unsqueeze(t *tensor.Tensor, c int) error {
	if t.Len() != c || (len(t.Shape) != 1 && !sameShape(t.Shape, 1, 1, c)) {
		return fmt.Errorf("shape %v, want (%d)", t.Shape, c)
	}
	t.Shape = []int{1, 1, c}
	return nil
}

// dropTrailingOne turns rwkv.cpp's (H,N,1) back into (H,N).
func dropTrailingOne(t *tensor.Tensor, c int) error {
	if len(t.Shape) != 3 || t.Shape[2] != 1 || t.Shape[0]*t.Shape[1] != c {
		return fmt.Errorf("shape %v, want (H,N,1) with H·N = %d", t.Shape, c)
	}
	t.Shape = t.Shape[:2]
	return nil
}

// transposeLast2 swaps the last two axes (batched over any leading ones).
func transposeLast2(t *tensor.Tensor) error {
	n := len(t.Shape)
	if n < 2 {
		return fmt.Errorf("shape %v cannot be transposed", t.Shape)
	}
	rows, cols := t.Shape[n-2], t.Shape[n-1]
	if rows*cols == 0 {
		return nil
	}
	out := make([]float32, len(t.Data))
	for b := 0; b < len(t.Data); b += rows * cols {
		src, dst := t.Data[b:b+rows*cols], out[b:b+rows*cols]
		for r := range rows {
			for c := range cols {
				dst[c*rows+r] = src[r*cols+c]
			}
		}
	}
	t.Data = out
	t.Shape[n-2], t.Shape[n-1] = cols, rows
	return nil
}

func sameShape(shape []int, want ...int) bool {
	if len(shape) != len(want) {
		return false
	}
	for i := range shape {
		if shape[i] != want[i] {
			return false
		}
	}
	return true
}
