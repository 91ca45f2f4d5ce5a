// Package onnxrun interprets the standard ONNX operators the exporter emits, in plain
// float64-accumulating Go. It exists to check exported graphs numerically on machines
// without an ONNX runtime: it shares no code with the reference engine, so agreement
// between the two means the graph computes the model, not that one bug was run twice.
// It is deliberately small and slow, and refuses any operator or attribute it does not
// implement rather than guessing.
package onnxrun

import (
	"fmt"
	"math"

	"github.com/rwkvbench/rwkvbench/convert/onnx"
)

// Value is a tensor: a shape and float32 data, or integer data for index tensors.
type Value struct {
	Shape []int
	F     []float32
	I     []int64
	Int   bool
}

func (v Value) size() int {
	n := 1
	for _, d := range v.Shape {
		n *= d
	}
	return n
}

// Run executes the graph on the given inputs and returns every graph output.
func Run(g *onnx.Graph, inputs map[string]Value) (map[string]Value, error) {
	env, err := RunAll(g, inputs)
	if err != nil {
		return nil, err
	}
	res := map[string]Value{}
	for _, o := range g.Outputs {
		res[o.Name] = env[o.Name]
	}
	return res, nil
}

// RunAll executes the graph and returns every value it computed, by name.
func RunAll(g *onnx.Graph, inputs map[string]Value) (map[string]Value, error) {
	env := map[string]Value{}
	for _, t := range g.Initializers {
		shape := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			shape[i] = int(d)
		}
		switch t.Type {
		case onnx.Float:
			f, err := t.FloatData()
			if err != nil {
				return nil, err
			}
			env[t.Name] = Value{Shape: shape, F: f}
		case onnx.Int64, onnx.Int32:
			iv, err := t.Int64Data()
			if err != nil {
				return nil, err
			}
			env[t.Name] = Value{Shape: shape, I: iv, Int: true}
		default:
			return nil, fmt.Errorf("initializer %s: element type %d not supported", t.Name, t.Type)
		}
	}
	for _, in := range g.Inputs {
		v, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("missing graph input %s", in.Name)
		}
		env[in.Name] = v
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		args := make([]Value, len(n.Inputs))
		for j, name := range n.Inputs {
			v, ok := env[name]
			if !ok {
				return nil, fmt.Errorf("node %s: input %s not computed", n.Name, name)
			}
			args[j] = v
		}
		out, err := apply(n, args)
		if err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", n.Name, n.OpType, err)
		}
		env[n.Outputs[0]] = out
	}
	return env, nil
}

func attrInt(n *onnx.Node, name string, def int64) int64 {
	if a, ok := n.Attr(name); ok {
		return a.Int
	}
	return def
}

func apply(n *onnx.Node, a []Value) (Value, error) {
	if n.Domain != "" {
		return Value{}, fmt.Errorf("custom domain %q not supported", n.Domain)
	}
	switch n.OpType {
	case "Identity":
		return a[0], nil
	case "Add":
		return broadcast(a[0], a[1], func(x, y float64) float64 { return x + y })
	case "Sub":
		return broadcast(a[0], a[1], func(x, y float64) float64 { return x - y })
	case "Mul":
		return broadcast(a[0], a[1], func(x, y float64) float64 { return x * y })
	case "Neg":
		return unary(a[0], func(x float64) float64 { return -x }), nil
	case "Tanh":
		return unary(a[0], math.Tanh), nil
	case "Exp":
		return unary(a[0], math.Exp), nil
	case "Relu":
		return unary(a[0], func(x float64) float64 { return math.Max(x, 0) }), nil
	case "Sigmoid":
		return unary(a[0], func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }), nil
	case "Reshape":
		return reshape(a[0], a[1])
	case "Gather":
		return gather(n, a[0], a[1])
	case "Gemm":
		if attrInt(n, "transB", 0) != 1 || attrInt(n, "transA", 0) != 0 || len(a) != 2 {
			return Value{}, fmt.Errorf("only Gemm(A, B) with transB=1 is supported")
		}
		return gemmTransB(a[0], a[1])
	case "MatMul":
		return matmul(a[0], a[1])
	case "LayerNormalization":
		return layerNorm(n, a)
	case "LpNormalization":
		if attrInt(n, "p", 2) != 2 || attrInt(n, "axis", -1) != -1 {
			return Value{}, fmt.Errorf("only p=2 over the last axis is supported")
		}
		return lastAxis(a[0], func(row []float32) {
			var s float64
			for _, x := range row {
				s += float64(x) * float64(x)
			}
			norm := math.Sqrt(s)
			for i := range row {
				row[i] = float32(float64(row[i]) / norm)
			}
		}), nil
	case "ReduceSum":
		return reduceSumLast(n, a)
	case "Slice":
		return slice(a)
	case "Transpose":
		perm, ok := n.Attr("perm")
		if !ok || len(perm.Ints) != 3 || perm.Ints[0] != 1 || perm.Ints[1] != 0 || perm.Ints[2] != 2 || len(a[0].Shape) != 3 {
			return Value{}, fmt.Errorf("only perm [1 0 2] of a rank-3 tensor is supported")
		}
		return swapLeading(a[0]), nil
	case "Concat":
		return concat(n, a)
	}
	return Value{}, fmt.Errorf("operator not supported by the test interpreter")
}

func unary(v Value, f func(float64) float64) Value {
	out := Value{Shape: v.Shape, F: make([]float32, len(v.F))}
	for i, x := range v.F {
		out.F[i] = float32(f(float64(x)))
	}
	return out
}

// broadcast applies a numpy-style broadcasting binary operator.
func broadcast(x, y Value, f func(a, b float64) float64) (Value, error) {
	rank := max(len(x.Shape), len(y.Shape))
	pad := func(s []int) []int {
		p := make([]int, rank)
		for i := range p {
			p[i] = 1
		}
		copy(p[rank-len(s):], s)
		return p
	}
	xs, ys := pad(x.Shape), pad(y.Shape)
	shape := make([]int, rank)
	for i := range shape {
		switch {
		case xs[i] == ys[i], ys[i] == 1:
			shape[i] = xs[i]
		case xs[i] == 1:
			shape[i] = ys[i]
		default:
			return Value{}, fmt.Errorf("shapes %v and %v do not broadcast", x.Shape, y.Shape)
		}
	}
	strides := func(s []int) []int {
		st := make([]int, rank)
		acc := 1
		for i := rank - 1; i >= 0; i-- {
			if s[i] == 1 {
				st[i] = 0
			} else {
				st[i] = acc
			}
			acc *= s[i]
		}
		return st
	}
	xst, yst := strides(xs), strides(ys)
	out := Value{Shape: shape}
	out.F = make([]float32, out.size())
	idx := make([]int, rank)
	for o := range out.F {
		xi, yi := 0, 0
		for d := 0; d < rank; d++ {
			xi += idx[d] * xst[d]
			yi += idx[d] * yst[d]
		}
		out.F[o] = float32(f(float64(x.F[xi]), float64(y.F[yi])))
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

func reshape(v, shape Value) (Value, error) {
	if !shape.Int {
		return Value{}, fmt.Errorf("shape input is not an integer tensor")
	}
	s := make([]int, len(shape.I))
	n := 1
	for i, d := range shape.I {
		if d <= 0 {
			return Value{}, fmt.Errorf("shape %v: only explicit positive dims are supported", shape.I)
		}
		s[i] = int(d)
		n *= int(d)
	}
	if n != v.size() {
		return Value{}, fmt.Errorf("cannot reshape %v to %v", v.Shape, s)
	}
	return Value{Shape: s, F: v.F, I: v.I, Int: v.Int}, nil
}

func gather(n *onnx.Node, table, idx Value) (Value, error) {
	if attrInt(n, "axis", 0) != 0 || !idx.Int || len(table.Shape) != 2 {
		return Value{}, fmt.Errorf("only row gathers from a matrix by integer indices are supported")
	}
	rows, cols := table.Shape[0], table.Shape[1]
	out := Value{Shape: append(append([]int{}, idx.Shape...), cols)}
	out.F = make([]float32, 0, len(idx.I)*cols)
	for _, id := range idx.I {
		if id < 0 || int(id) >= rows {
			return Value{}, fmt.Errorf("index %d outside %d rows", id, rows)
		}
		out.F = append(out.F, table.F[int(id)*cols:int(id+1)*cols]...)
	}
	return out, nil
}

func gemmTransB(a, b Value) (Value, error) {
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.Shape[1] != b.Shape[1] {
		return Value{}, fmt.Errorf("Gemm shapes %v × %vᵀ", a.Shape, b.Shape)
	}
	m, k, n := a.Shape[0], a.Shape[1], b.Shape[0]
	out := Value{Shape: []int{m, n}, F: make([]float32, m*n)}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a.F[i*k+p]) * float64(b.F[j*k+p])
			}
			out.F[i*n+j] = float32(s)
		}
	}
	return out, nil
}

// matmul multiplies matrices, batched over a shared leading dimension when both
// operands have rank 3.
func matmul(a, b Value) (Value, error) {
	switch {
	case len(a.Shape) == 2 && len(b.Shape) == 2:
		return batched(a, b, 1, a.Shape[0], a.Shape[1], b.Shape[0], b.Shape[1], []int{a.Shape[0], b.Shape[1]})
	case len(a.Shape) == 3 && len(b.Shape) == 3 && a.Shape[0] == b.Shape[0]:
		return batched(a, b, a.Shape[0], a.Shape[1], a.Shape[2], b.Shape[1], b.Shape[2], []int{a.Shape[0], a.Shape[1], b.Shape[2]})
	}
	return Value{}, fmt.Errorf("MatMul shapes %v × %v not supported", a.Shape, b.Shape)
}

func batched(a, b Value, batch, m, k, k2, n int, shape []int) (Value, error) {
	if k != k2 {
		return Value{}, fmt.Errorf("MatMul inner dims %d and %d differ", k, k2)
	}
	out := Value{Shape: shape, F: make([]float32, batch*m*n)}
	for z := 0; z < batch; z++ {
		A, B, O := a.F[z*m*k:], b.F[z*k*n:], out.F[z*m*n:]
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += float64(A[i*k+p]) * float64(B[p*n+j])
				}
				O[i*n+j] = float32(s)
			}
		}
	}
	return out, nil
}

func lastAxis(v Value, f func(row []float32)) Value {
	out := Value{Shape: v.Shape, F: append([]float32(nil), v.F...)}
	w := v.Shape[len(v.Shape)-1]
	for i := 0; i < len(out.F); i += w {
		f(out.F[i : i+w])
	}
	return out
}

func layerNorm(n *onnx.Node, a []Value) (Value, error) {
	if attrInt(n, "axis", -1) != -1 || len(a) != 3 {
		return Value{}, fmt.Errorf("only LayerNormalization(X, scale, bias) over the last axis is supported")
	}
	eps := 1e-5
	if at, ok := n.Attr("epsilon"); ok {
		eps = float64(at.Float)
	}
	w := a[0].Shape[len(a[0].Shape)-1]
	if len(a[1].F) != w || len(a[2].F) != w {
		return Value{}, fmt.Errorf("scale/bias of %d and %d for width %d", len(a[1].F), len(a[2].F), w)
	}
	return lastAxis(a[0], func(row []float32) {
		var mean, variance float64
		for _, x := range row {
			mean += float64(x)
		}
		mean /= float64(w)
		for _, x := range row {
			d := float64(x) - mean
			variance += d * d
		}
		variance /= float64(w)
		inv := 1 / math.Sqrt(variance+eps)
		for i, x := range row {
			row[i] = float32((float64(x)-mean)*inv*float64(a[1].F[i]) + float64(a[2].F[i]))
		}
	}), nil
}

func reduceSumLast(n *onnx.Node, a []Value) (Value, error) {
	if len(a) != 2 || !a[1].Int || len(a[1].I) != 1 || (a[1].I[0] != -1 && int(a[1].I[0]) != len(a[0].Shape)-1) || attrInt(n, "keepdims", 1) != 1 {
		return Value{}, fmt.Errorf("only ReduceSum over the last axis with keepdims=1 is supported")
	}
	v := a[0]
	w := v.Shape[len(v.Shape)-1]
	shape := append(append([]int{}, v.Shape[:len(v.Shape)-1]...), 1)
	out := Value{Shape: shape, F: make([]float32, len(v.F)/w)}
	for i := range out.F {
		var s float64
		for _, x := range v.F[i*w : (i+1)*w] {
			s += float64(x)
		}
		out.F[i] = float32(s)
	}
	return out, nil
}

func slice(a []Value) (Value, error) {
	if len(a) != 4 || len(a[1].I) != 1 || len(a[2].I) != 1 || len(a[3].I) != 1 || a[3].I[0] != 0 {
		return Value{}, fmt.Errorf("only single-axis slices along axis 0 are supported")
	}
	v := a[0]
	start, end := int(a[1].I[0]), int(a[2].I[0])
	if start < 0 || end > v.Shape[0] || start >= end {
		return Value{}, fmt.Errorf("slice [%d:%d] of %v", start, end, v.Shape)
	}
	row := v.size() / v.Shape[0]
	shape := append([]int{end - start}, v.Shape[1:]...)
	return Value{Shape: shape, F: v.F[start*row : end*row]}, nil
}

func concat(n *onnx.Node, a []Value) (Value, error) {
	if attrInt(n, "axis", 0) != 0 {
		return Value{}, fmt.Errorf("only axis 0 is supported")
	}
	out := Value{Shape: append([]int{0}, a[0].Shape[1:]...)}
	for _, v := range a {
		if len(v.Shape) != len(out.Shape) {
			return Value{}, fmt.Errorf("rank mismatch %v vs %v", v.Shape, out.Shape)
		}
		out.Shape[0] += v.Shape[0]
		out.F = append(out.F, v.F...)
	}
	return out, nil
}

// swapLeading transposes the first two axes of a rank-3 tensor.
func swapLeading(v Value) Value {
	d0, d1, d2 := v.Shape[0], v.Shape[1], v.Shape[2]
	out := Value{Shape: []int{d1, d0, d2}, F: make([]float32, len(v.F))}
	for i := 0; i < d0; i++ {
		for j := 0; j < d1; j++ {
			copy(out.F[(j*d0+i)*d2:(j*d0+i+1)*d2], v.F[(i*d1+j)*d2:(i*d1+j+1)*d2])
		}
	}
	return out
}
