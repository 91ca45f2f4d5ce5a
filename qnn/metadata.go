package qnn

import (
	"fmt"
	"unsafe"
)

// DataType is Qnn_DataType_t; the low byte spells the bit width in hex digits.
type DataType uint32

// The data types the session reads or writes.
const (
	Int32          DataType = 0x0032
	UInt16         DataType = 0x0116
	UInt32         DataType = 0x0132
	Float16        DataType = 0x0216
	Float32        DataType = 0x0232
	UFixedPoint8   DataType = 0x0408
	UFixedPoint16  DataType = 0x0416
	SFixedPoint16  DataType = 0x0316
	dataTypeInt8   DataType = 0x0008
	dataTypeUInt8  DataType = 0x0108
	dataTypeSFix8  DataType = 0x0308
	dataTypeBool8  DataType = 0x0508
	dataTypeInt16  DataType = 0x0016
	dataTypeBF16   DataType = 0x0226
	dataTypeInt64  DataType = 0x0064
	dataTypeUInt64 DataType = 0x0164
	dataTypeF64    DataType = 0x0264
	dataTypeSFix32 DataType = 0x0332
	dataTypeUFix32 DataType = 0x0432
)

// Size is the bytes per element, 0 for sub-byte, string or unknown types.
func (d DataType) Size() int {
	switch d {
	case dataTypeInt8, dataTypeUInt8, dataTypeSFix8, UFixedPoint8, dataTypeBool8:
		return 1
	case dataTypeInt16, UInt16, Float16, dataTypeBF16, SFixedPoint16, UFixedPoint16:
		return 2
	case Int32, UInt32, Float32, dataTypeSFix32, dataTypeUFix32:
		return 4
	case dataTypeInt64, dataTypeUInt64, dataTypeF64:
		return 8
	}
	return 0
}

// String is the header's name without the QNN_DATATYPE_ prefix: "UFIXED_POINT_16".
func (d DataType) String() string {
	names := map[DataType]string{
		dataTypeInt8: "INT_8", dataTypeInt16: "INT_16", Int32: "INT_32", dataTypeInt64: "INT_64",
		dataTypeUInt8: "UINT_8", UInt16: "UINT_16", UInt32: "UINT_32", dataTypeUInt64: "UINT_64",
		Float16: "FLOAT_16", dataTypeBF16: "BFLOAT_16", Float32: "FLOAT_32", dataTypeF64: "FLOAT_64",
		dataTypeSFix8: "SFIXED_POINT_8", SFixedPoint16: "SFIXED_POINT_16", dataTypeSFix32: "SFIXED_POINT_32",
		UFixedPoint8: "UFIXED_POINT_8", UFixedPoint16: "UFIXED_POINT_16", dataTypeUFix32: "UFIXED_POINT_32",
		dataTypeBool8: "BOOL_8",
	}
	if n, ok := names[d]; ok {
		return n
	}
	return fmt.Sprintf("DATATYPE_%#x", uint32(d))
}

// Quantization encodings that fit inline in Qnn_QuantizeParams_t.
const (
	encodingScaleOffset   = 0
	encodingBWScaleOffset = 2
	definitionDefined     = 1
)

// TensorInfo describes a graph input or output, deep-copied from the binary's metadata.
type TensorInfo struct {
	ID       uint32
	Name     string
	Type     uint32 // Qnn_TensorType_t: 0 APP_WRITE (input), 1 APP_READ (output)
	DataType DataType
	Dims     []uint32
	// Quantized is set for a per-tensor scale/offset encoding: real = (q + Offset) · Scale.
	Quantized bool
	Scale     float32
	Offset    int32

	version uint32
	quant   cQuantizeParams // inline encodings only; zero otherwise
	// pointerQuant is set when the encoding lives behind a pointer (per-axis,
	// block…): the session refuses such I/O tensors.
	pointerQuant bool
	format       uint32
}

// Elements is the product of the dimensions.
func (t TensorInfo) Elements() int {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	return n
}

// Bytes is the buffer size the tensor needs, 0 if the type has no byte size.
func (t TensorInfo) Bytes() int { return t.Elements() * t.DataType.Size() }

// String is the name, dimensions and data type, for messages.
func (t TensorInfo) String() string { return fmt.Sprintf("%s %v %s", t.Name, t.Dims, t.DataType) }

// GraphInfo is one graph of a context binary.
type GraphInfo struct {
	Name            string
	Inputs, Outputs []TensorInfo
}

// BinaryInfo is what QnnSystem reports about a context binary.
type BinaryInfo struct {
	Version   uint32 // QnnSystemContext_BinaryInfo_t version: 1, 2 or 3
	BackendID uint32
	BuildID   string
	CoreAPI   Version
	SocModel  uint32 // version 3 only
	Graphs    []GraphInfo
}

// Graph returns the graph named name.
func (b *BinaryInfo) Graph(name string) (GraphInfo, bool) {
	for _, g := range b.Graphs {
		if g.Name == name {
			return g, true
		}
	}
	return GraphInfo{}, false
}

// Bounds on counts read from metadata, so a corrupt binary gives an error instead
// of a huge allocation.
const (
	maxGraphs  = 1024
	maxTensors = 1 << 16
	maxRank    = 16
)

// ReadBinaryInfo lists the graphs and I/O tensors of a context binary through
// QnnSystem (systemContextGetMetaData, or the deprecated GetBinaryInfo where that is
// all the library has). Everything is copied before the system context is freed.
func (r *Runtime) ReadBinaryInfo(buf []byte) (*BinaryInfo, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("empty context binary")
	}
	var sys uintptr
	if err := r.sysCall("systemContextCreate", sysSlotContextCreate, uintptr(unsafe.Pointer(&sys))); err != nil {
		return nil, err
	}
	defer r.sysCall("systemContextFree", sysSlotContextFree, sys)
	var info uintptr
	var err error
	if r.sysSlot(sysSlotContextGetMetaData) != 0 {
		err = r.sysCall("systemContextGetMetaData", sysSlotContextGetMetaData, sys,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&info)))
	} else {
		var size uint64
		err = r.sysCall("systemContextGetBinaryInfo", sysSlotContextGetBinaryInfo, sys,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)))
	}
	if err != nil {
		return nil, err
	}
	if info == 0 {
		return nil, fmt.Errorf("qnn: system library returned no binary info")
	}
	return parseBinaryInfo(info)
}

func parseBinaryInfo(p uintptr) (*BinaryInfo, error) {
	bi := cread[cBinaryInfo](p)
	out := &BinaryInfo{Version: bi.Version}
	var numGraphs uint32
	var graphs uintptr
	switch bi.Version {
	case 1, 2:
		v := bi.V2
		out.BackendID, out.BuildID, out.CoreAPI = v.BackendID, cstring(v.BuildID), v.CoreAPIVersion.version()
		numGraphs, graphs = v.NumGraphs, v.Graphs
	case 3:
		v := cread[cBinaryInfoV3](p + unsafe.Offsetof(bi.V2))
		out.BackendID, out.BuildID, out.CoreAPI, out.SocModel = v.BackendID, cstring(v.BuildID), v.CoreAPIVersion.version(), v.SocModel
		numGraphs, graphs = v.NumGraphs, v.Graphs
	default:
		return nil, fmt.Errorf("qnn: binary info version %d not supported (know 1, 2, 3)", bi.Version)
	}
	if numGraphs > maxGraphs || (numGraphs > 0 && graphs == 0) {
		return nil, fmt.Errorf("qnn: binary info claims %d graphs at %#x", numGraphs, graphs)
	}
	for i := range uintptr(numGraphs) {
		g := cread[cGraphInfo](graphs + i*unsafe.Sizeof(cGraphInfo{}))
		if g.Version < 1 || g.Version > 3 {
			return nil, fmt.Errorf("qnn: graph %d: graph info version %d not supported (know 1, 2, 3)", i, g.Version)
		}
		// Name, inputs and outputs sit at the same offsets in every version.
		gi := GraphInfo{Name: cstring(g.V3.GraphName)}
		var err error
		if gi.Inputs, err = readTensors(g.V3.GraphInputs, g.V3.NumGraphInputs); err != nil {
			return nil, fmt.Errorf("qnn: graph %s inputs: %w", gi.Name, err)
		}
		if gi.Outputs, err = readTensors(g.V3.GraphOutputs, g.V3.NumGraphOutputs); err != nil {
			return nil, fmt.Errorf("qnn: graph %s outputs: %w", gi.Name, err)
		}
		out.Graphs = append(out.Graphs, gi)
	}
	return out, nil
}

func readTensors(p uintptr, n uint32) ([]TensorInfo, error) {
	if n > maxTensors || (n > 0 && p == 0) {
		return nil, fmt.Errorf("%d tensors at %#x", n, p)
	}
	out := make([]TensorInfo, n)
	for i := range out {
		t := cread[cTensor](p + uintptr(i)*sizeofTensor)
		if t.Version != 1 && t.Version != 2 {
			return nil, fmt.Errorf("tensor %d: version %d not supported", i, t.Version)
		}
		v := t.V2
		if v.Rank > maxRank || (v.Rank > 0 && v.Dimensions == 0) {
			return nil, fmt.Errorf("tensor %s: rank %d", cstring(v.Name), v.Rank)
		}
		ti := TensorInfo{ID: v.ID, Name: cstring(v.Name), Type: v.Type, DataType: DataType(v.DataType),
			version: t.Version, format: v.DataFormat}
		for d := range uintptr(v.Rank) {
			ti.Dims = append(ti.Dims, cread[uint32](v.Dimensions+d*4))
		}
		q := v.QuantizeParams
		switch {
		case q.EncodingDefinition != definitionDefined:
		case q.QuantizationEncoding == encodingScaleOffset:
			ti.Quantized, ti.Scale, ti.Offset = true, q.ScaleOffset.Scale, q.ScaleOffset.Offset
			ti.quant = q
		case q.QuantizationEncoding == encodingBWScaleOffset:
			// bitwidth, scale, offset at +0, +4, +8 of the union.
			raw := (*[3]uint32)(unsafe.Pointer(&q.ScaleOffset))
			ti.Quantized = true
			ti.Scale = *(*float32)(unsafe.Pointer(&raw[1]))
			ti.Offset = int32(raw[2])
			ti.quant = q
		default:
			ti.pointerQuant = true
		}
		out[i] = ti
	}
	return out, nil
}
