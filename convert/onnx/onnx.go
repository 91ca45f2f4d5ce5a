// Package onnx writes and reads the subset of the ONNX protobuf format that rwkvbench
// exports: one graph of standard operators (opset 17) plus, optionally, the RWKV WKV
// custom op of the HTP op package, with float32 initializers stored as raw data.
//
// The encoding is done with protowire against the field numbers of onnx.proto rather
// than with generated code: the exported graphs use a dozen message types, and a
// hand-kept mapping of those is smaller and easier to audit than a vendored schema.
// Reading exists so tests and `convert --emit onnx` can inspect what was written.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Element types (TensorProto.DataType).
const (
	Float   int32 = 1
	Uint16  int32 = 4
	Int32   int32 = 6
	Int64   int32 = 7
	Float16 int32 = 10
)

// Opset is the default-domain operator set version the exporter targets. It is the
// version the original project exported with, and the first with LayerNormalization.
const Opset = 17

// IRVersion is the ONNX IR version that goes with opset 17.
const IRVersion = 8

// Tensor is an initializer or a constant: a name, dims and data of one element type.
type Tensor struct {
	Name    string
	Dims    []int64
	Type    int32     // Float, Int32 or Int64
	Floats  []float32 // when Type is Float
	Int32s  []int32   // when Type is Int32
	Int64s  []int64   // when Type is Int64
	RawData []byte    // as read from a file, before decoding
}

// Attribute is a node attribute. Exactly one of the value fields is meaningful,
// selected by Kind.
type Attribute struct {
	Name   string
	Kind   AttrKind
	Int    int64
	Float  float32
	String string
	Ints   []int64
}

// AttrKind is AttributeProto.AttributeType.
type AttrKind int32

// Attribute kinds used by the exporter.
const (
	AttrFloat  AttrKind = 1
	AttrInt    AttrKind = 2
	AttrString AttrKind = 3
	AttrInts   AttrKind = 7
)

// Node is one operator application.
type Node struct {
	Name    string
	OpType  string
	Domain  string // "" for the default ONNX domain
	Inputs  []string
	Outputs []string
	Attrs   []Attribute
}

// Attr returns the named attribute and whether it exists.
func (n *Node) Attr(name string) (Attribute, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// ValueInfo names a graph input or output with its element type and static shape.
type ValueInfo struct {
	Name string
	Type int32
	Dims []int64
}

// Graph is a computation graph.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// OpsetImport is one (domain, version) pair the model uses.
type OpsetImport struct {
	Domain  string
	Version int64
}

// Model is a whole ONNX model.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetImport
	ProducerName    string
	ProducerVersion string
	DocString       string
	Graph           Graph
	Metadata        map[string]string
}

// FloatData returns a tensor's float32 values, decoding raw data if needed.
func (t *Tensor) FloatData() ([]float32, error) {
	if t.Type != Float {
		return nil, fmt.Errorf("tensor %s: element type %d is not float", t.Name, t.Type)
	}
	if t.Floats != nil || t.RawData == nil {
		return t.Floats, nil
	}
	if len(t.RawData)%4 != 0 {
		return nil, fmt.Errorf("tensor %s: raw data of %d bytes is not a whole number of floats", t.Name, len(t.RawData))
	}
	out := make([]float32, len(t.RawData)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
	}
	return out, nil
}

// Int64Data returns a tensor's integer values widened to int64.
func (t *Tensor) Int64Data() ([]int64, error) {
	switch t.Type {
	case Int64:
		if t.Int64s != nil || t.RawData == nil {
			return t.Int64s, nil
		}
		if len(t.RawData)%8 != 0 {
			return nil, fmt.Errorf("tensor %s: raw data of %d bytes is not a whole number of int64s", t.Name, len(t.RawData))
		}
		out := make([]int64, len(t.RawData)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.RawData[8*i:]))
		}
		return out, nil
	case Int32:
		src := t.Int32s
		if src == nil && t.RawData != nil {
			if len(t.RawData)%4 != 0 {
				return nil, fmt.Errorf("tensor %s: raw data of %d bytes is not a whole number of int32s", t.Name, len(t.RawData))
			}
			src = make([]int32, len(t.RawData)/4)
			for i := range src {
				src[i] = int32(binary.LittleEndian.Uint32(t.RawData[4*i:]))
			}
		}
		out := make([]int64, len(src))
		for i, v := range src {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %s: element type %d is not an integer type", t.Name, t.Type)
}
