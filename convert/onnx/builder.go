package onnx

import (
	"fmt"
	"strings"
)

// Builder assembles a graph node by node. Every node is named after the scope it was
// created in (for example "/blocks.3/att"), the way PyTorch's exporter names nodes, so
// that activation names line up with AIMET-style encodings keyed by the same scopes.
type Builder struct {
	graph  Graph
	scope  string
	used   map[string]int
	consts map[string]string // constant cache: key → initializer name
}

// NewBuilder starts an empty graph with a name.
func NewBuilder(name string) *Builder {
	return &Builder{graph: Graph{Name: name}, used: map[string]int{}, consts: map[string]string{}}
}

// Scope sets the name prefix of the nodes created next.
func (b *Builder) Scope(scope string) { b.scope = scope }

// Input declares a graph input and returns its name.
func (b *Builder) Input(name string, typ int32, dims ...int64) string {
	b.graph.Inputs = append(b.graph.Inputs, ValueInfo{Name: name, Type: typ, Dims: dims})
	return name
}

// Output declares value as a graph output called name, inserting an Identity node when
// the value already has another name.
func (b *Builder) Output(value, name string, typ int32, dims ...int64) {
	if value != name {
		b.graph.Nodes = append(b.graph.Nodes, Node{Name: name + "/Identity", OpType: "Identity", Inputs: []string{value}, Outputs: []string{name}})
	}
	b.graph.Outputs = append(b.graph.Outputs, ValueInfo{Name: name, Type: typ, Dims: dims})
}

// Weight adds a float32 initializer under its own (parameter) name.
func (b *Builder) Weight(name string, data []float32, dims ...int64) string {
	b.graph.Initializers = append(b.graph.Initializers, Tensor{Name: name, Type: Float, Dims: dims, Floats: data})
	return name
}

// Ints adds (or reuses) a constant int64 initializer, as Reshape shapes and Slice
// bounds need.
func (b *Builder) Ints(values ...int64) string {
	key := fmt.Sprint("i64", values)
	if name, ok := b.consts[key]; ok {
		return name
	}
	name := fmt.Sprintf("const_i64_%d", len(b.consts))
	b.graph.Initializers = append(b.graph.Initializers, Tensor{Name: name, Type: Int64, Dims: []int64{int64(len(values))}, Int64s: values})
	b.consts[key] = name
	return name
}

// Scalar adds (or reuses) a float32 scalar constant.
func (b *Builder) Scalar(v float32) string {
	key := fmt.Sprint("f32", v)
	if name, ok := b.consts[key]; ok {
		return name
	}
	name := fmt.Sprintf("const_f32_%d", len(b.consts))
	b.graph.Initializers = append(b.graph.Initializers, Tensor{Name: name, Type: Float, Dims: nil, Floats: []float32{v}})
	b.consts[key] = name
	return name
}

// Op adds a node with one output and returns the output's name.
func (b *Builder) Op(label, opType string, attrs []Attribute, inputs ...string) string {
	return b.OpN(label, opType, "", 1, attrs, inputs...)[0]
}

// OpN adds a node of a given domain with n outputs.
func (b *Builder) OpN(label, opType, domain string, n int, attrs []Attribute, inputs ...string) []string {
	base := b.scope + "/" + label
	if k := b.used[base]; k > 0 {
		b.used[base] = k + 1
		base = fmt.Sprintf("%s_%d", base, k)
	} else {
		b.used[base] = 1
	}
	outs := make([]string, n)
	for i := range outs {
		outs[i] = fmt.Sprintf("%s_output_%d", base, i)
	}
	b.graph.Nodes = append(b.graph.Nodes, Node{Name: base, OpType: opType, Domain: domain, Inputs: inputs, Outputs: outs, Attrs: attrs})
	return outs
}

// Graph returns the graph built so far.
func (b *Builder) Graph() Graph { return b.graph }

// Int returns an integer attribute.
func Int(name string, v int64) Attribute { return Attribute{Name: name, Kind: AttrInt, Int: v} }

// Float32 returns a float attribute.
func Float32(name string, v float32) Attribute {
	return Attribute{Name: name, Kind: AttrFloat, Float: v}
}

// IntList returns an integer-list attribute.
func IntList(name string, v ...int64) Attribute {
	return Attribute{Name: name, Kind: AttrInts, Ints: v}
}

// CheckNames reports graph values that are consumed but never produced, which the
// ONNX checker would also reject; it gives a clearer message for exporter bugs.
func CheckNames(g *Graph) error {
	have := map[string]bool{"": true}
	for _, in := range g.Inputs {
		have[in.Name] = true
	}
	for _, t := range g.Initializers {
		have[t.Name] = true
	}
	var missing []string
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if !have[in] {
				missing = append(missing, fmt.Sprintf("%s (input of %s)", in, n.Name))
			}
		}
		for _, out := range n.Outputs {
			have[out] = true
		}
	}
	for _, out := range g.Outputs {
		if !have[out.Name] {
			missing = append(missing, out.Name+" (graph output)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("graph %s: values used before they are produced: %s", g.Name, strings.Join(missing, ", "))
	}
	return nil
}
