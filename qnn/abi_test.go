package qnn

import (
	"testing"
	"unsafe"
)

// Sizes and offsets from qnn-abi.md (confirmed there with offsetof against the
// QAIRT 2.43 headers on five targets); identical on amd64 and arm64.
func TestStructSizes(t *testing.T) {
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"Qnn_Version_t", unsafe.Sizeof(cVersion{}), 12},
		{"QnnInterface_t header", unsafe.Sizeof(cInterfaceHeader{}), 40},
		{"QnnInterface_t (2.32)", unsafe.Sizeof(cInterface{}), 608},
		{"QnnSystemInterface_t header", unsafe.Sizeof(cSystemInterfaceHeader{}), 32},
		{"QnnSystemInterface_t (1.7)", unsafe.Sizeof(cSystemInterface{}), 160},
		{"Qnn_QuantizeParams_t", unsafe.Sizeof(cQuantizeParams{}), 40},
		{"Qnn_ClientBuffer_t", unsafe.Sizeof(cClientBuffer{}), 16},
		{"Qnn_TensorV2_t", unsafe.Sizeof(cTensorV2{}), 136},
		{"Qnn_Tensor_t", unsafe.Sizeof(cTensor{}), 144},
		{"QnnSystemContext_GraphInfoV3_t", unsafe.Sizeof(cGraphInfoV3{}), 80},
		{"QnnSystemContext_GraphInfo_t", unsafe.Sizeof(cGraphInfo{}), 88},
		{"QnnSystemContext_BinaryInfoV2_t", unsafe.Sizeof(cBinaryInfoV2{}), 136},
		{"QnnSystemContext_BinaryInfoV3_t", unsafe.Sizeof(cBinaryInfoV3{}), 136},
		{"QnnSystemContext_BinaryInfo_t", unsafe.Sizeof(cBinaryInfo{}), 144},
		{"Qnn_MemDescriptor_t", unsafe.Sizeof(cMemDescriptor{}), 48},
		{"QnnMemHtp_Descriptor_t", unsafe.Sizeof(cMemHtpDescriptor{}), 32},
		{"QnnHtpPerfInfrastructure_DcvsV3_t", unsafe.Sizeof(cDcvsV3{}), 64},
		{"QnnHtpPerfInfrastructure_PowerConfig_t", unsafe.Sizeof(cPowerConfig{}), 68},
		{"QnnHtpDevice_PerfInfrastructure_t", unsafe.Sizeof(cPerfInfrastructure{}), 32},
		{"QnnHtpDevice_Infrastructure_t", unsafe.Sizeof(cHtpInfrastructure{}), 40},
		{"generic config", unsafe.Sizeof(cConfig{}), 16},
		{"QnnHtpDevice_CustomConfig_t", unsafe.Sizeof(cHtpDeviceCustomConfig{}), 12},
		{"QnnHtpContext_CustomConfig_t", unsafe.Sizeof(cHtpContextCustomConfig{}), 24},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("sizeof %s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestFieldOffsets(t *testing.T) {
	var (
		iface cInterfaceHeader
		sys   cSystemInterfaceHeader
		tv2   cTensorV2
		tn    cTensor
		q     cQuantizeParams
		gi    cGraphInfoV3
		b2    cBinaryInfoV2
		b3    cBinaryInfoV3
		md    cMemDescriptor
		htp   cMemHtpDescriptor
		pc    cPowerConfig
		dv    cDcvsV3
		inf   cHtpInfrastructure
	)
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"QnnInterface_t.providerName", unsafe.Offsetof(iface.ProviderName), 8},
		{"QnnInterface_t.coreApiVersion", unsafe.Offsetof(iface.CoreAPIVersion), 16},
		{"QnnInterface_t.backendApiVersion", unsafe.Offsetof(iface.BackendAPIVersion), 28},
		{"QnnSystemInterface_t.systemApiVersion", unsafe.Offsetof(sys.SystemAPIVersion), 16},
		{"Qnn_Tensor_t.v2", unsafe.Offsetof(tn.V2), 8},
		{"TensorV2.name", unsafe.Offsetof(tv2.Name), 8},
		{"TensorV2.type", unsafe.Offsetof(tv2.Type), 16},
		{"TensorV2.dataFormat", unsafe.Offsetof(tv2.DataFormat), 20},
		{"TensorV2.dataType", unsafe.Offsetof(tv2.DataType), 24},
		{"TensorV2.quantizeParams", unsafe.Offsetof(tv2.QuantizeParams), 32},
		{"TensorV2.rank", unsafe.Offsetof(tv2.Rank), 72},
		{"TensorV2.dimensions", unsafe.Offsetof(tv2.Dimensions), 80},
		{"TensorV2.memType", unsafe.Offsetof(tv2.MemType), 88},
		{"TensorV2.clientBuf", unsafe.Offsetof(tv2.ClientBuf), 96},
		{"TensorV2.isDynamicDimensions", unsafe.Offsetof(tv2.IsDynamicDimensions), 112},
		{"TensorV2.sparseParams", unsafe.Offsetof(tv2.SparseParams), 120},
		{"TensorV2.isProduced", unsafe.Offsetof(tv2.IsProduced), 132},
		{"QuantizeParams.scaleOffsetEncoding", unsafe.Offsetof(q.ScaleOffset), 8},
		{"GraphInfo.numGraphInputs", unsafe.Offsetof(gi.NumGraphInputs), 8},
		{"GraphInfo.graphInputs", unsafe.Offsetof(gi.GraphInputs), 16},
		{"GraphInfo.numGraphOutputs", unsafe.Offsetof(gi.NumGraphOutputs), 24},
		{"GraphInfo.graphOutputs", unsafe.Offsetof(gi.GraphOutputs), 32},
		{"GraphInfo.updateableTensors", unsafe.Offsetof(gi.UpdateableTensors), 48},
		{"GraphInfo.graphBlobInfo", unsafe.Offsetof(gi.GraphBlobInfo), 64},
		{"GraphInfo.endOpIndex", unsafe.Offsetof(gi.EndOpIndex), 76},
		{"BinaryInfoV2.socVersion", unsafe.Offsetof(b2.SocVersion), 40},
		{"BinaryInfoV2.hwInfoBlobSize", unsafe.Offsetof(b2.HwInfoBlobSize), 72},
		{"BinaryInfoV2.contextBlobSize", unsafe.Offsetof(b2.ContextBlobSize), 88},
		{"BinaryInfoV2.numGraphs", unsafe.Offsetof(b2.NumGraphs), 112},
		{"BinaryInfoV2.graphs", unsafe.Offsetof(b2.Graphs), 120},
		{"BinaryInfoV2.platformInfo", unsafe.Offsetof(b2.PlatformInfo), 128},
		{"BinaryInfoV3.contextBlobVersion", unsafe.Offsetof(b3.ContextBlobVersion), 48},
		{"BinaryInfoV3.contextBlobSize", unsafe.Offsetof(b3.ContextBlobSize), 64},
		{"BinaryInfoV3.numGraphs", unsafe.Offsetof(b3.NumGraphs), 88},
		{"BinaryInfoV3.graphs", unsafe.Offsetof(b3.Graphs), 96},
		{"BinaryInfoV3.contextMetadata", unsafe.Offsetof(b3.ContextMetadata), 120},
		{"BinaryInfoV3.socModel", unsafe.Offsetof(b3.SocModel), 128},
		{"MemDescriptor.dataType", unsafe.Offsetof(md.DataType), 24},
		{"MemDescriptor.memType", unsafe.Offsetof(md.MemType), 28},
		{"MemDescriptor.ionInfo.fd", unsafe.Offsetof(md.IonFd), 32},
		{"MemHtp.size", unsafe.Offsetof(htp.Size), 8},
		{"MemHtp.fd", unsafe.Offsetof(htp.Fd), 16},
		{"MemHtp.offset", unsafe.Offsetof(htp.Offset), 24},
		{"PowerConfig.dcvsV3Config", unsafe.Offsetof(pc.DcvsV3), 4},
		{"DcvsV3.powerMode", unsafe.Offsetof(dv.PowerMode), 12},
		{"DcvsV3.busVoltageCornerMin", unsafe.Offsetof(dv.BusVoltageCornerMin), 36},
		{"DcvsV3.setCoreParams", unsafe.Offsetof(dv.SetCoreParams), 48},
		{"DcvsV3.coreVoltageCornerMax", unsafe.Offsetof(dv.CoreVoltageCornerMax), 60},
		{"Infrastructure.perfInfra", unsafe.Offsetof(inf.PerfInfra), 8},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("offsetof %s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// The ABI() report must agree with the compiler and name fields as the headers do.
func TestABIReport(t *testing.T) {
	abi := ABI()
	tests := []struct {
		strct, field string
		want         uintptr
	}{
		{"Qnn_TensorV2_t", "name", 8},
		{"Qnn_TensorV2_t", "quantizeParams", 32},
		{"Qnn_TensorV2_t", "quantizeParams.scaleOffsetEncoding.offset", 44},
		{"Qnn_TensorV2_t", "memHandle", 96},
		{"Qnn_TensorV2_t", "clientBuf.dataSize", 104},
		{"Qnn_Tensor_t", "v2.isProduced", 140},
		{"Qnn_Tensor_t", "v1", 8},
		{"QnnInterface_t", "apiVersion.backendApiVersion.minor", 32},
		{"QnnInterface_t", "v2_32", 40},
		{"QnnSystemInterface_t", "v1_7", 32},
		{"QnnSystemContext_BinaryInfo_t", "contextBinaryInfoV2.graphs", 128},
		{"QnnSystemContext_BinaryInfoV3_t", "socModel", 128},
		{"QnnSystemContext_GraphInfo_t", "graphInfoV3.graphOutputs", 40},
		{"QnnHtpPerfInfrastructure_PowerConfig_t", "dcvsV3Config.sleepLatency", 24},
	}
	for _, tt := range tests {
		s, ok := abi.Structs[tt.strct]
		if !ok {
			t.Errorf("ABI() lacks %s", tt.strct)
			continue
		}
		if got, ok := s.Fields[tt.field]; !ok || got != tt.want {
			t.Errorf("%s.%s = %d (present %v), want %d", tt.strct, tt.field, got, ok, tt.want)
		}
	}
	if abi.Structs["Qnn_Tensor_t"].Size != 144 || abi.Slots["graphExecute"] != 21 || abi.Slots["contextCreateFromBinary"] != 13 ||
		abi.Slots["graphRetrieve"] != 20 || abi.Slots["memRegister"] != 35 || abi.SystemSlots["systemContextGetMetaData"] != 2 {
		t.Errorf("sizes/slots: %+v %v %v", abi.Structs["Qnn_Tensor_t"], abi.Slots, abi.SystemSlots)
	}
	// Every offset is inside its struct.
	for name, s := range abi.Structs {
		for f, off := range s.Fields {
			if off >= s.Size {
				t.Errorf("%s.%s at %d beyond size %d", name, f, off, s.Size)
			}
		}
	}
}
