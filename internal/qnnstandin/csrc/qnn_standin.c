/*
 * QNN STAND-IN backend for rwkvbench's tests. It is NOT Qualcomm's QNN: it exports
 * QnnInterface_getProviders and QnnSystemInterface_getProviders with the documented
 * layouts (qnn-abi.md; types in qnn_standin.h), plus rpcmem_alloc/rpcmem_free/
 * rpcmem_to_fd standing in for libcdsprpc, so the Go binding can be driven end to end
 * on a host without an NPU.
 *
 * Its "context binary" is a text format of its own (see stand-in context format
 * below and qnn/internal/standin/standin.go, Model.Binary), describing RWKV-shaped graphs: decode,
 * prefill, chunks with in_chunkK/out_chunkK and v_first, uint16 token-shift states,
 * fp16-in-uint16 wkv states, uint16 logits with scale and offset. Executing a graph
 * computes a small recurrence (not RWKV) that the Go tests recompute exactly.
 *
 * Compile-time switches (-D): STANDIN_CORE_MINOR (core API minor of the good
 * provider, default 32), STANDIN_NO_GETMETADATA (system slot 2 NULL), STANDIN_NO_HMX
 * (HMX_V2 power configs fail). Run-time switches are keys of the context format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qnn_standin.h"

#ifndef STANDIN_CORE_MINOR
#define STANDIN_CORE_MINOR 32
#endif

#define E_OK 0
#define E_COMMON_INVALID_ARGUMENT 1004
#define E_COMMON_SYSTEM_COMMUNICATION_FATAL 1011
#define E_OP_PACKAGE_NOT_FOUND 4005
#define E_CONTEXT_CREATE_FROM_BINARY 5005
#define E_CONTEXT_INVALID_CONFIG 5010
#define E_GRAPH_DOES_NOT_EXIST 6002
#define E_GRAPH_INVALID_TENSOR 6004
#define E_MEM_INVALID_ARGUMENT 8000
#define E_MEM_INVALID_HANDLE 8001
#define E_PERF_UNSUPPORTED_CONFIG 13002
#define E_SYSTEM_INVALID_ARGUMENT 30001
#define E_SYSTEM_MALFORMED_BINARY 30010

#define DT_INT_32 0x0032
#define DT_FLOAT_32 0x0232
#define DT_UFIXED_POINT_16 0x0416

static char last_message[512];

static Qnn_ErrorHandle_t fail(uint64_t code, const char *msg) {
	snprintf(last_message, sizeof last_message, "QNN STAND-IN: %s", msg);
	/* Upper bits are internal tracking in real QNN; set some so the binding must mask. */
	return (0xABCDull << 16) | code;
}

/* ---- stand-in context format ----
 * Text, one "key value..." per line, first line "QNN-STAND-IN-CONTEXT 1". Keys:
 * chunk K N, layers BEGIN END, embd C, heads H, vocab V, logits SCALE OFFSET,
 * shift SCALE OFFSET, embedding 0|1, vfirst 0|1, prefill SEQ all|last|none,
 * badshape 0|1, omitdecode 0|1, failafter N (graphExecute fails with 1011 after N
 * calls), binaryinfo 1|2|3 and graphinfo 1|2|3 (metadata struct versions),
 * requiregroup 0|1 (context creation demands the HTP REGISTER_MULTI_CONTEXTS config,
 * chunk 1 as the group's first context, later chunks naming it), name PREFIX.
 */
typedef struct {
	int chunk, nchunks, lbegin, lend, embd, heads, vocab;
	float logit_scale, shift_scale;
	int logit_offset, shift_offset;
	int embedding, vfirst, prefill_seq, prefill_all, badshape, omitdecode, failafter;
	int binaryinfo, graphinfo, requiregroup;
	char name[64];
} model_t;

static int parse_model(const char *buf, uint64_t size, model_t *m) {
	memset(m, 0, sizeof *m);
	m->chunk = m->nchunks = 1;
	m->logit_scale = m->shift_scale = 1.0f / 256;
	m->logit_offset = m->shift_offset = -32768;
	m->binaryinfo = m->graphinfo = 3;
	strcpy(m->name, "rwkv");
	char *text = malloc(size + 1);
	if (!text) return -1;
	memcpy(text, buf, size);
	text[size] = 0;
	int ok = strncmp(text, "QNN-STAND-IN-CONTEXT 1\n", 23) == 0;
	for (char *line = strtok(text, "\n"); ok && line; line = strtok(NULL, "\n")) {
		char mode[16] = "";
		if (sscanf(line, "chunk %d %d", &m->chunk, &m->nchunks) == 2) continue;
		if (sscanf(line, "layers %d %d", &m->lbegin, &m->lend) == 2) continue;
		if (sscanf(line, "embd %d", &m->embd) == 1) continue;
		if (sscanf(line, "heads %d", &m->heads) == 1) continue;
		if (sscanf(line, "vocab %d", &m->vocab) == 1) continue;
		if (sscanf(line, "logits %f %d", &m->logit_scale, &m->logit_offset) == 2) continue;
		if (sscanf(line, "shift %f %d", &m->shift_scale, &m->shift_offset) == 2) continue;
		if (sscanf(line, "embedding %d", &m->embedding) == 1) continue;
		if (sscanf(line, "vfirst %d", &m->vfirst) == 1) continue;
		if (sscanf(line, "prefill %d %15s", &m->prefill_seq, mode) == 2) {
			m->prefill_all = strcmp(mode, "all") == 0;
			if (strcmp(mode, "none") == 0) m->prefill_seq = 0;
			continue;
		}
		if (sscanf(line, "badshape %d", &m->badshape) == 1) continue;
		if (sscanf(line, "omitdecode %d", &m->omitdecode) == 1) continue;
		if (sscanf(line, "failafter %d", &m->failafter) == 1) continue;
		if (sscanf(line, "binaryinfo %d", &m->binaryinfo) == 1) continue;
		if (sscanf(line, "requiregroup %d", &m->requiregroup) == 1) continue;
		if (sscanf(line, "graphinfo %d", &m->graphinfo) == 1) continue;
		if (sscanf(line, "name %63s", m->name) == 1) continue;
		if (strncmp(line, "QNN-STAND-IN-CONTEXT", 20) == 0) continue;
		ok = 0;
	}
	free(text);
	if (!ok || m->embd <= 0 || m->heads <= 0 || m->embd % m->heads || m->vocab <= 0 || m->chunk < 1 ||
	    m->chunk > m->nchunks || m->lbegin < 0 || m->lend <= m->lbegin || m->embd > 4096 ||
	    m->binaryinfo < 1 || m->binaryinfo > 3 || m->graphinfo < 1 || m->graphinfo > 3)
		return -1;
	return 0;
}

enum role { R_TOKEN, R_EMB, R_HIDDEN_IN, R_VFIRST_IN, R_STATE_IN, R_STATE_OUT, R_HIDDEN_OUT, R_VFIRST_OUT, R_LOGITS };

typedef struct {
	char name[64];
	uint32_t id, type, dtype, rank, dims[4];
	int quant;
	float scale;
	int32_t offset;
	int role, state; /* state index j for R_STATE_* */
} spec_t;

#define MAX_SPECS 128

typedef struct {
	char name[96];
	int prefill, seq;
	int nin, nout;
	spec_t in[MAX_SPECS], out[MAX_SPECS];
} graph_t;

static void add(spec_t *s, int *n, uint32_t id, const char *name, uint32_t type, uint32_t dtype, int role, int state,
		uint32_t rank, uint32_t d0, uint32_t d1, uint32_t d2) {
	spec_t *t = &s[(*n)++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->id = id; t->type = type; t->dtype = dtype; t->role = role; t->state = state; t->rank = rank;
	t->dims[0] = d0; t->dims[1] = d1; t->dims[2] = d2;
}

static void quant(spec_t *t, float scale, int32_t offset) { t->quant = 1; t->scale = scale; t->offset = offset; }

/* build_graph lays out a graph's tensors by the rwkv-qualcomm naming rules. */
static void build_graph(const model_t *m, int prefill, graph_t *g) {
	memset(g, 0, sizeof *g);
	int k = m->chunk, N = m->nchunks, C = m->embd, H = m->heads, hs = C / H;
	int T = prefill ? m->prefill_seq : 1;
	const char *P = prefill ? "_prefill" : "";
	char sfx[32] = "", nm[64];
	if (N > 1) snprintf(sfx, sizeof sfx, "_chunk%d", k);
	g->prefill = prefill;
	g->seq = T;
	if (N > 1) snprintf(g->name, sizeof g->name, "%s%s_chunk%dof%d", m->name, P, k, N);
	else snprintf(g->name, sizeof g->name, "%s%s", m->name, P);
	uint32_t id = 1;
	if (k == 1 && m->embedding) {
		snprintf(nm, sizeof nm, "in_embedding%s%s", P, sfx);
		add(g->in, &g->nin, id++, nm, 0, DT_FLOAT_32, R_EMB, 0, 3, 1, T, C);
	} else if (k == 1) {
		snprintf(nm, sizeof nm, "in%s%s", P, sfx);
		add(g->in, &g->nin, id++, nm, 0, DT_INT_32, R_TOKEN, 0, 2, 1, T, 0);
	} else {
		snprintf(nm, sizeof nm, "in%s%s", P, sfx);
		add(g->in, &g->nin, id++, nm, 0, DT_FLOAT_32, R_HIDDEN_IN, 0, 3, 1, T, C);
		if (m->vfirst) {
			snprintf(nm, sizeof nm, "v_first_in%s%s", P, sfx);
			add(g->in, &g->nin, id++, nm, 0, DT_FLOAT_32, R_VFIRST_IN, 0, 3, 1, T, C);
		}
	}
	uint32_t oid = 1000;
	for (int l = m->lbegin; l < m->lend; l++) {
		for (int i = 0; i < 3; i++) {
			int j = 3 * l + i;
			for (int dir = 0; dir < 2; dir++) {
				spec_t *s = dir ? g->out : g->in;
				int *n = dir ? &g->nout : &g->nin;
				snprintf(nm, sizeof nm, "state%d_%s", j, dir ? "out" : "in");
				if (i == 1)
					add(s, n, dir ? oid++ : id++, nm, dir, DT_UFIXED_POINT_16, dir ? R_STATE_OUT : R_STATE_IN, j, 3, H, hs, hs);
				else
					add(s, n, dir ? oid++ : id++, nm, dir, DT_UFIXED_POINT_16, dir ? R_STATE_OUT : R_STATE_IN, j, 2, 1, C, 0);
				spec_t *t = &s[*n - 1];
				if (i == 1) quant(t, 1.0f / 65535, 0); /* the fp16-in-uint16 dummy encoding */
				else quant(t, m->shift_scale, m->shift_offset);
				if (m->badshape && prefill && j == 3 * m->lbegin && !dir) t->dims[1] = C + 1;
			}
		}
	}
	if (k < N) {
		snprintf(nm, sizeof nm, "out%s%s", P, sfx);
		add(g->out, &g->nout, oid++, nm, 1, DT_FLOAT_32, R_HIDDEN_OUT, 0, 3, 1, T, C);
		if (k == 1 && m->vfirst) {
			snprintf(nm, sizeof nm, "v_first_out%s%s", P, sfx);
			add(g->out, &g->nout, oid++, nm, 1, DT_FLOAT_32, R_VFIRST_OUT, 0, 3, 1, T, C);
		}
	} else {
		snprintf(nm, sizeof nm, "out%s%s", P, sfx);
		add(g->out, &g->nout, oid++, nm, 1, DT_UFIXED_POINT_16, R_LOGITS, 0, 3, 1, prefill && m->prefill_all ? T : 1, m->vocab);
		quant(&g->out[g->nout - 1], m->logit_scale, m->logit_offset);
	}
}

static uint64_t spec_bytes(const spec_t *s) {
	uint64_t n = 1;
	for (uint32_t i = 0; i < s->rank; i++) n *= s->dims[i];
	return n * (s->dtype == DT_UFIXED_POINT_16 ? 2 : 4);
}

static int model_graphs(const model_t *m, graph_t **out) {
	int n = 0;
	graph_t *g = calloc(2, sizeof *g);
	if (!m->omitdecode) build_graph(m, 0, &g[n++]);
	if (m->prefill_seq > 0) build_graph(m, 1, &g[n++]);
	*out = g;
	return n;
}

/* ---- fp16 and quantization, the arithmetic the Go test recomputes ---- */

static uint16_t f2h(float f) {
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
	int32_t e = (int32_t)((x >> 23) & 0xff);
	if (e == 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
	int32_t exp = e - 127 + 15;
	if (exp >= 31) return sign | 0x7c00;
	if (exp <= 0) {
		if (exp < -10) return sign;
		mant |= 0x800000;
		int shift = 14 - exp;
		uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1))) h++;
		return sign | h;
	}
	uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
	return sign | h;
}

static float h2f(uint16_t h) {
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
	float f;
	if (exp == 0) {
		f = (float)mant * (1.0f / 16777216.0f);
		return sign ? -f : f;
	}
	if (exp == 31) x = sign | 0x7f800000 | (mant << 13);
	else x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	memcpy(&f, &x, 4);
	return f;
}

static uint16_t q16(float v, float scale, int32_t offset) {
	double q = floor((double)v / (double)scale + 0.5) - offset;
	if (q < 0) q = 0;
	if (q > 65535) q = 65535;
	return (uint16_t)q;
}

static float dq16(uint16_t q, float scale, int32_t offset) { return ((float)q + (float)offset) * scale; }

static float weight(int v, int c) { return (float)((v * 7 + c * 11) % 16 - 8) / 8.0f; }

/* ---- rpcmem stand-in: "fds" are indices into a table of calloc'd blocks ---- */

#define MAX_RPC 4096
static void *rpc_ptr[MAX_RPC];
static int rpc_size[MAX_RPC];

void *rpcmem_alloc(int heap, uint32_t flags, int size) {
	(void)heap; (void)flags;
	for (int i = 1; i < MAX_RPC; i++)
		if (!rpc_ptr[i]) {
			rpc_ptr[i] = calloc(1, size > 0 ? size : 1);
			rpc_size[i] = size;
			return rpc_ptr[i];
		}
	return NULL;
}
int rpcmem_to_fd(void *p) {
	for (int i = 1; i < MAX_RPC; i++)
		if (p && rpc_ptr[i] == p) return 1000 + i;
	return -1;
}
void rpcmem_free(void *p) {
	for (int i = 1; i < MAX_RPC; i++)
		if (p && rpc_ptr[i] == p) {
			free(p);
			rpc_ptr[i] = NULL;
		}
}

typedef struct { uint32_t magic; void *data; uint64_t size; } memhandle_t;
#define MEM_MAGIC 0x4d454d53u

/* ---- backend objects ---- */

typedef struct { uint32_t magic; int ngraphs; graph_t *graphs; model_t model; int executed; } context_t;
typedef struct { context_t *ctx; graph_t *g; } graphh_t;
#define CTX_MAGIC 0x43545853u

static Qnn_ErrorHandle_t propertyHasCapability(uint32_t key) { (void)key; return 0; }
static Qnn_ErrorHandle_t backendCreate(void *log, const void **cfg, void **out) {
	(void)log; (void)cfg;
	if (getenv("QNN_STANDIN_VERBOSE")) fprintf(stderr, "QNN STAND-IN backend (rwkvbench tests; not Qualcomm QNN): backendCreate\n");
	*out = malloc(1);
	return 0;
}
static Qnn_ErrorHandle_t backendGetBuildId(const char **id) { *id = "rwkvbench-qnn-standin (NOT Qualcomm QNN)"; return 0; }
static Qnn_ErrorHandle_t backendRegisterOpPackage(void *b, const char *path, const char *provider, const char *target) {
	(void)b; (void)target;
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f) return fail(E_OP_PACKAGE_NOT_FOUND, "op package file not found");
	fclose(f);
	if (!provider || !*provider) return fail(E_COMMON_INVALID_ARGUMENT, "no interface provider name");
	return 0;
}
static Qnn_ErrorHandle_t backendFree(void *b) { free(b); return 0; }
static Qnn_ErrorHandle_t logCreate(void *cb, uint32_t level, void **out) { (void)cb; (void)level; *out = malloc(1); return 0; }
static Qnn_ErrorHandle_t logFree(void *l) { free(l); return 0; }
static Qnn_ErrorHandle_t deviceCreate(void *log, const void **cfg, void **out) { (void)log; (void)cfg; *out = malloc(1); return 0; }
static Qnn_ErrorHandle_t deviceFree(void *d) { free(d); return 0; }

static int power_ids;
static Qnn_ErrorHandle_t createPowerConfigId(uint32_t dev, uint32_t core, uint32_t *id) { (void)dev; (void)core; *id = ++power_ids; return 0; }
static Qnn_ErrorHandle_t destroyPowerConfigId(uint32_t id) { (void)id; return 0; }
static Qnn_ErrorHandle_t setPowerConfig(uint32_t id, const QnnHtpPerfInfrastructure_PowerConfig_t **cfgs) {
	for (; cfgs && *cfgs; cfgs++) {
		uint32_t opt = (*cfgs)->option;
		if (opt == 1 && (*cfgs)->dcvsV3Config.contextId != id) return fail(E_PERF_UNSUPPORTED_CONFIG, "DCVS_V3 contextId does not match the power config id");
#ifdef STANDIN_NO_HMX
		if (opt == 5) return fail(E_PERF_UNSUPPORTED_CONFIG, "HMX_V2 not supported by this stand-in build");
#endif
		if (opt < 1 || opt > 7) return fail(E_PERF_UNSUPPORTED_CONFIG, "unknown power config option");
	}
	return 0;
}
static Qnn_ErrorHandle_t setMemoryConfig(uint32_t d, uint32_t c, const void **cfgs) { (void)d; (void)c; (void)cfgs; return 0; }
static QnnHtpDevice_Infrastructure_t infra = {0, {{createPowerConfigId, destroyPowerConfigId, setPowerConfig, setMemoryConfig}}};
static Qnn_ErrorHandle_t deviceGetInfrastructure(const QnnHtpDevice_Infrastructure_t **out) { *out = &infra; return 0; }

/* group_config finds an HTP REGISTER_MULTI_CONTEXTS (custom option 2) config. */
static const QnnHtpContext_GroupRegistration_t *group_config(const QnnContext_Config_t **cfg) {
	for (; cfg && *cfg; cfg++) {
		if ((*cfg)->option != 0 || !(*cfg)->customConfig) continue;
		const QnnHtpContext_CustomConfig_t *h = (*cfg)->customConfig;
		if (h->option == 2) return &h->groupRegistration;
	}
	return NULL;
}

static Qnn_ErrorHandle_t contextCreateFromBinary(void *b, void *d, const QnnContext_Config_t **cfg, const void *buf, uint64_t size, void **out, void *prof) {
	(void)b; (void)d; (void)prof;
	context_t *c = calloc(1, sizeof *c);
	if (!buf || parse_model(buf, size, &c->model) != 0) {
		free(c);
		return fail(E_CONTEXT_CREATE_FROM_BINARY, "not a stand-in context binary");
	}
	if (c->model.requiregroup) {
		const QnnHtpContext_GroupRegistration_t *g = group_config(cfg);
		const context_t *first = g ? g->firstGroupHandle : NULL;
		const char *problem = NULL;
		if (!g) problem = "requiregroup: no REGISTER_MULTI_CONTEXTS config";
		else if (g->maxSpillFillBuffer == 0) problem = "requiregroup: maxSpillFillBuffer is 0";
		else if (c->model.chunk == 1 && first) problem = "requiregroup: chunk 1 must start the group (firstGroupHandle NULL)";
		else if (c->model.chunk > 1 && (!first || first->magic != CTX_MAGIC || first->model.chunk != 1))
			problem = "requiregroup: firstGroupHandle is not the chunk-1 context";
		if (problem) {
			free(c);
			return fail(E_CONTEXT_INVALID_CONFIG, problem);
		}
	}
	c->magic = CTX_MAGIC;
	c->ngraphs = model_graphs(&c->model, &c->graphs);
	*out = c;
	return 0;
}
static Qnn_ErrorHandle_t contextFree(void *p, void *prof) {
	(void)prof;
	context_t *c = p;
	if (!c || c->magic != CTX_MAGIC) return fail(E_COMMON_INVALID_ARGUMENT, "bad context handle");
	c->magic = 0;
	free(c->graphs);
	free(c);
	return 0;
}
static Qnn_ErrorHandle_t graphRetrieve(void *p, const char *name, void **out) {
	context_t *c = p;
	if (!c || c->magic != CTX_MAGIC) return fail(E_COMMON_INVALID_ARGUMENT, "bad context handle");
	for (int i = 0; i < c->ngraphs; i++)
		if (strcmp(c->graphs[i].name, name) == 0) {
			graphh_t *h = malloc(sizeof *h); /* leaked with the process, like graphs in QNN */
			h->ctx = c;
			h->g = &c->graphs[i];
			*out = h;
			return 0;
		}
	return fail(E_GRAPH_DOES_NOT_EXIST, "no graph of that name in the context");
}

static Qnn_ErrorHandle_t memRegister(void *ctx, const Qnn_MemDescriptor_t *desc, uint32_t n, void **out) {
	(void)ctx;
	for (uint32_t i = 0; i < n; i++) {
		if (desc[i].memType != 1) return fail(E_MEM_INVALID_ARGUMENT, "only ION descriptors are supported");
		int idx = desc[i].ionInfo.fd - 1000;
		if (idx <= 0 || idx >= MAX_RPC || !rpc_ptr[idx]) return fail(E_MEM_INVALID_ARGUMENT, "unknown fd");
		memhandle_t *h = malloc(sizeof *h);
		h->magic = MEM_MAGIC;
		h->data = rpc_ptr[idx];
		h->size = rpc_size[idx];
		out[i] = h;
	}
	return 0;
}
static Qnn_ErrorHandle_t memDeRegister(void **handles, uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		memhandle_t *h = handles[i];
		if (!h || h->magic != MEM_MAGIC) return fail(E_MEM_INVALID_HANDLE, "bad mem handle");
		h->magic = 0;
		free(h);
	}
	return 0;
}
static Qnn_ErrorHandle_t errorGetMessage(Qnn_ErrorHandle_t e, const char **msg) { (void)e; *msg = last_message; return 0; }

/* find the caller's buffer for a spec: by id, as QNN matches tensors */
static void *tensor_data(const spec_t *s, const Qnn_Tensor_t *ts, uint32_t n, Qnn_ErrorHandle_t *err) {
	static char msg[256];
	for (uint32_t i = 0; i < n; i++) {
		const Qnn_TensorV2_t *t = &ts[i].v2;
		if (t->id != s->id) continue;
		void *data = NULL;
		uint64_t size = 0;
		if (t->memType == 0) {
			data = t->clientBuf.data;
			size = t->clientBuf.dataSize;
		} else if (t->memType == 1) {
			const memhandle_t *h = t->memHandle;
			if (!h || h->magic != MEM_MAGIC) {
				*err = fail(E_MEM_INVALID_HANDLE, "tensor has a bad mem handle");
				return NULL;
			}
			data = h->data;
			size = h->size;
		}
		if (!data || size < spec_bytes(s)) {
			snprintf(msg, sizeof msg, "tensor %s: buffer of %llu bytes, need %llu", s->name,
				 (unsigned long long)size, (unsigned long long)spec_bytes(s));
			*err = fail(E_GRAPH_INVALID_TENSOR, msg);
			return NULL;
		}
		return data;
	}
	snprintf(msg, sizeof msg, "tensor %s (id %u) not passed", s->name, s->id);
	*err = fail(E_GRAPH_INVALID_TENSOR, msg);
	return NULL;
}

static Qnn_ErrorHandle_t graphExecute(void *p, const Qnn_Tensor_t *in, uint32_t nin, Qnn_Tensor_t *out, uint32_t nout, void *prof, void *sig) {
	(void)prof; (void)sig;
	graphh_t *h = p;
	if (!h || !h->ctx || h->ctx->magic != CTX_MAGIC) return fail(E_COMMON_INVALID_ARGUMENT, "bad graph handle");
	const model_t *m = &h->ctx->model;
	const graph_t *g = h->g;
	if (m->failafter > 0 && ++h->ctx->executed > m->failafter)
		return fail(E_COMMON_SYSTEM_COMMUNICATION_FATAL, "stand-in switch 'failafter': simulated DSP failure");
	Qnn_ErrorHandle_t err = 0;
	void *ip[MAX_SPECS], *op[MAX_SPECS];
	for (int i = 0; i < g->nin; i++)
		if (!(ip[i] = tensor_data(&g->in[i], in, nin, &err))) return err;
	for (int i = 0; i < g->nout; i++)
		if (!(op[i] = tensor_data(&g->out[i], out, nout, &err))) return err;
	/* States are updated in the output buffer; copy the input first unless aliased. */
	for (int i = 0; i < g->nin; i++) {
		if (g->in[i].role != R_STATE_IN) continue;
		for (int o = 0; o < g->nout; o++)
			if (g->out[o].role == R_STATE_OUT && g->out[o].state == g->in[i].state && op[o] != ip[i])
				memmove(op[o], ip[i], spec_bytes(&g->out[o]));
	}
	int C = m->embd, hs = C / m->heads, T = g->seq;
	float x[4096], y[4096];
	for (int t = 0; t < T; t++) {
		float *vfirst = NULL;
		for (int i = 0; i < g->nin; i++) {
			const spec_t *s = &g->in[i];
			if (s->role == R_TOKEN) {
				int32_t tok = ((int32_t *)ip[i])[t];
				for (int c = 0; c < C; c++) x[c] = (float)((tok * 5 + c * 3) % 32) / 32.0f - 0.5f;
			} else if (s->role == R_EMB || s->role == R_HIDDEN_IN) {
				memcpy(x, (float *)ip[i] + (size_t)t * C, C * sizeof(float));
			} else if (s->role == R_VFIRST_IN) {
				vfirst = (float *)ip[i] + (size_t)t * C;
			}
		}
		for (int o = 0; o < g->nout; o++)
			if (g->out[o].role == R_VFIRST_OUT) memcpy((float *)op[o] + (size_t)t * C, x, C * sizeof(float));
		if (vfirst)
			for (int c = 0; c < C; c++) x[c] = x[c] + vfirst[c] * 0.25f;
		for (int l = m->lbegin; l < m->lend; l++) {
			uint16_t *s0 = NULL, *s1 = NULL, *s2 = NULL;
			const spec_t *q0 = NULL, *q2 = NULL;
			for (int o = 0; o < g->nout; o++) {
				const spec_t *s = &g->out[o];
				if (s->role != R_STATE_OUT) continue;
				if (s->state == 3 * l) s0 = op[o], q0 = s;
				if (s->state == 3 * l + 1) s1 = op[o];
				if (s->state == 3 * l + 2) s2 = op[o], q2 = s;
			}
			for (int c = 0; c < C; c++) {
				float v = dq16(s0[c], q0->scale, q0->offset) * 0.5f + x[c] * 0.25f;
				s0[c] = q16(v, q0->scale, q0->offset);
			}
			for (int hd = 0; hd < m->heads; hd++)
				for (int i = 0; i < hs; i++)
					for (int j = 0; j < hs; j++) {
						size_t idx = (size_t)hd * hs * hs + (size_t)i * hs + j;
						float v = h2f(s1[idx]) * 0.5f + x[hd * hs + i] * 0.125f + x[hd * hs + j] * 0.0625f;
						s1[idx] = f2h(v);
					}
			for (int c = 0; c < C; c++) {
				int hd = c / hs, i = c % hs;
				float diag = h2f(s1[(size_t)hd * hs * hs + (size_t)i * hs + i]);
				y[c] = x[c] * 0.5f + dq16(s0[c], q0->scale, q0->offset) * 0.25f + diag * 0.25f;
				float v = dq16(s2[c], q2->scale, q2->offset) * 0.5f + y[c] * 0.5f;
				s2[c] = q16(v, q2->scale, q2->offset);
				x[c] = y[c] + dq16(s2[c], q2->scale, q2->offset) * 0.125f;
			}
		}
		for (int o = 0; o < g->nout; o++) {
			const spec_t *s = &g->out[o];
			if (s->role == R_HIDDEN_OUT) memcpy((float *)op[o] + (size_t)t * C, x, C * sizeof(float));
			if (s->role == R_LOGITS && (s->dims[1] == (uint32_t)T || t == T - 1)) {
				uint16_t *row = (uint16_t *)op[o] + (s->dims[1] == 1 ? 0 : (size_t)t * m->vocab);
				for (int v = 0; v < m->vocab; v++) {
					float acc = 0;
					for (int c = 0; c < C; c++) acc = acc + x[c] * weight(v, c);
					row[v] = q16(acc, s->scale, s->offset);
				}
			}
		}
	}
	return 0;
}

static QnnInterface_t providers[2];
static const QnnInterface_t *provider_list[2] = {&providers[0], &providers[1]};

Qnn_ErrorHandle_t QnnInterface_getProviders(const QnnInterface_t ***list, uint32_t *n) {
	/* providers[0] is an old 2.7-era provider the binding must refuse. */
	providers[0].backendId = 6;
	providers[0].providerName = "HTP_QNN_STANDIN_OLD";
	providers[0].apiVersion.coreApiVersion = (Qnn_Version_t){2, 7, 0};
	providers[0].apiVersion.backendApiVersion = (Qnn_Version_t){5, 0, 0};
	QnnInterface_t *p = &providers[1];
	p->backendId = 6;
	p->providerName = "HTP_QNN_STANDIN";
	p->apiVersion.coreApiVersion = (Qnn_Version_t){2, STANDIN_CORE_MINOR, 0};
	p->apiVersion.backendApiVersion = (Qnn_Version_t){5, 43, 0};
	void **s = p->v2_32;
	s[0] = (void *)propertyHasCapability;
	s[1] = (void *)backendCreate;
	s[4] = (void *)backendGetBuildId;
	s[5] = (void *)backendRegisterOpPackage;
	s[8] = (void *)backendFree;
	s[13] = (void *)contextCreateFromBinary;
	s[14] = (void *)contextFree;
	s[20] = (void *)graphRetrieve;
	s[21] = (void *)graphExecute;
	s[25] = (void *)logCreate;
	s[27] = (void *)logFree;
	s[35] = (void *)memRegister;
	s[36] = (void *)memDeRegister;
	s[39] = (void *)deviceGetInfrastructure;
	s[40] = (void *)deviceCreate;
	s[43] = (void *)deviceFree;
	s[48] = (void *)errorGetMessage;
	*list = provider_list;
	*n = 2;
	return 0;
}

/* ---- system interface ---- */

typedef struct {
	QnnSystemContext_BinaryInfo_t info;
	QnnSystemContext_GraphInfo_t graphs[2];
	Qnn_Tensor_t *tensors[4];
	graph_t *specs;
} sysctx_t;

static Qnn_ErrorHandle_t sysContextCreate(void **out) { *out = calloc(1, sizeof(sysctx_t)); return 0; }

static Qnn_Tensor_t *make_tensors(const spec_t *s, int n) {
	Qnn_Tensor_t *ts = calloc(n, sizeof *ts);
	for (int i = 0; i < n; i++) {
		Qnn_TensorV2_t *t = &ts[i].v2;
		ts[i].version = 2;
		t->id = s[i].id;
		t->name = s[i].name;
		t->type = s[i].type;
		t->dataType = s[i].dtype;
		t->rank = s[i].rank;
		t->dimensions = (uint32_t *)s[i].dims;
		t->quantizeParams.encodingDefinition = s[i].quant ? 1 : 0x7fffffff;
		t->quantizeParams.quantizationEncoding = s[i].quant ? 0 : 0x7fffffff;
		t->quantizeParams.scaleOffsetEncoding.scale = s[i].scale;
		t->quantizeParams.scaleOffsetEncoding.offset = s[i].offset;
	}
	return ts;
}

static Qnn_ErrorHandle_t sysGetMetaData(void *p, const void *buf, uint64_t size, const QnnSystemContext_BinaryInfo_t **out) {
	sysctx_t *sc = p;
	model_t m;
	if (!sc || !buf) return fail(E_SYSTEM_INVALID_ARGUMENT, "null argument");
	if (parse_model(buf, size, &m) != 0) return fail(E_SYSTEM_MALFORMED_BINARY, "not a stand-in context binary");
	int n = model_graphs(&m, &sc->specs);
	for (int i = 0; i < n; i++) {
		QnnSystemContext_GraphInfo_t *gi = &sc->graphs[i];
		gi->version = m.graphinfo;
		gi->graphInfoV3.graphName = sc->specs[i].name;
		gi->graphInfoV3.numGraphInputs = sc->specs[i].nin;
		gi->graphInfoV3.graphInputs = sc->tensors[2 * i] = make_tensors(sc->specs[i].in, sc->specs[i].nin);
		gi->graphInfoV3.numGraphOutputs = sc->specs[i].nout;
		gi->graphInfoV3.graphOutputs = sc->tensors[2 * i + 1] = make_tensors(sc->specs[i].out, sc->specs[i].nout);
	}
	QnnSystemContext_BinaryInfo_t *bi = &sc->info;
	bi->version = m.binaryinfo;
	if (bi->version == 3) {
		bi->contextBinaryInfoV3.backendId = 6;
		bi->contextBinaryInfoV3.buildId = "rwkvbench-qnn-standin";
		bi->contextBinaryInfoV3.coreApiVersion = (Qnn_Version_t){2, 32, 0};
		bi->contextBinaryInfoV3.socModel = 57;
		bi->contextBinaryInfoV3.numGraphs = n;
		bi->contextBinaryInfoV3.graphs = sc->graphs;
	} else {
		bi->contextBinaryInfoV2.backendId = 6;
		bi->contextBinaryInfoV2.buildId = "rwkvbench-qnn-standin";
		bi->contextBinaryInfoV2.coreApiVersion = (Qnn_Version_t){2, 32, 0};
		bi->contextBinaryInfoV2.numGraphs = n;
		bi->contextBinaryInfoV2.graphs = sc->graphs;
	}
	*out = bi;
	return 0;
}

static Qnn_ErrorHandle_t sysGetBinaryInfo(void *p, void *buf, uint64_t size, const QnnSystemContext_BinaryInfo_t **out, uint64_t *outSize) {
	Qnn_ErrorHandle_t e = sysGetMetaData(p, buf, size, out);
	if (!e && outSize) *outSize = sizeof(QnnSystemContext_BinaryInfo_t);
	return e;
}

static Qnn_ErrorHandle_t sysContextFree(void *p) {
	sysctx_t *sc = p;
	if (!sc) return fail(E_SYSTEM_INVALID_ARGUMENT, "null handle");
	for (int i = 0; i < 4; i++) free(sc->tensors[i]);
	/* Scribble over what the binding should have deep-copied. */
	if (sc->specs) memset(sc->specs, 0x5a, 2 * sizeof(graph_t));
	free(sc->specs);
	free(sc);
	return 0;
}

static QnnSystemInterface_t sys_provider;
static const QnnSystemInterface_t *sys_list[1] = {&sys_provider};

Qnn_ErrorHandle_t QnnSystemInterface_getProviders(const QnnSystemInterface_t ***list, uint32_t *n) {
	sys_provider.backendId = 0;
	sys_provider.providerName = "SYSTEM_QNN_STANDIN";
	sys_provider.systemApiVersion = (Qnn_Version_t){1, 7, 0};
	sys_provider.v1_7[0] = (void *)sysContextCreate;
	sys_provider.v1_7[1] = (void *)sysGetBinaryInfo;
#ifndef STANDIN_NO_GETMETADATA
	sys_provider.v1_7[2] = (void *)sysGetMetaData;
#endif
	sys_provider.v1_7[3] = (void *)sysContextFree;
	*list = sys_list;
	*n = 1;
	return 0;
}
