package qnn

import (
	"reflect"
	"strings"
	"unsafe"
)

// Go mirrors of the QNN C structs the binding reads or hands to the library, laid out
// as the QAIRT 2.43 headers (core API 2.32, system API 1.7, HTP API 5.43) lay them out
// on every 64-bit target (qnn-abi.md §1–§5: LP64 and LLP64 agree because QNN uses
// only fixed-width ints, 4-byte enums, pointers, float, size_t and one-byte bool).
// Pointers are uintptr: they point into C memory or into pinned Go memory, and the
// garbage collector must not treat them as references. Unions are the member the
// binding uses, or an aligned blob of the union's size.
//
// The qnn struct tags carry the C field names; ABI() walks them to show what the
// binding really does, and the tests pin every size and offset to the documented one.
// A tag "a|b" names a union whose members share the offset; only the first (the
// member the binding uses) is expanded into its fields.

type cVersion struct {
	Major uint32 `qnn:"major"`
	Minor uint32 `qnn:"minor"`
	Patch uint32 `qnn:"patch"`
}

// cInterfaceHeader is the head of QnnInterface_t; the function table starts right
// after it, at byte 40.
type cInterfaceHeader struct {
	BackendID         uint32   `qnn:"backendId"`
	ProviderName      uintptr  `qnn:"providerName"`
	CoreAPIVersion    cVersion `qnn:"apiVersion.coreApiVersion"`
	BackendAPIVersion cVersion `qnn:"apiVersion.backendApiVersion"`
}

// cInterface is QnnInterface_t with the API 2.32 table (71 slots).
type cInterface struct {
	cInterfaceHeader
	Table [coreTableSlots]uintptr `qnn:"v2_32"`
}

const coreTableSlots = 71

// cSystemInterfaceHeader is the head of QnnSystemInterface_t; the table starts at 32.
type cSystemInterfaceHeader struct {
	BackendID        uint32   `qnn:"backendId"`
	ProviderName     uintptr  `qnn:"providerName"`
	SystemAPIVersion cVersion `qnn:"systemApiVersion"`
	_                uint32
}

type cSystemInterface struct {
	cSystemInterfaceHeader
	Table [systemTableSlots]uintptr `qnn:"v1_7"`
}

const systemTableSlots = 16

type cScaleOffset struct {
	Scale  float32 `qnn:"scale"`
	Offset int32   `qnn:"offset"`
}

// cQuantizeParams is Qnn_QuantizeParams_t; the binding reads only the
// SCALE_OFFSET member of the 32-byte union.
type cQuantizeParams struct {
	EncodingDefinition   int32        `qnn:"encodingDefinition"`
	QuantizationEncoding int32        `qnn:"quantizationEncoding"`
	ScaleOffset          cScaleOffset `qnn:"scaleOffsetEncoding"`
	_                    [3]uint64
}

type cClientBuffer struct {
	Data     uintptr `qnn:"data"`
	DataSize uint32  `qnn:"dataSize"`
	_        uint32
}

type cSparseParams struct {
	Type                 uint32 `qnn:"type"`
	NumSpecifiedElements uint32 `qnn:"hybridCoo.numSpecifiedElements"`
	NumSparseDimensions  uint32 `qnn:"hybridCoo.numSparseDimensions"`
}

// cTensorV2 is Qnn_TensorV2_t; its first 112 bytes are Qnn_TensorV1_t.
type cTensorV2 struct {
	ID             uint32          `qnn:"id"`
	Name           uintptr         `qnn:"name"`
	Type           uint32          `qnn:"type"`
	DataFormat     uint32          `qnn:"dataFormat"`
	DataType       uint32          `qnn:"dataType"`
	QuantizeParams cQuantizeParams `qnn:"quantizeParams"`
	Rank           uint32          `qnn:"rank"`
	Dimensions     uintptr         `qnn:"dimensions"`
	MemType        uint32          `qnn:"memType"`
	// ClientBuf is the union {clientBuf; memHandle; retrieveRaw}: with memType
	// MEMHANDLE, ClientBuf.Data holds the handle.
	ClientBuf           cClientBuffer `qnn:"clientBuf|memHandle"`
	IsDynamicDimensions uintptr       `qnn:"isDynamicDimensions"`
	SparseParams        cSparseParams `qnn:"sparseParams"`
	IsProduced          uint8         `qnn:"isProduced"`
}

// cTensor is Qnn_Tensor_t: a version and the V1/V2 union. Arrays of it have stride 144.
type cTensor struct {
	Version uint32    `qnn:"version"`
	V2      cTensorV2 `qnn:"v2|v1"`
}

// cGraphInfoV3 is QnnSystemContext_GraphInfoV3_t; V1 (first 40 bytes) and V2
// (first 56) are prefixes of it.
type cGraphInfoV3 struct {
	GraphName            uintptr `qnn:"graphName"`
	NumGraphInputs       uint32  `qnn:"numGraphInputs"`
	GraphInputs          uintptr `qnn:"graphInputs"`
	NumGraphOutputs      uint32  `qnn:"numGraphOutputs"`
	GraphOutputs         uintptr `qnn:"graphOutputs"`
	NumUpdateableTensors uint32  `qnn:"numUpdateableTensors"`
	UpdateableTensors    uintptr `qnn:"updateableTensors"`
	GraphBlobInfoSize    uint32  `qnn:"graphBlobInfoSize"`
	GraphBlobInfo        uintptr `qnn:"graphBlobInfo"`
	StartOpIndex         uint32  `qnn:"startOpIndex"`
	EndOpIndex           uint32  `qnn:"endOpIndex"`
}

// cGraphInfo is QnnSystemContext_GraphInfo_t (88 bytes, the array stride).
type cGraphInfo struct {
	Version uint32       `qnn:"version"`
	V3      cGraphInfoV3 `qnn:"graphInfoV3|graphInfoV2|graphInfoV1"`
}

// cBinaryInfoV2 is QnnSystemContext_BinaryInfoV2_t; V1 is V2 without platformInfo.
type cBinaryInfoV2 struct {
	BackendID          uint32   `qnn:"backendId"`
	BuildID            uintptr  `qnn:"buildId"`
	CoreAPIVersion     cVersion `qnn:"coreApiVersion"`
	BackendAPIVersion  cVersion `qnn:"backendApiVersion"`
	SocVersion         uintptr  `qnn:"socVersion"`
	HwInfoBlobVersion  cVersion `qnn:"hwInfoBlobVersion"`
	ContextBlobVersion cVersion `qnn:"contextBlobVersion"`
	HwInfoBlobSize     uint32   `qnn:"hwInfoBlobSize"`
	HwInfoBlob         uintptr  `qnn:"hwInfoBlob"`
	ContextBlobSize    uint64   `qnn:"contextBlobSize"`
	NumContextTensors  uint32   `qnn:"numContextTensors"`
	ContextTensors     uintptr  `qnn:"contextTensors"`
	NumGraphs          uint32   `qnn:"numGraphs"`
	Graphs             uintptr  `qnn:"graphs"`
	PlatformInfo       uintptr  `qnn:"platformInfo"`
}

// cBinaryInfoV3 is QnnSystemContext_BinaryInfoV3_t: not a superset of V2 (the
// hardware-info fields are gone), so readers switch on the version.
type cBinaryInfoV3 struct {
	BackendID           uint32   `qnn:"backendId"`
	BuildID             uintptr  `qnn:"buildId"`
	CoreAPIVersion      cVersion `qnn:"coreApiVersion"`
	BackendAPIVersion   cVersion `qnn:"backendApiVersion"`
	SocVersion          uintptr  `qnn:"socVersion"`
	ContextBlobVersion  cVersion `qnn:"contextBlobVersion"`
	ContextBlobSize     uint64   `qnn:"contextBlobSize"`
	NumContextTensors   uint32   `qnn:"numContextTensors"`
	ContextTensors      uintptr  `qnn:"contextTensors"`
	NumGraphs           uint32   `qnn:"numGraphs"`
	Graphs              uintptr  `qnn:"graphs"`
	PlatformInfo        uintptr  `qnn:"platformInfo"`
	ContextMetadataSize uint32   `qnn:"contextMetadataSize"`
	ContextMetadata     uintptr  `qnn:"contextMetadata"`
	SocModel            uint32   `qnn:"socModel"`
}

// cBinaryInfo is QnnSystemContext_BinaryInfo_t (144 bytes).
type cBinaryInfo struct {
	Version uint32        `qnn:"version"`
	V2      cBinaryInfoV2 `qnn:"contextBinaryInfoV2|contextBinaryInfoV1"`
}

type cMemShape struct {
	NumDim      uint32  `qnn:"numDim"`
	DimSize     uintptr `qnn:"dimSize"`
	ShapeConfig uintptr `qnn:"shapeConfig"`
}

// cMemDescriptor is Qnn_MemDescriptor_t; the union holds ionInfo.fd (an int32 at
// its start) or customInfo (a pointer).
type cMemDescriptor struct {
	MemShape cMemShape `qnn:"memShape"`
	DataType uint32    `qnn:"dataType"`
	MemType  uint32    `qnn:"memType"`
	IonFd    int32     `qnn:"ionInfo.fd"`
	_        int32
	_        uint64
}

// cMemHtpDescriptor is QnnMemHtp_Descriptor_t for SHARED_BUFFER: many tensors in
// one registered allocation.
type cMemHtpDescriptor struct {
	Type   uint32 `qnn:"type"`
	Size   uint64 `qnn:"size"`
	Fd     int32  `qnn:"sharedBufferConfig.fd"`
	Offset uint64 `qnn:"sharedBufferConfig.offset"`
}

// cDcvsV3 is QnnHtpPerfInfrastructure_DcvsV3_t (sixteen uint32).
type cDcvsV3 struct {
	ContextID            uint32 `qnn:"contextId"`
	SetDcvsEnable        uint32 `qnn:"setDcvsEnable"`
	DcvsEnable           uint32 `qnn:"dcvsEnable"`
	PowerMode            uint32 `qnn:"powerMode"`
	SetSleepLatency      uint32 `qnn:"setSleepLatency"`
	SleepLatency         uint32 `qnn:"sleepLatency"`
	SetSleepDisable      uint32 `qnn:"setSleepDisable"`
	SleepDisable         uint32 `qnn:"sleepDisable"`
	SetBusParams         uint32 `qnn:"setBusParams"`
	BusVoltageCornerMin  uint32 `qnn:"busVoltageCornerMin"`
	BusVoltageCornerTgt  uint32 `qnn:"busVoltageCornerTarget"`
	BusVoltageCornerMax  uint32 `qnn:"busVoltageCornerMax"`
	SetCoreParams        uint32 `qnn:"setCoreParams"`
	CoreVoltageCornerMin uint32 `qnn:"coreVoltageCornerMin"`
	CoreVoltageCornerTgt uint32 `qnn:"coreVoltageCornerTarget"`
	CoreVoltageCornerMax uint32 `qnn:"coreVoltageCornerMax"`
}

// cPowerConfig is QnnHtpPerfInfrastructure_PowerConfig_t (68 bytes, align 4). The
// union holds a DcvsV3 or a single uint32 (latency/polling options) at byte 4.
type cPowerConfig struct {
	Option uint32  `qnn:"option"`
	DcvsV3 cDcvsV3 `qnn:"dcvsV3Config"`
}

type cPerfInfrastructure struct {
	CreatePowerConfigID  uintptr `qnn:"createPowerConfigId"`
	DestroyPowerConfigID uintptr `qnn:"destroyPowerConfigId"`
	SetPowerConfig       uintptr `qnn:"setPowerConfig"`
	SetMemoryConfig      uintptr `qnn:"setMemoryConfig"`
}

// cHtpInfrastructure is QnnHtpDevice_Infrastructure_t.
type cHtpInfrastructure struct {
	InfraType uint32              `qnn:"infraType"`
	PerfInfra cPerfInfrastructure `qnn:"perfInfra"`
}

// cConfig is the 16-byte generic config of backend, device, context and graph
// (QnnContext_Config_t and friends): option and an 8-byte union.
type cConfig struct {
	Option uint32 `qnn:"option"`
	Value  uint64 `qnn:"customConfig"`
}

// cHtpDeviceCustomConfig is QnnHtpDevice_CustomConfig_t (12 bytes, align 4).
type cHtpDeviceCustomConfig struct {
	Option uint32    `qnn:"option"`
	U      [2]uint32 `qnn:"socModel|arch"`
}

// cHtpContextCustomConfig is QnnHtpContext_CustomConfig_t (24 bytes).
type cHtpContextCustomConfig struct {
	Option uint32    `qnn:"option"`
	U      [2]uint64 `qnn:"weightSharingEnabled|ioMemEstimation"`
}

// Function-table slots the binding calls (qnn-abi.md §1.3, §1.5): a slot's
// function pointer is at provider + header size + 8·slot.
const (
	slotPropertyHasCapability    = 0
	slotBackendCreate            = 1
	slotBackendGetBuildID        = 4
	slotBackendRegisterOpPackage = 5
	slotBackendFree              = 8
	slotContextCreateFromBinary  = 13
	slotContextFree              = 14
	slotGraphRetrieve            = 20
	slotGraphExecute             = 21
	slotLogCreate                = 25
	slotLogFree                  = 27
	slotMemRegister              = 35
	slotMemDeRegister            = 36
	slotDeviceGetInfrastructure  = 39
	slotDeviceCreate             = 40
	slotDeviceFree               = 43
	slotErrorGetMessage          = 48

	sysSlotContextCreate        = 0
	sysSlotContextGetBinaryInfo = 1
	sysSlotContextGetMetaData   = 2
	sysSlotContextFree          = 3
)

// StructLayout is one mirrored C struct as the binding lays it out.
type StructLayout struct {
	Size uintptr `json:"size"`
	// Fields maps a C field name, dotted for nested members ("v2.quantizeParams"), to
	// its byte offset in the struct.
	Fields map[string]uintptr `json:"fields"`
}

// ABILayout is the binding's view of the QNN C ABI, for comparison with an SDK's headers.
type ABILayout struct {
	// Structs is keyed by the C type name of the QNN headers.
	Structs map[string]StructLayout `json:"structs"`
	// Slots are the core function-table indices of every entry point the binding calls.
	Slots map[string]int `json:"slots"`
	// SystemSlots are the QnnSystem function-table indices.
	SystemSlots map[string]int `json:"systemSlots"`
}

// ABI reports the sizes and field offsets of the Go structs the binding hands to QNN,
// computed by the compiler (reflect's offsets are unsafe.Offsetof's), and the table
// slots it calls.
func ABI() ABILayout {
	structs := map[string]any{
		"Qnn_Version_t":                          cVersion{},
		"QnnInterface_t":                         cInterface{},
		"QnnSystemInterface_t":                   cSystemInterface{},
		"Qnn_ScaleOffset_t":                      cScaleOffset{},
		"Qnn_QuantizeParams_t":                   cQuantizeParams{},
		"Qnn_ClientBuffer_t":                     cClientBuffer{},
		"Qnn_TensorV2_t":                         cTensorV2{},
		"Qnn_Tensor_t":                           cTensor{},
		"QnnSystemContext_GraphInfoV3_t":         cGraphInfoV3{},
		"QnnSystemContext_GraphInfo_t":           cGraphInfo{},
		"QnnSystemContext_BinaryInfoV2_t":        cBinaryInfoV2{},
		"QnnSystemContext_BinaryInfoV3_t":        cBinaryInfoV3{},
		"QnnSystemContext_BinaryInfo_t":          cBinaryInfo{},
		"Qnn_MemDescriptor_t":                    cMemDescriptor{},
		"QnnMemHtp_Descriptor_t":                 cMemHtpDescriptor{},
		"QnnHtpPerfInfrastructure_DcvsV3_t":      cDcvsV3{},
		"QnnHtpPerfInfrastructure_PowerConfig_t": cPowerConfig{},
		"QnnHtpDevice_PerfInfrastructure_t":      cPerfInfrastructure{},
		"QnnHtpDevice_Infrastructure_t":          cHtpInfrastructure{},
		"QnnContext_Config_t":                    cConfig{},
		"QnnHtpDevice_CustomConfig_t":            cHtpDeviceCustomConfig{},
		"QnnHtpContext_CustomConfig_t":           cHtpContextCustomConfig{},
	}
	out := ABILayout{
		Structs: map[string]StructLayout{},
		Slots: map[string]int{
			"propertyHasCapability":    slotPropertyHasCapability,
			"backendCreate":            slotBackendCreate,
			"backendGetBuildId":        slotBackendGetBuildID,
			"backendRegisterOpPackage": slotBackendRegisterOpPackage,
			"backendFree":              slotBackendFree,
			"contextCreateFromBinary":  slotContextCreateFromBinary,
			"contextFree":              slotContextFree,
			"graphRetrieve":            slotGraphRetrieve,
			"graphExecute":             slotGraphExecute,
			"logCreate":                slotLogCreate,
			"logFree":                  slotLogFree,
			"memRegister":              slotMemRegister,
			"memDeRegister":            slotMemDeRegister,
			"deviceGetInfrastructure":  slotDeviceGetInfrastructure,
			"deviceCreate":             slotDeviceCreate,
			"deviceFree":               slotDeviceFree,
			"errorGetMessage":          slotErrorGetMessage,
		},
		SystemSlots: map[string]int{
			"systemContextCreate":        sysSlotContextCreate,
			"systemContextGetBinaryInfo": sysSlotContextGetBinaryInfo,
			"systemContextGetMetaData":   sysSlotContextGetMetaData,
			"systemContextFree":          sysSlotContextFree,
		},
	}
	for name, v := range structs {
		t := reflect.TypeOf(v)
		fields := map[string]uintptr{}
		walkFields(t, "", 0, fields)
		out.Structs[name] = StructLayout{Size: t.Size(), Fields: fields}
	}
	return out
}

func walkFields(t reflect.Type, prefix string, base uintptr, out map[string]uintptr) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			walkFields(f.Type, prefix, base+f.Offset, out)
			continue
		}
		tag := f.Tag.Get("qnn")
		if tag == "" {
			continue
		}
		names := strings.Split(tag, "|")
		for _, n := range names {
			out[prefix+n] = base + f.Offset
		}
		if f.Type.Kind() == reflect.Struct {
			walkFields(f.Type, prefix+names[0]+".", base+f.Offset, out)
		}
	}
}

// sizeofTensor is the array stride of Qnn_Tensor_t.
const sizeofTensor = unsafe.Sizeof(cTensor{})

// Sizes the binding computes table addresses from.
const (
	interfaceHeaderSize = unsafe.Sizeof(cInterfaceHeader{})
	systemHeaderSize    = unsafe.Sizeof(cSystemInterfaceHeader{})
	ptrSize             = unsafe.Sizeof(uintptr(0))
)
