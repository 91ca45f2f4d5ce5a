/*
 * STAND-IN for the QNN C headers, written for rwkvbench's tests from the layout
 * tables in qnn-abi.md (QAIRT 2.43: core API 2.32, system API 1.7, HTP API 5.43).
 * It is NOT Qualcomm's header: it declares only the types the Go binding mirrors,
 * with the same type and field names, so that the same offsetof checks compile
 * against it and against a real SDK's headers.
 */
#ifndef QNN_STANDIN_H
#define QNN_STANDIN_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t Qnn_ErrorHandle_t;
typedef void *Qnn_Handle_t;
typedef void *Qnn_MemHandle_t;

typedef struct { uint32_t major, minor, patch; } Qnn_Version_t;
typedef struct { Qnn_Version_t coreApiVersion; Qnn_Version_t backendApiVersion; } Qnn_ApiVersion_t;

typedef struct { float scale; int32_t offset; } Qnn_ScaleOffset_t;
typedef struct {
	uint32_t bitwidth; int32_t axis; uint32_t numElements; float *scales; int32_t *offsets;
} Qnn_BwAxisScaleOffset_t;
typedef struct {
	int32_t encodingDefinition;
	int32_t quantizationEncoding;
	union {
		Qnn_ScaleOffset_t scaleOffsetEncoding;
		Qnn_BwAxisScaleOffset_t bwAxisScaleOffsetEncoding;
	};
} Qnn_QuantizeParams_t;

typedef struct { void *data; uint32_t dataSize; } Qnn_ClientBuffer_t;
typedef struct { uint32_t numSpecifiedElements; uint32_t numSparseDimensions; } Qnn_SparseLayoutHybridCoo_t;
typedef struct { uint32_t type; union { Qnn_SparseLayoutHybridCoo_t hybridCoo; }; } Qnn_SparseParams_t;

typedef struct {
	uint32_t id;
	const char *name;
	uint32_t type;
	uint32_t dataFormat;
	uint32_t dataType;
	Qnn_QuantizeParams_t quantizeParams;
	uint32_t rank;
	uint32_t *dimensions;
	uint32_t memType;
	union { Qnn_ClientBuffer_t clientBuf; Qnn_MemHandle_t memHandle; void *retrieveRaw; };
	uint8_t *isDynamicDimensions;
	Qnn_SparseParams_t sparseParams;
	uint8_t isProduced;
} Qnn_TensorV2_t;
typedef Qnn_TensorV2_t Qnn_TensorV1_t; /* the stand-in never uses V1's shorter layout */
typedef struct { uint32_t version; union { Qnn_TensorV1_t v1; Qnn_TensorV2_t v2; }; } Qnn_Tensor_t;

typedef struct {
	const char *graphName;
	uint32_t numGraphInputs; Qnn_Tensor_t *graphInputs;
	uint32_t numGraphOutputs; Qnn_Tensor_t *graphOutputs;
	uint32_t numUpdateableTensors; Qnn_Tensor_t *updateableTensors;
	uint32_t graphBlobInfoSize; void *graphBlobInfo;
	uint32_t startOpIndex; uint32_t endOpIndex;
} QnnSystemContext_GraphInfoV3_t;
typedef QnnSystemContext_GraphInfoV3_t QnnSystemContext_GraphInfoV2_t;
typedef QnnSystemContext_GraphInfoV3_t QnnSystemContext_GraphInfoV1_t;
typedef struct {
	uint32_t version;
	union {
		QnnSystemContext_GraphInfoV1_t graphInfoV1;
		QnnSystemContext_GraphInfoV2_t graphInfoV2;
		QnnSystemContext_GraphInfoV3_t graphInfoV3;
	};
} QnnSystemContext_GraphInfo_t;

typedef struct {
	uint32_t backendId; const char *buildId;
	Qnn_Version_t coreApiVersion; Qnn_Version_t backendApiVersion;
	const char *socVersion;
	Qnn_Version_t hwInfoBlobVersion; Qnn_Version_t contextBlobVersion;
	uint32_t hwInfoBlobSize; void *hwInfoBlob;
	uint64_t contextBlobSize;
	uint32_t numContextTensors; Qnn_Tensor_t *contextTensors;
	uint32_t numGraphs; QnnSystemContext_GraphInfo_t *graphs;
	void *platformInfo;
} QnnSystemContext_BinaryInfoV2_t;
typedef QnnSystemContext_BinaryInfoV2_t QnnSystemContext_BinaryInfoV1_t;
typedef struct {
	uint32_t backendId; const char *buildId;
	Qnn_Version_t coreApiVersion; Qnn_Version_t backendApiVersion;
	const char *socVersion;
	Qnn_Version_t contextBlobVersion;
	uint64_t contextBlobSize;
	uint32_t numContextTensors; Qnn_Tensor_t *contextTensors;
	uint32_t numGraphs; QnnSystemContext_GraphInfo_t *graphs;
	void *platformInfo;
	uint32_t contextMetadataSize; void *contextMetadata;
	uint32_t socModel;
} QnnSystemContext_BinaryInfoV3_t;
typedef struct {
	uint32_t version;
	union {
		QnnSystemContext_BinaryInfoV1_t contextBinaryInfoV1;
		QnnSystemContext_BinaryInfoV2_t contextBinaryInfoV2;
		QnnSystemContext_BinaryInfoV3_t contextBinaryInfoV3;
	};
} QnnSystemContext_BinaryInfo_t;

typedef struct { uint32_t numDim; uint32_t *dimSize; const char *shapeConfig; } Qnn_MemShape_t;
typedef struct { int32_t fd; } Qnn_MemIonInfo_t;
typedef struct { int32_t fd; void *data; } Qnn_MemDmaBufInfo_t;
typedef struct {
	Qnn_MemShape_t memShape;
	uint32_t dataType;
	uint32_t memType;
	union { Qnn_MemIonInfo_t ionInfo; void *customInfo; Qnn_MemDmaBufInfo_t dmaBufInfo; };
} Qnn_MemDescriptor_t;

typedef struct { int32_t fd; uint64_t offset; } QnnHtpMem_SharedBufferConfig_t;
typedef struct {
	uint32_t type; uint64_t size;
	union { QnnHtpMem_SharedBufferConfig_t sharedBufferConfig; };
} QnnMemHtp_Descriptor_t;

typedef struct {
	uint32_t contextId, setDcvsEnable, dcvsEnable, powerMode, setSleepLatency, sleepLatency,
		setSleepDisable, sleepDisable, setBusParams, busVoltageCornerMin, busVoltageCornerTarget,
		busVoltageCornerMax, setCoreParams, coreVoltageCornerMin, coreVoltageCornerTarget,
		coreVoltageCornerMax;
} QnnHtpPerfInfrastructure_DcvsV3_t;
typedef struct {
	uint32_t option;
	union {
		QnnHtpPerfInfrastructure_DcvsV3_t dcvsV3Config;
		uint32_t rpcControlLatencyConfig;
		uint32_t rpcPollingTimeConfig;
	};
} QnnHtpPerfInfrastructure_PowerConfig_t;
typedef struct {
	Qnn_ErrorHandle_t (*createPowerConfigId)(uint32_t, uint32_t, uint32_t *);
	Qnn_ErrorHandle_t (*destroyPowerConfigId)(uint32_t);
	Qnn_ErrorHandle_t (*setPowerConfig)(uint32_t, const QnnHtpPerfInfrastructure_PowerConfig_t **);
	Qnn_ErrorHandle_t (*setMemoryConfig)(uint32_t, uint32_t, const void **);
} QnnHtpDevice_PerfInfrastructure_t;
typedef struct { uint32_t infraType; union { QnnHtpDevice_PerfInfrastructure_t perfInfra; }; } QnnHtpDevice_Infrastructure_t;

typedef struct { uint32_t option; union { void *customConfig; uint32_t priority; }; } QnnContext_Config_t;
typedef struct { uint32_t deviceId; uint32_t arch; } QnnHtpDevice_OnChipDeviceArch_t;
typedef struct { uint32_t option; union { uint32_t socModel; QnnHtpDevice_OnChipDeviceArch_t arch; }; } QnnHtpDevice_CustomConfig_t;
typedef struct { void *firstGroupHandle; uint64_t maxSpillFillBuffer; } QnnHtpContext_GroupRegistration_t;
typedef struct {
	uint32_t option;
	union {
		uint8_t weightSharingEnabled;
		QnnHtpContext_GroupRegistration_t groupRegistration;
		uint64_t fileReadMemoryBudgetInMb;
		uint8_t ioMemEstimation;
	};
} QnnHtpContext_CustomConfig_t;

#define QNN_STANDIN_CORE_SLOTS 71
typedef struct {
	uint32_t backendId;
	const char *providerName;
	Qnn_ApiVersion_t apiVersion;
	union { void *v2_32[QNN_STANDIN_CORE_SLOTS]; };
} QnnInterface_t;

#define QNN_STANDIN_SYSTEM_SLOTS 16
typedef struct {
	uint32_t backendId;
	const char *providerName;
	Qnn_Version_t systemApiVersion;
	union { void *v1_7[QNN_STANDIN_SYSTEM_SLOTS]; };
} QnnSystemInterface_t;

#endif
