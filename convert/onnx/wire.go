package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto, by message.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14

	opsetDomain  = 1
	opsetVersion = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName   = 1
	attrFloat  = 2
	attrInt    = 3
	attrString = 4
	attrInts   = 8
	attrType   = 20

	tensorDims     = 1
	tensorDataType = 2
	tensorInt32    = 5
	tensorInt64    = 7
	tensorName     = 8
	tensorRawData  = 9
	tensorFloat    = 4

	valueInfoName = 1
	valueInfoType = 2

	typeTensor        = 1
	tensorTypeElem    = 1
	tensorTypeShape   = 2
	shapeDim          = 1
	dimValue          = 1
	stringStringKey   = 1
	stringStringValue = 2
)

// Marshal encodes a model as ONNX protobuf bytes.
func Marshal(m *Model) []byte {
	var b []byte
	b = protowire.AppendTag(b, modelIRVersion, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.IRVersion))
	b = appendString(b, modelProducerName, m.ProducerName)
	b = appendString(b, modelProducerVersion, m.ProducerVersion)
	b = appendString(b, modelDocString, m.DocString)
	b = appendMessage(b, modelGraph, marshalGraph(&m.Graph))
	for _, o := range m.Opsets {
		var ob []byte
		ob = appendString(ob, opsetDomain, o.Domain)
		ob = protowire.AppendTag(ob, opsetVersion, protowire.VarintType)
		ob = protowire.AppendVarint(ob, uint64(o.Version))
		b = appendMessage(b, modelOpsetImport, ob)
	}
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var kv []byte
		kv = appendString(kv, stringStringKey, k)
		kv = appendString(kv, stringStringValue, m.Metadata[k])
		b = appendMessage(b, modelMetadataProps, kv)
	}
	return b
}

func marshalGraph(g *Graph) []byte {
	var b []byte
	for i := range g.Nodes {
		b = appendMessage(b, graphNode, marshalNode(&g.Nodes[i]))
	}
	b = appendString(b, graphName, g.Name)
	for i := range g.Initializers {
		b = appendMessage(b, graphInitializer, marshalTensor(&g.Initializers[i]))
	}
	for _, v := range g.Inputs {
		b = appendMessage(b, graphInput, marshalValueInfo(v))
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, graphOutput, marshalValueInfo(v))
	}
	return b
}

func marshalNode(n *Node) []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	for _, out := range n.Outputs {
		b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
		b = protowire.AppendString(b, out)
	}
	b = appendString(b, nodeName, n.Name)
	b = appendString(b, nodeOpType, n.OpType)
	for _, a := range n.Attrs {
		b = appendMessage(b, nodeAttribute, marshalAttr(a))
	}
	b = appendString(b, nodeDomain, n.Domain)
	return b
}

func marshalAttr(a Attribute) []byte {
	var b []byte
	b = appendString(b, attrName, a.Name)
	switch a.Kind {
	case AttrFloat:
		b = protowire.AppendTag(b, attrFloat, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.Float))
	case AttrInt:
		b = protowire.AppendTag(b, attrInt, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.Int))
	case AttrString:
		b = protowire.AppendTag(b, attrString, protowire.BytesType)
		b = protowire.AppendString(b, a.String)
	case AttrInts:
		for _, v := range a.Ints {
			b = protowire.AppendTag(b, attrInts, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	b = protowire.AppendTag(b, attrType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Kind))
	return b
}

func marshalTensor(t *Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, tensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, tensorDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.Type))
	b = appendString(b, tensorName, t.Name)
	var raw []byte
	switch {
	case t.RawData != nil:
		raw = t.RawData
	case t.Type == Float:
		raw = make([]byte, 4*len(t.Floats))
		for i, v := range t.Floats {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case t.Type == Int64:
		raw = make([]byte, 8*len(t.Int64s))
		for i, v := range t.Int64s {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	case t.Type == Int32:
		raw = make([]byte, 4*len(t.Int32s))
		for i, v := range t.Int32s {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
		}
	}
	b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	return b
}

func marshalValueInfo(v ValueInfo) []byte {
	var shape []byte
	for _, d := range v.Dims {
		var dim []byte
		dim = protowire.AppendTag(dim, dimValue, protowire.VarintType)
		dim = protowire.AppendVarint(dim, uint64(d))
		shape = appendMessage(shape, shapeDim, dim)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, tensorTypeElem, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(v.Type))
	tt = appendMessage(tt, tensorTypeShape, shape)
	var typ []byte
	typ = appendMessage(typ, typeTensor, tt)
	var b []byte
	b = appendString(b, valueInfoName, v.Name)
	b = appendMessage(b, valueInfoType, typ)
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// Unmarshal decodes ONNX protobuf bytes. Fields the exporter never writes are skipped.
func Unmarshal(data []byte) (*Model, error) {
	m := &Model{}
	err := eachField(data, func(num protowire.Number, typ protowire.Type, v uint64, bytes []byte) error {
		switch num {
		case modelIRVersion:
			m.IRVersion = int64(v)
		case modelProducerName:
			m.ProducerName = string(bytes)
		case modelProducerVersion:
			m.ProducerVersion = string(bytes)
		case modelDocString:
			m.DocString = string(bytes)
		case modelGraph:
			return unmarshalGraph(bytes, &m.Graph)
		case modelOpsetImport:
			var o OpsetImport
			err := eachField(bytes, func(num protowire.Number, _ protowire.Type, v uint64, b []byte) error {
				switch num {
				case opsetDomain:
					o.Domain = string(b)
				case opsetVersion:
					o.Version = int64(v)
				}
				return nil
			})
			m.Opsets = append(m.Opsets, o)
			return err
		case modelMetadataProps:
			var k, val string
			err := eachField(bytes, func(num protowire.Number, _ protowire.Type, _ uint64, b []byte) error {
				switch num {
				case stringStringKey:
					k = string(b)
				case stringStringValue:
					val = string(b)
				}
				return nil
			})
			if m.Metadata == nil {
				m.Metadata = map[string]string{}
			}
			m.Metadata[k] = val
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx model: %w", err)
	}
	return m, nil
}

func unmarshalGraph(data []byte, g *Graph) error {
	return eachField(data, func(num protowire.Number, _ protowire.Type, _ uint64, b []byte) error {
		switch num {
		case graphNode:
			var n Node
			if err := unmarshalNode(b, &n); err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case graphName:
			g.Name = string(b)
		case graphInitializer:
			var t Tensor
			if err := unmarshalTensor(b, &t); err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, t)
		case graphInput, graphOutput:
			v, err := unmarshalValueInfo(b)
			if err != nil {
				return err
			}
			if num == graphInput {
				g.Inputs = append(g.Inputs, v)
			} else {
				g.Outputs = append(g.Outputs, v)
			}
		}
		return nil
	})
}

func unmarshalNode(data []byte, n *Node) error {
	return eachField(data, func(num protowire.Number, _ protowire.Type, _ uint64, b []byte) error {
		switch num {
		case nodeInput:
			n.Inputs = append(n.Inputs, string(b))
		case nodeOutput:
			n.Outputs = append(n.Outputs, string(b))
		case nodeName:
			n.Name = string(b)
		case nodeOpType:
			n.OpType = string(b)
		case nodeDomain:
			n.Domain = string(b)
		case nodeAttribute:
			var a Attribute
			err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, bb []byte) error {
				switch num {
				case attrName:
					a.Name = string(bb)
				case attrFloat:
					a.Float = math.Float32frombits(uint32(v))
				case attrInt:
					a.Int = int64(v)
				case attrString:
					a.String = string(bb)
				case attrInts:
					var err error
					a.Ints, err = appendInt64s(a.Ints, typ, v, bb)
					return err
				case attrType:
					a.Kind = AttrKind(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		}
		return nil
	})
}

func unmarshalTensor(data []byte, t *Tensor) error {
	return eachField(data, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch num {
		case tensorDims:
			var err error
			t.Dims, err = appendInt64s(t.Dims, typ, v, b)
			return err
		case tensorDataType:
			t.Type = int32(v)
		case tensorName:
			t.Name = string(b)
		case tensorRawData:
			t.RawData = append([]byte(nil), b...)
		case tensorFloat, tensorInt32, tensorInt64:
			return fmt.Errorf("tensor %s: typed data fields are not supported, only raw_data", t.Name)
		}
		return nil
	})
}

func unmarshalValueInfo(data []byte) (ValueInfo, error) {
	var v ValueInfo
	err := eachField(data, func(num protowire.Number, _ protowire.Type, _ uint64, b []byte) error {
		switch num {
		case valueInfoName:
			v.Name = string(b)
		case valueInfoType:
			return eachField(b, func(num protowire.Number, _ protowire.Type, _ uint64, b []byte) error {
				if num != typeTensor {
					return nil
				}
				return eachField(b, func(num protowire.Number, _ protowire.Type, x uint64, b []byte) error {
					switch num {
					case tensorTypeElem:
						v.Type = int32(x)
					case tensorTypeShape:
						return eachField(b, func(num protowire.Number, _ protowire.Type, _ uint64, b []byte) error {
							if num != shapeDim {
								return nil
							}
							var d int64 = -1
							err := eachField(b, func(num protowire.Number, _ protowire.Type, x uint64, _ []byte) error {
								if num == dimValue {
									d = int64(x)
								}
								return nil
							})
							v.Dims = append(v.Dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return v, err
}

// appendInt64s appends one repeated-int64 field occurrence: a single varint, or a
// packed run of them.
func appendInt64s(dst []int64, typ protowire.Type, v uint64, packed []byte) ([]int64, error) {
	if typ != protowire.BytesType {
		return append(dst, int64(v)), nil
	}
	for len(packed) > 0 {
		x, n := protowire.ConsumeVarint(packed)
		if n < 0 {
			return dst, protowire.ParseError(n)
		}
		dst = append(dst, int64(x))
		packed = packed[n:]
	}
	return dst, nil
}

var errGroup = errors.New("group wire types are not used by ONNX")

// eachField walks the fields of one message, handing varints and fixed values as v
// and length-delimited values as bytes.
func eachField(data []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, bytes []byte) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		var v uint64
		var bytes []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(data)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(data)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(data)
		case protowire.BytesType:
			bytes, n = protowire.ConsumeBytes(data)
		default:
			return errGroup
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		if err := fn(num, typ, v, bytes); err != nil {
			return err
		}
	}
	return nil
}
