//go:build linux && (amd64 || arm64)

package qnn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	standin "github.com/rwkvbench/rwkvbench/internal/qnnstandin"
)

// These tests drive the binding against the QNN STAND-IN backend (a C library built
// from qnn/internal/standin/csrc during the test), never against Qualcomm's QNN.

// writeModel writes the stand-in context binaries for chunks into dir and returns
// their paths.
func writeModel(t testing.TB, dir string, chunks []standin.Model) []string {
	t.Helper()
	var paths []string
	for _, m := range chunks {
		p := filepath.Join(dir, m.FileName())
		if err := os.WriteFile(p, m.Binary(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func standinConfig(lib string) Config {
	// The stand-in also exports rpcmem_*: loading it as the FastRPC library turns
	// on the shared-buffer (memRegister) path.
	return Config{BackendLib: lib, SystemLib: lib, RPCMemLib: "none"}
}

// oneChunk is a single-context model: 2 layers, decode and prefill of 16.
func oneChunk() []standin.Model {
	return []standin.Model{{LayerBegin: 0, LayerEnd: 2, Embd: 8, Heads: 2, Vocab: 40, PrefillSeq: 16}}
}

// twoChunks is a v7-style model split in two contexts, chained by out_chunk1 →
// in_chunk2 and v_first.
func twoChunks() []standin.Model {
	base := standin.Model{Name: "rwkv7", Chunks: 2, Embd: 8, Heads: 2, Vocab: 48, PrefillSeq: 16, VFirst: true,
		LogitScale: 1.0 / 128, LogitOffset: -30000, ShiftScale: 1.0 / 512, ShiftOffset: -32000}
	a, b := base, base
	a.Chunk, a.LayerBegin, a.LayerEnd = 1, 0, 2
	b.Chunk, b.LayerBegin, b.LayerEnd = 2, 2, 3
	return []standin.Model{a, b}
}

func tokensFor(n, vocab int) []int {
	tokens := make([]int, n)
	for i := range tokens {
		tokens[i] = (i*13 + 7) % vocab
	}
	return tokens
}

func equalLogits(t *testing.T, step int, got, want []float32) {
	t.Helper()
	for v := range want {
		if got[v] != want[v] {
			t.Fatalf("step %d: logit %d = %v, predicted %v", step, v, got[v], want[v])
		}
	}
}

// TestSessionMatchesPrediction is the must-show: over 100+ prefill and decode steps
// the session's logits equal the stand-in's recurrence recomputed in Go, for a
// single context and for two chained chunks, with plain and shared buffers.
func TestSessionMatchesPrediction(t *testing.T) {
	tests := []struct {
		name      string
		chunks    []standin.Model
		sharedBuf bool
	}{
		{"one-context", oneChunk(), false},
		{"two-chunks-vfirst", twoChunks(), false},
		{"two-chunks-rpcmem", twoChunks(), true},
		{"prefill-all-rows", func() []standin.Model { m := oneChunk(); m[0].PrefillAll = true; return m }(), false},
		{"no-prefill", func() []standin.Model { m := oneChunk(); m[0].PrefillSeq = 0; return m }(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := standinLib(t)
			files := writeModel(t, t.TempDir(), tt.chunks)
			cfg := standinConfig(lib)
			if tt.sharedBuf {
				cfg.RPCMemLib = lib
			}
			s, err := OpenSession(context.Background(), SessionConfig{Runtime: cfg, ContextFiles: files[:1]})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Runtime().SharedBuffers() != tt.sharedBuf {
				t.Fatalf("SharedBuffers = %v, want %v", s.Runtime().SharedBuffers(), tt.sharedBuf)
			}
			V := s.VocabSize()
			ref := standin.NewReference(tt.chunks)
			ctx := context.Background()
			got := make([]float32, V)
			step := 0
			// 37 tokens: two prefill windows and 5 decode steps; the last logits.
			prompt := tokensFor(37, V)
			var want []float32
			for _, tok := range prompt {
				want = ref.Step(tok)
				step++
			}
			if err := s.Forward(ctx, prompt, got); err != nil {
				t.Fatal(err)
			}
			equalLogits(t, step, got, want)
			// Then 70 single decode steps, checking every one.
			for i := range 70 {
				tok := (i*31 + 3) % V
				if err := s.Forward(ctx, []int{tok}, got); err != nil {
					t.Fatal(err)
				}
				step++
				equalLogits(t, step, got, ref.Step(tok))
			}
			// Every position's logits over a window and a half.
			seqTokens := tokensFor(24, V)
			all := make([]float32, len(seqTokens)*V)
			if err := s.Forward(ctx, seqTokens, all); err != nil {
				t.Fatal(err)
			}
			for i, tok := range seqTokens {
				step++
				equalLogits(t, step, all[i*V:(i+1)*V], ref.Step(tok))
			}
		})
	}
}

func openStandin(t *testing.T, lib string, chunks []standin.Model) (*Session, []string) {
	t.Helper()
	files := writeModel(t, t.TempDir(), chunks)
	s, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(lib), ContextFiles: files})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, files
}

func findTensor(ts []cTensor, run *graphRun, name string, out bool) cTensor {
	infos := run.g.Info.Inputs
	if out {
		infos = run.g.Info.Outputs
	}
	for i, info := range infos {
		if info.Name == name {
			return ts[i]
		}
	}
	return cTensor{}
}

// TestStateInPlace checks the aliasing itself: state{j}_in is handed the buffer of
// state{j}_out, the prefill graph the decode graph's, and chunk 2 reads chunk 1's
// output buffers.
func TestStateInPlace(t *testing.T) {
	s, _ := openStandin(t, standinLib(t), twoChunks())
	checked := 0
	for k, run := range s.decode {
		pre := s.prefill[k]
		for _, info := range run.g.Info.Inputs {
			if !strings.HasPrefix(info.Name, "state") {
				continue
			}
			out := strings.TrimSuffix(info.Name, "_in") + "_out"
			in := findTensor(run.in, run, info.Name, false)
			o := findTensor(run.out, run, out, true)
			pin := findTensor(pre.in, pre, info.Name, false)
			pout := findTensor(pre.out, pre, out, true)
			if in.V2.ClientBuf.Data == 0 || in.V2.ClientBuf.Data != o.V2.ClientBuf.Data ||
				pin.V2.ClientBuf.Data != o.V2.ClientBuf.Data || pout.V2.ClientBuf.Data != o.V2.ClientBuf.Data {
				t.Errorf("chunk %d %s: in %#x out %#x prefill in %#x out %#x; want one buffer",
					k+1, info.Name, in.V2.ClientBuf.Data, o.V2.ClientBuf.Data, pin.V2.ClientBuf.Data, pout.V2.ClientBuf.Data)
			}
			checked++
		}
	}
	if checked != 9 {
		t.Errorf("checked %d states, want 9 (3 layers × 3)", checked)
	}
	links := []struct{ out, in string }{
		{"out_chunk1", "in_chunk2"}, {"v_first_out_chunk1", "v_first_in_chunk2"},
	}
	for _, l := range links {
		o := findTensor(s.decode[0].out, s.decode[0], l.out, true)
		i := findTensor(s.decode[1].in, s.decode[1], l.in, false)
		if o.V2.ClientBuf.Data == 0 || o.V2.ClientBuf.Data != i.V2.ClientBuf.Data {
			t.Errorf("%s → %s: buffers %#x and %#x, want the same", l.out, l.in, o.V2.ClientBuf.Data, i.V2.ClientBuf.Data)
		}
	}
	// The prefill logits ([1,1,V]) share the decode logits buffer.
	o := findTensor(s.decode[1].out, s.decode[1], "out_chunk2", true)
	p := findTensor(s.prefill[1].out, s.prefill[1], "out_prefill_chunk2", true)
	if o.V2.ClientBuf.Data != p.V2.ClientBuf.Data {
		t.Errorf("prefill logits not aliased to decode logits")
	}
}

// TestStateCarryOver: splitting a sequence over calls changes nothing, state does
// carry (a different history gives different logits), and Reset starts afresh.
func TestStateCarryOver(t *testing.T) {
	s, _ := openStandin(t, standinLib(t), twoChunks())
	ctx := context.Background()
	V := s.VocabSize()
	tokens := tokensFor(40, V)
	whole := make([]float32, V)
	if err := s.Forward(ctx, tokens, whole); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	split := make([]float32, V)
	for _, part := range [][]int{tokens[:5], tokens[5:21], tokens[21:22], tokens[22:]} {
		if err := s.Forward(ctx, part, split); err != nil {
			t.Fatal(err)
		}
	}
	equalLogits(t, 40, split, whole)

	s.Reset()
	fresh := make([]float32, V)
	if err := s.Forward(ctx, tokens[39:], fresh); err != nil {
		t.Fatal(err)
	}
	same := true
	for v := range fresh {
		same = same && fresh[v] == whole[v]
	}
	if same {
		t.Fatal("logits of the last token are the same with and without history: state is not carried")
	}
	ref := standin.NewReference(twoChunks())
	equalLogits(t, 1, fresh, ref.Step(tokens[39]))
}

// TestExternalEmbedding: the graph takes in_embedding rows, looked up on the host
// from <stem>.fp32.emb.
func TestExternalEmbedding(t *testing.T) {
	chunks := oneChunk()
	chunks[0].Embedding = true
	chunks[0].Name = "rwkv-emb"
	dir := t.TempDir()
	files := writeModel(t, dir, chunks)
	const rows = 40
	var table []byte
	for tok := range rows {
		for _, v := range standin.EmbeddingRow(tok, chunks[0].Embd) {
			table = binaryAppendFloat32(table, v)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "rwkv-emb.fp32.emb"), table, 0o644); err != nil {
		t.Fatal(err)
	}
	lib := standinLib(t)
	s, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(lib), ContextFiles: files})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref := standin.NewReference(chunks)
	got := make([]float32, s.VocabSize())
	tokens := tokensFor(20, rows)
	var want []float32
	for _, tok := range tokens {
		want = ref.Step(tok)
	}
	if err := s.Forward(context.Background(), tokens, got); err != nil {
		t.Fatal(err)
	}
	equalLogits(t, 20, got, want)
	if err := s.Forward(context.Background(), []int{rows}, got); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("token past the embedding table: %v", err)
	}

	// Without the table the session refuses to open, naming what it looked for.
	os.Remove(filepath.Join(dir, "rwkv-emb.fp32.emb"))
	_, err = OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(lib), ContextFiles: files})
	if err == nil || !strings.Contains(err.Error(), "rwkv-emb.fp32.emb") {
		t.Errorf("missing embedding table: %v", err)
	}
}

func TestSessionErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func([]standin.Model)
		want   string
	}{
		{"missing decode graph", func(m []standin.Model) { m[1].OmitDecode = true }, "no decode graph"},
		{"wrong state shape", func(m []standin.Model) { m[0].BadShape = true }, "tensor state0_in: shape [1 9]"},
		{"missing chunk link", func(m []standin.Model) { m[0].VFirst = false }, "v_first_in_chunk2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := twoChunks()
			tt.mutate(chunks)
			files := writeModel(t, t.TempDir(), chunks)
			_, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(standinLib(t)), ContextFiles: files})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMissingGraphFromBackend(t *testing.T) {
	lib := standinLib(t)
	rt, err := OpenRuntime(standinConfig(lib))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	c, err := rt.LoadContext("rwkv.bin", oneChunk()[0].Binary())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Graph("nope"); err == nil || !strings.Contains(err.Error(), `no graph "nope"`) {
		t.Errorf("Graph(nope): %v", err)
	}
	var qe *Error
	if err := c.retrieveUnlisted("nope"); !errors.As(err, &qe) || qe.Name != "QNN_GRAPH_ERROR_GRAPH_DOES_NOT_EXIST" || qe.Code != 6002 {
		t.Errorf("graphRetrieve(nope) = %v, want QNN_GRAPH_ERROR_GRAPH_DOES_NOT_EXIST (6002)", err)
	}
	if _, err := rt.LoadContext("junk.bin", []byte("not a context")); err == nil || !strings.Contains(err.Error(), "QNN_SYSTEM_ERROR_MALFORMED_BINARY (30010)") {
		t.Errorf("junk binary: %v", err)
	}
}

// TestBackendFailsMidRun: the stand-in's failafter switch makes graphExecute fail
// with 1011 on the 30th call.
func TestBackendFailsMidRun(t *testing.T) {
	chunks := oneChunk()
	chunks[0].FailAfter = 29
	s, _ := openStandin(t, standinLib(t), chunks)
	got := make([]float32, s.VocabSize())
	var err error
	steps := 0
	for ; steps < 100 && err == nil; steps++ {
		err = s.Forward(context.Background(), []int{steps % 40}, got)
	}
	var qe *Error
	if !errors.As(err, &qe) {
		t.Fatalf("after %d steps: %v, want a *qnn.Error", steps, err)
	}
	if steps != 30 || qe.Code != 1011 || qe.Name != "QNN_COMMON_ERROR_SYSTEM_COMMUNICATION_FATAL" || !qe.DSPRestarted() || qe.Op != "graphExecute" {
		t.Fatalf("step %d: %+v", steps, qe)
	}
	if !strings.Contains(err.Error(), "failafter") || !strings.Contains(err.Error(), "graph rwkv") {
		t.Errorf("error text %q lacks the backend message or graph name", err)
	}
}

func TestForwardArguments(t *testing.T) {
	s, _ := openStandin(t, standinLib(t), oneChunk())
	ctx := context.Background()
	V := s.VocabSize()
	tests := []struct {
		tokens []int
		logits int
		want   string
	}{
		{[]int{1, 2}, 3, "logits length 3"},
		{nil, V, "no tokens"},
		{[]int{-1}, 0, "out of range"},
		{[]int{V}, V, "out of range"},
	}
	for _, tt := range tests {
		err := s.Forward(ctx, tt.tokens, make([]float32, tt.logits))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Forward(%v, %d logits) = %v, want %q", tt.tokens, tt.logits, err, tt.want)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Forward(canceled, []int{1}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
}

// TestProviderFloor: a library offering only providers older than the floor is
// refused, naming the versions.
func TestProviderFloor(t *testing.T) {
	lib := standinLib(t, "STANDIN_CORE_MINOR=10")
	_, err := OpenRuntime(standinConfig(lib))
	if err == nil || !strings.Contains(err.Error(), "core API 2.10.0, need 2.32") || !strings.Contains(err.Error(), "core API 2.7.0") {
		t.Fatalf("OpenRuntime: %v", err)
	}
	// The default stand-in offers the old provider first and a 2.32 one second.
	rt, err := OpenRuntime(standinConfig(standinLib(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if rt.Provider.Name != "HTP_QNN_STANDIN" || rt.Provider.CoreAPI != (Version{2, 32, 0}) || rt.SystemProvider.CoreAPI != (Version{1, 7, 0}) {
		t.Errorf("chose %+v / %+v", rt.Provider, rt.SystemProvider)
	}
	if d := rt.Describe(); d != "QNN HTP_QNN_STANDIN core 2.32.0 backend 5.43.0 build rwkvbench-qnn-standin (NOT Qualcomm QNN)" {
		t.Errorf("Describe() = %q", d)
	}
	if rt.PerfProfile() != PerfNone || rt.PerfVote() != "" {
		t.Errorf("no perf asked, got %s %q", rt.PerfProfile(), rt.PerfVote())
	}
	if !strings.Contains(rt.BuildID, "NOT Qualcomm") {
		t.Errorf("build id %q", rt.BuildID)
	}
	if _, err := OpenRuntime(Config{BackendLib: lib, SystemLib: lib, Backend: BackendCPU}); err == nil || !strings.Contains(err.Error(), "backend id 6, want 3") {
		t.Errorf("CPU backend from an HTP library: %v", err)
	}
}

// TestMetadataVersions reads every BinaryInfo and GraphInfo version, and the
// deprecated GetBinaryInfo path.
func TestMetadataVersions(t *testing.T) {
	tests := []struct {
		name          string
		defines       []string
		binary, graph int
	}{
		{"v1", nil, 1, 1},
		{"v2", nil, 2, 2},
		{"v3", nil, 3, 3},
		{"v2-binary-v1-graphs", nil, 2, 1},
		{"deprecated-GetBinaryInfo", []string{"STANDIN_NO_GETMETADATA", "STANDIN_NO_HMX"}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := OpenRuntime(standinConfig(standinLib(t, tt.defines...)))
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			m := twoChunks()[1]
			m.BinaryInfoVersion, m.GraphInfoVersion = tt.binary, tt.graph
			info, err := rt.ReadBinaryInfo(m.Binary())
			if err != nil {
				t.Fatal(err)
			}
			if info.Version != uint32(tt.binary) || info.BackendID != 6 || info.CoreAPI != (Version{2, 32, 0}) || len(info.Graphs) != 2 {
				t.Fatalf("info %+v", info)
			}
			if tt.binary == 3 && info.SocModel != 57 {
				t.Errorf("socModel %d, want 57", info.SocModel)
			}
			g, ok := info.Graph("rwkv7_chunk2of2")
			if !ok {
				t.Fatalf("graphs %+v", info.Graphs)
			}
			in := g.Inputs[0]
			if in.Name != "in_chunk2" || in.DataType != Float32 || len(in.Dims) != 3 || in.Dims[2] != 8 {
				t.Errorf("first input %v", in)
			}
			var logits TensorInfo
			for _, o := range g.Outputs {
				if o.Name == "out_chunk2" {
					logits = o
				}
			}
			if !logits.Quantized || logits.Scale != 1.0/128 || logits.Offset != -30000 || logits.DataType != UFixedPoint16 {
				t.Errorf("logits %+v", logits)
			}
			wkv := g.Inputs[3] // state7_in: [H, N, N] fp16-in-uint16
			if wkv.Name != "state7_in" || wkv.Scale != float32(1.0/65535) || wkv.Offset != 0 || wkv.Elements() != 2*4*4 {
				t.Errorf("wkv state %+v", wkv)
			}
		})
	}
}

func TestPerfProfiles(t *testing.T) {
	tests := []struct {
		defines []string
		profile PerfProfile
		want    string
	}{
		{nil, PerfBurst, "burst (DCVS v3 + HMX v2)"},
		{[]string{"STANDIN_NO_GETMETADATA", "STANDIN_NO_HMX"}, PerfBurst, "burst (DCVS v3 only; HMX v2 refused"},
		{nil, PerfSustainedHigh, "sustained_high_performance (DCVS v3 + HMX v2)"},
		{[]string{"STANDIN_NO_GETMETADATA", "STANDIN_NO_HMX"}, PerfBalanced, "balanced (DCVS v3 only"},
	}
	for _, tt := range tests {
		cfg := standinConfig(standinLib(t, tt.defines...))
		cfg.Perf = tt.profile
		rt, err := OpenRuntime(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rt.PerfProfile() != tt.profile {
			t.Errorf("PerfProfile %s, want %s", rt.PerfProfile(), tt.profile)
		}
		if !strings.HasPrefix(rt.PerfVote(), tt.want) {
			t.Errorf("%v %s: vote %q, want %q", tt.defines, tt.profile, rt.PerfVote(), tt.want)
		}
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestOpPackage(t *testing.T) {
	lib := standinLib(t)
	pkg := filepath.Join(t.TempDir(), "libQnnRwkvWkvOpPackageV75.so")
	os.WriteFile(pkg, []byte("stand-in op package"), 0o644)
	cfg := standinConfig(lib)
	cfg.OpPackage = pkg
	rt, err := OpenRuntime(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.RegisterOpPackage(pkg+".missing", ""); err == nil || !strings.Contains(err.Error(), "op package") {
		t.Errorf("missing op package: %v", err)
	}
}

// TestCheckHostLoad: the doctor checks load the libraries and list providers.
func TestCheckHostLoad(t *testing.T) {
	lib := standinLib(t)
	dir := t.TempDir()
	data, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"libQnnHtp.so", "libQnnSystem.so"} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]Finding{}
	for _, f := range CheckHost(CheckOptions{Root: t.TempDir(), LibDir: dir, Load: true}) {
		got[f.Check] = f
	}
	if f := got["backend htp API"]; f.Status != "ok" || f.Detail != "providers: HTP_QNN_STANDIN_OLD 2.7.0, HTP_QNN_STANDIN 2.32.0" {
		t.Errorf("backend probe: %+v", f)
	}
	if f := got["system library API"]; f.Status != "ok" || !strings.Contains(f.Detail, "SYSTEM_QNN_STANDIN 1.7.0") {
		t.Errorf("system probe: %+v", f)
	}
}

// TestBackendRejectsTensor: a tensor whose buffer does not match its shape is
// refused by the backend at execute time, and the error carries its name.
func TestBackendRejectsTensor(t *testing.T) {
	s, _ := openStandin(t, standinLib(t), oneChunk())
	s.decode[0].in[0].V2.ClientBuf.DataSize = 1 // token input "in" is [1,1] INT_32: needs 4 bytes
	err := s.Forward(context.Background(), []int{1}, nil)
	var qe *Error
	if !errors.As(err, &qe) || qe.Name != "QNN_GRAPH_ERROR_INVALID_TENSOR" || !strings.Contains(qe.Message, "tensor in: buffer of 1 bytes, need 4") {
		t.Fatalf("Forward with a short buffer: %v", err)
	}
}

func TestClosedSession(t *testing.T) {
	files := writeModel(t, t.TempDir(), oneChunk())
	s, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(standinLib(t)), ContextFiles: files})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Forward(context.Background(), []int{1}, nil); err == nil {
		t.Error("Forward after Close succeeded")
	}
}

// TestSpillFillGroup: with SpillFillBytes the chunk contexts are created as one
// spill-fill group (the stand-in checks the config structs); without it a backend
// that demands the group refuses the binary with QNN_CONTEXT_ERROR_INVALID_CONFIG.
func TestSpillFillGroup(t *testing.T) {
	chunks := twoChunks()
	for i := range chunks {
		chunks[i].RequireGroup = true
	}
	files := writeModel(t, t.TempDir(), chunks)
	lib := standinLib(t)
	_, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(lib), ContextFiles: files})
	var qe *Error
	if !errors.As(err, &qe) || qe.Code != 5010 || !strings.Contains(qe.Message, "no REGISTER_MULTI_CONTEXTS") {
		t.Fatalf("without a group: %v", err)
	}
	s, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(lib), ContextFiles: files, SpillFillBytes: 320_000_000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref := standin.NewReference(chunks)
	got := make([]float32, s.VocabSize())
	for i, tok := range tokensFor(20, s.VocabSize()) {
		if err := s.Forward(context.Background(), []int{tok}, got); err != nil {
			t.Fatal(err)
		}
		equalLogits(t, i+1, got, ref.Step(tok))
	}
}

// TestOpPackageFromSoC: the op package is chosen from the chip's soc_id and must
// exist beside the model.
func TestOpPackageFromSoC(t *testing.T) {
	root := t.TempDir()
	soc0 := filepath.Join(root, "sys", "devices", "soc0")
	os.MkdirAll(soc0, 0o755)
	os.WriteFile(filepath.Join(soc0, "soc_id"), []byte("557\n"), 0o644) // SM8650, v75
	dir := t.TempDir()
	files := writeModel(t, dir, oneChunk())
	cfg := SessionConfig{Runtime: standinConfig(standinLib(t)), ContextFiles: files, OpPackageFromSoC: true, SysRoot: root}
	if _, err := OpenSession(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "libQnnRwkvWkvOpPackageV75.so") {
		t.Fatalf("missing op package: %v", err)
	}
	pkg := filepath.Join(dir, "libQnnRwkvWkvOpPackageV75.so")
	os.WriteFile(pkg, []byte("stand-in op package"), 0o644)
	s, err := OpenSession(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.OpPackage() != pkg {
		t.Errorf("op package %q, want %q", s.OpPackage(), pkg)
	}
}

// BenchmarkDecodeStep measures the binding's per-token overhead around the
// stand-in's (tiny) graph: token in, two chunk executes, logits out.
func BenchmarkDecodeStep(b *testing.B) {
	lib := standin.BuildIn(b, filepath.Join(b.TempDir(), "lib"))
	files := writeModel(b, b.TempDir(), twoChunks())
	s, err := OpenSession(context.Background(), SessionConfig{Runtime: standinConfig(lib), ContextFiles: files})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	logits := make([]float32, s.VocabSize())
	b.ResetTimer()
	for i := range b.N {
		if err := s.Forward(context.Background(), []int{i % 40}, logits); err != nil {
			b.Fatal(err)
		}
	}
}
