package qnn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/x448/float16"

	"github.com/rwkvbench/rwkvbench/hexagon"
	"github.com/rwkvbench/rwkvbench/model"
)

// SessionConfig says which context binaries make up a model and how to load them.
type SessionConfig struct {
	Runtime Config
	// ContextFiles are the model's context binaries, one per chunk in chunk order.
	// A single file named "<name>_chunk1of<N>.bin" brings in its siblings
	// "<name>_chunk2of<N>.bin" … from the same directory.
	ContextFiles []string
	// EmbeddingFile is the embedding table for graphs that take embeddings rather
	// than token ids. Empty means "<stem>.fp32.emb", ".fp16.emb" or ".uint16.emb"
	// (matching the input's data type) beside the first context file, where the
	// stem is the file name without ".bin" and, failing that, also without
	// "_chunk1of<N>".
	EmbeddingFile string
	// SpillFillBytes, when non-zero, makes the contexts of a chunked model share
	// one HTP spill-fill buffer of that size (rwkv-qualcomm uses 320,000,000 for
	// 4-chunk models). HTP only.
	SpillFillBytes uint64
	// OpPackageFromSoC registers the RWKV WKV op package for the running chip, as
	// rwkv-qualcomm's runtime does: the chip from <SysRoot>/sys/devices/soc0/soc_id,
	// the library libQnnRwkvWkvOpPackageV<arch>.so beside the first context
	// binary. Unlike rwkv-qualcomm, a missing package or an unknown chip is an
	// error, not a silent fallback. Ignored when Runtime.OpPackage is set.
	OpPackageFromSoC bool
	// SysRoot is the filesystem root for OpPackageFromSoC; empty means "/".
	SysRoot string
}

// Session runs an RWKV model exported by rwkv-qualcomm's conventions
// (qualcomm-pipeline.md §4, §8): a decode graph per chunk and optionally a prefill
// graph per chunk, states state{3l+i}_in/_out, chunks chained through
// in_chunkK/out_chunkK and v_first. It implements model.Session.
//
// State lives in place: every state{j}_in is given the very buffer of state{j}_out,
// so the graph reads and overwrites one buffer each step and the host never copies
// state; the prefill graphs use the decode graphs' state and (when shaped alike)
// logits buffers, and chunk k reads chunk k−1's output buffer directly. With
// libcdsprpc present the buffers are rpcmem shared memory registered with
// memRegister in every context that uses them; otherwise they are plain client
// buffers.
//
// After Forward fails the state is undefined; call Reset.
type Session struct {
	rt       *Runtime
	contexts []*Context
	decode   []*graphRun
	prefill  []*graphRun // nil when the model has no prefill graphs

	seq   int // prefill window length
	vocab int

	input         map[string]*ioTensor // kind → chunk-1 token or embedding input
	logits        map[string]*ioTensor // kind → logits output
	stateOut      map[int]*ioTensor    // state index → decode state output
	hidden        map[string]map[int]*ioTensor
	vfirst        map[string]*ioTensor
	embedding     *embeddingTable
	buffers       []*buffer
	pin           runtime.Pinner
	prefillPerRow bool // prefill logits cover every position
}

const (
	kindDecode  = "decode"
	kindPrefill = "prefill"
)

type buffer struct {
	data    []byte
	cAddr   uintptr // rpcmem address; 0 for Go memory
	fd      int32
	handles map[*Context]uintptr
}

type ioTensor struct {
	info TensorInfo
	buf  *buffer
}

type graphRun struct {
	g       *Graph
	chunk   int
	seq     int
	in, out []cTensor
}

// OpenSession loads the runtime and the model's context binaries and wires the graphs.
func OpenSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	files, err := chunkFiles(cfg.ContextFiles)
	if err != nil {
		return nil, err
	}
	if cfg.OpPackageFromSoC && cfg.Runtime.OpPackage == "" {
		root := cfg.SysRoot
		if root == "" {
			root = "/"
		}
		chip, err := hexagon.Detect(root)
		if err != nil {
			return nil, fmt.Errorf("choose the op package: %w", err)
		}
		if chip.Arch == 0 {
			return nil, fmt.Errorf("choose the op package: %s has no known HTP arch", chip.SoC)
		}
		cfg.Runtime.OpPackage = filepath.Join(filepath.Dir(files[0]), chip.Arch.OpPackageLib())
	}
	rt, err := OpenRuntime(cfg.Runtime)
	if err != nil {
		return nil, err
	}
	s := &Session{rt: rt, input: map[string]*ioTensor{}, logits: map[string]*ioTensor{},
		stateOut: map[int]*ioTensor{}, hidden: map[string]map[int]*ioTensor{kindDecode: {}, kindPrefill: {}},
		vfirst: map[string]*ioTensor{}}
	var group *spillFillGroup
	if cfg.SpillFillBytes > 0 {
		group = &spillFillGroup{bytes: cfg.SpillFillBytes}
	}
	if err := s.load(ctx, files, cfg.EmbeddingFile, group); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.Reset()
	return s, nil
}

var chunkName = regexp.MustCompile(`^(.*)_chunk(\d+)of(\d+)\.bin$`)

// chunkFiles expands a lone "_chunk1ofN" file into its N siblings and checks that
// chunk-named files come in order.
func chunkFiles(files []string) ([]string, error) {
	if len(files) == 0 {
		return nil, errors.New("qnn session: no context binary given")
	}
	if len(files) == 1 {
		if m := chunkName.FindStringSubmatch(filepath.Base(files[0])); m != nil {
			i, _ := strconv.Atoi(m[2])
			n, _ := strconv.Atoi(m[3])
			if i != 1 || n < 1 || n > 64 {
				return nil, fmt.Errorf("context binary %s: give chunk 1 (of %d), not chunk %d", files[0], n, i)
			}
			dir := filepath.Dir(files[0])
			files = nil
			for k := 1; k <= n; k++ {
				files = append(files, filepath.Join(dir, fmt.Sprintf("%s_chunk%dof%d.bin", m[1], k, n)))
			}
			return files, nil
		}
	}
	for k, f := range files {
		if m := chunkName.FindStringSubmatch(filepath.Base(f)); m != nil {
			if m[2] != strconv.Itoa(k+1) || m[3] != strconv.Itoa(len(files)) {
				return nil, fmt.Errorf("context binary %s is chunk %s of %s, but was given as chunk %d of %d", f, m[2], m[3], k+1, len(files))
			}
		}
	}
	return files, nil
}

func (s *Session) load(ctx context.Context, files []string, embeddingFile string, group *spillFillGroup) error {
	N := len(files)
	decodes := make([]*Graph, N)
	prefills := make([]*Graph, N)
	for k, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("load context binary: %w", err)
		}
		if len(buf) == 0 {
			return fmt.Errorf("load context binary %s: empty file", path)
		}
		c, err := s.rt.loadContext(path, buf, group)
		if err != nil {
			return err
		}
		if group != nil && group.first == nil {
			group.first = c
		}
		s.contexts = append(s.contexts, c)
		var dec, pre []string
		for _, g := range c.Info.Graphs {
			if strings.Contains(g.Name, "prefill") {
				pre = append(pre, g.Name)
			} else {
				dec = append(dec, g.Name)
			}
		}
		switch {
		case len(dec) == 0:
			return fmt.Errorf("%s: no decode graph (graphs: %q)", path, append(dec, pre...))
		case len(dec) > 1 || len(pre) > 1:
			return fmt.Errorf("%s: several decode or prefill graphs (%q, %q); give one binary per chunk with one of each", path, dec, pre)
		}
		if decodes[k], err = c.Graph(dec[0]); err != nil {
			return err
		}
		if len(pre) == 1 {
			if prefills[k], err = c.Graph(pre[0]); err != nil {
				return err
			}
		}
	}
	for k, g := range decodes {
		run, err := s.wire(kindDecode, k+1, N, g)
		if err != nil {
			return err
		}
		s.decode = append(s.decode, run)
	}
	havePrefill := 0
	for _, g := range prefills {
		if g != nil {
			havePrefill++
		}
	}
	if havePrefill != 0 && havePrefill != N {
		return fmt.Errorf("%d of %d chunks have a prefill graph; need all or none", havePrefill, N)
	}
	if havePrefill == N {
		for k, g := range prefills {
			run, err := s.wire(kindPrefill, k+1, N, g)
			if err != nil {
				return err
			}
			if k > 0 && run.seq != s.prefill[0].seq {
				return fmt.Errorf("graph %s: prefill length %d, chunk 1 has %d", g.Info.Name, run.seq, s.prefill[0].seq)
			}
			s.prefill = append(s.prefill, run)
		}
		s.seq = s.prefill[0].seq
	}
	if s.logits[kindDecode] == nil {
		return fmt.Errorf("graph %s: no logits output (out, out_chunk%d or logits)", decodes[N-1].Info.Name, N)
	}
	if in := s.input[kindDecode]; in != nil && strings.HasPrefix(in.info.Name, "in_embedding") {
		t, err := loadEmbedding(embeddingFile, files[0], in.info)
		if err != nil {
			return err
		}
		s.embedding = t
	}
	return nil
}

var stateName = regexp.MustCompile(`^state(\d+)_(in|out)$`)

func shapeString(t TensorInfo) string {
	return fmt.Sprintf("%v %s", t.Dims, t.DataType)
}

func sameLayout(a, b TensorInfo) bool {
	if a.DataType != b.DataType || len(a.Dims) != len(b.Dims) || a.Quantized != b.Quantized || a.Scale != b.Scale || a.Offset != b.Offset {
		return false
	}
	for i := range a.Dims {
		if a.Dims[i] != b.Dims[i] {
			return false
		}
	}
	return true
}

// wire gives every tensor of a graph its buffer, aliasing as the type comment says.
func (s *Session) wire(kind string, k, N int, g *Graph) (*graphRun, error) {
	P := ""
	if kind == kindPrefill {
		P = "_prefill"
	}
	gname := g.Info.Name
	errf := func(t TensorInfo, format string, args ...any) error {
		return fmt.Errorf("%s: graph %s: tensor %s: %s", g.ctx.Path, gname, t.Name, fmt.Sprintf(format, args...))
	}
	run := &graphRun{g: g, chunk: k}
	chunkSfx := func(i int) string { return fmt.Sprintf("_chunk%d", i) }
	isToken := func(n string) bool { return k == 1 && (n == "in"+P || n == "in"+P+chunkSfx(1)) }
	isEmbedding := func(n string) bool {
		return k == 1 && strings.HasPrefix(n, "in_embedding") && strings.Contains(n, "prefill") == (kind == kindPrefill)
	}
	isHiddenIn := func(n string) bool { return k > 1 && n == "in"+P+chunkSfx(k) }
	isVFirstIn := func(n string) bool { return k > 1 && n == "v_first_in"+P+chunkSfx(k) }
	isLogits := func(n string) bool {
		return k == N && (n == "out"+P+chunkSfx(N) || (N == 1 && (n == "out"+P || n == "logits"+P)))
	}
	isHiddenOut := func(n string) bool { return k < N && n == "out"+P+chunkSfx(k) }
	isVFirstOut := func(n string) bool { return k == 1 && N > 1 && n == "v_first_out"+P+chunkSfx(1) }

	for _, t := range append(append([]TensorInfo(nil), g.Info.Inputs...), g.Info.Outputs...) {
		if t.pointerQuant {
			return nil, errf(t, "per-axis or block quantization on a graph input/output is not supported")
		}
		if t.Bytes() == 0 {
			return nil, errf(t, "shape %s has no byte size", shapeString(t))
		}
	}
	// The sequence length comes from the first input: token ids or embedding rows
	// in chunk 1, hidden rows later.
	run.seq = -1
	for _, t := range g.Info.Inputs {
		switch {
		case isToken(t.Name):
			run.seq = t.Elements()
		case isEmbedding(t.Name), isHiddenIn(t.Name):
			run.seq = t.Elements() / int(t.Dims[len(t.Dims)-1])
		}
	}
	if run.seq <= 0 {
		return nil, fmt.Errorf("%s: graph %s: no token, embedding or in%s_chunk%d input", g.ctx.Path, gname, P, k)
	}
	if kind == kindDecode && run.seq != 1 {
		return nil, fmt.Errorf("%s: decode graph %s takes %d positions, want 1", g.ctx.Path, gname, run.seq)
	}

	for _, t := range g.Info.Outputs {
		var b *buffer
		var err error
		switch m := stateName.FindStringSubmatch(t.Name); {
		case m != nil && m[2] == "out":
			j, _ := strconv.Atoi(m[1])
			if kind == kindDecode {
				if s.stateOut[j] != nil {
					return nil, errf(t, "state %d already produced by another graph", j)
				}
				if b, err = s.newBuffer(t.Bytes()); err != nil {
					return nil, errf(t, "%v", err)
				}
				s.stateOut[j] = &ioTensor{t, b}
				break
			}
			d := s.stateOut[j]
			if d == nil {
				return nil, errf(t, "no decode graph has state%d_out", j)
			}
			if !sameLayout(d.info, t) {
				return nil, errf(t, "shape %s differs from the decode graph's %s", shapeString(t), shapeString(d.info))
			}
			b = d.buf
		case isLogits(t.Name):
			vocab := int(t.Dims[len(t.Dims)-1])
			if _, err := decodeValues(t, nil, nil); err != nil {
				return nil, errf(t, "%v", err)
			}
			if kind == kindDecode {
				if t.Elements() != vocab {
					return nil, errf(t, "decode logits shape %v is not one row", t.Dims)
				}
				s.vocab = vocab
				if b, err = s.newBuffer(t.Bytes()); err != nil {
					return nil, errf(t, "%v", err)
				}
			} else {
				d := s.logits[kindDecode]
				switch {
				case vocab != s.vocab:
					return nil, errf(t, "vocabulary %d, decode graph has %d", vocab, s.vocab)
				case t.Elements() == vocab:
					s.prefillPerRow = false
				case t.Elements() == vocab*run.seq:
					s.prefillPerRow = true
				default:
					return nil, errf(t, "prefill logits shape %v is neither one row nor %d", t.Dims, run.seq)
				}
				if sameLayout(d.info, t) {
					b = d.buf
				} else if b, err = s.newBuffer(t.Bytes()); err != nil {
					return nil, errf(t, "%v", err)
				}
			}
			s.logits[kind] = &ioTensor{t, b}
		case isHiddenOut(t.Name):
			if b, err = s.newBuffer(t.Bytes()); err != nil {
				return nil, errf(t, "%v", err)
			}
			s.hidden[kind][k] = &ioTensor{t, b}
		case isVFirstOut(t.Name):
			if b, err = s.newBuffer(t.Bytes()); err != nil {
				return nil, errf(t, "%v", err)
			}
			s.vfirst[kind] = &ioTensor{t, b}
		default:
			// An output the session does not read still needs somewhere to go.
			if b, err = s.newBuffer(t.Bytes()); err != nil {
				return nil, errf(t, "%v", err)
			}
		}
		ct, err := s.tensorFor(t, b, g.ctx)
		if err != nil {
			return nil, errf(t, "%v", err)
		}
		run.out = append(run.out, ct)
	}

	for _, t := range g.Info.Inputs {
		var src *ioTensor
		var b *buffer
		var err error
		switch m := stateName.FindStringSubmatch(t.Name); {
		case m != nil && m[2] == "in":
			j, _ := strconv.Atoi(m[1])
			if src = s.stateOut[j]; src == nil {
				return nil, errf(t, "no state%d_out to carry it", j)
			}
			if !sameLayout(src.info, t) {
				return nil, errf(t, "shape %s differs from state%d_out's %s", shapeString(t), j, shapeString(src.info))
			}
			b = src.buf
		case isToken(t.Name):
			if t.DataType != Int32 && t.DataType != UInt32 {
				return nil, errf(t, "token input of type %s, want INT_32", t.DataType)
			}
			if b, err = s.newBuffer(t.Bytes()); err != nil {
				return nil, errf(t, "%v", err)
			}
			s.input[kind] = &ioTensor{t, b}
		case isEmbedding(t.Name):
			if b, err = s.newBuffer(t.Bytes()); err != nil {
				return nil, errf(t, "%v", err)
			}
			s.input[kind] = &ioTensor{t, b}
		case isHiddenIn(t.Name):
			if src = s.hidden[kind][k-1]; src == nil {
				return nil, errf(t, "chunk %d has no out%s_chunk%d", k-1, P, k-1)
			}
			if src.info.Bytes() != t.Bytes() || src.info.DataType != t.DataType {
				return nil, errf(t, "shape %s does not match %s %s", shapeString(t), src.info.Name, shapeString(src.info))
			}
			b = src.buf
		case isVFirstIn(t.Name):
			if src = s.vfirst[kind]; src == nil {
				return nil, errf(t, "chunk 1 has no v_first_out%s_chunk1", P)
			}
			if src.info.Bytes() != t.Bytes() || src.info.DataType != t.DataType {
				return nil, errf(t, "shape %s does not match %s %s", shapeString(t), src.info.Name, shapeString(src.info))
			}
			b = src.buf
		default:
			return nil, errf(t, "input the session has no rule for (chunk %d of %d)", k, N)
		}
		ct, err := s.tensorFor(t, b, g.ctx)
		if err != nil {
			return nil, errf(t, "%v", err)
		}
		run.in = append(run.in, ct)
	}
	s.pin.Pin(&run.in[0])
	s.pin.Pin(&run.out[0])
	return run, nil
}

// newBuffer allocates an I/O buffer: rpcmem shared memory when available, else
// pinned Go memory.
func (s *Session) newBuffer(n int) (*buffer, error) {
	b := &buffer{handles: map[*Context]uintptr{}}
	if s.rt.rpc != nil {
		data, p, fd, err := s.rt.rpc.allocate(n)
		if err != nil {
			return nil, err
		}
		b.data, b.cAddr, b.fd = data, p, fd
	} else {
		b.data = make([]byte, n)
		s.pin.Pin(&b.data[0])
	}
	s.buffers = append(s.buffers, b)
	return b, nil
}

// tensorFor builds the Qnn_Tensor_t for t over b: the metadata's id, name, type,
// data type, quantization and dimensions, with the buffer attached.
func (s *Session) tensorFor(t TensorInfo, b *buffer, c *Context) (cTensor, error) {
	name := cstr(t.Name)
	dims := append([]uint32(nil), t.Dims...)
	s.pin.Pin(&name[0])
	s.pin.Pin(&dims[0])
	ct := cTensor{Version: t.version}
	v := &ct.V2
	v.ID, v.Name, v.Type, v.DataFormat, v.DataType = t.ID, uintptr(unsafe.Pointer(&name[0])), t.Type, t.format, uint32(t.DataType)
	v.QuantizeParams = t.quant
	v.Rank, v.Dimensions = uint32(len(dims)), uintptr(unsafe.Pointer(&dims[0]))
	if b.cAddr == 0 {
		v.MemType = 0 // RAW
		v.ClientBuf = cClientBuffer{Data: uintptr(unsafe.Pointer(&b.data[0])), DataSize: uint32(len(b.data))}
		return ct, nil
	}
	h, err := s.register(b, t, dims, c)
	if err != nil {
		return cTensor{}, err
	}
	v.MemType = 1 // MEMHANDLE
	v.ClientBuf.Data = h
	return ct, nil
}

// register registers b with context c once. A buffer shared between contexts is
// registered in each: handles registered in one context fail in a context QNN put
// in another process domain (qualcomm-pipeline.md §8.3).
func (s *Session) register(b *buffer, t TensorInfo, dims []uint32, c *Context) (uintptr, error) {
	if h, ok := b.handles[c]; ok {
		return h, nil
	}
	desc := &cMemDescriptor{DataType: uint32(t.DataType), MemType: 1 /* ION */, IonFd: b.fd}
	desc.MemShape.NumDim = uint32(len(dims))
	desc.MemShape.DimSize = uintptr(unsafe.Pointer(&dims[0]))
	var h uintptr
	if err := s.rt.call("memRegister", slotMemRegister, c.handle, uintptr(unsafe.Pointer(desc)), 1, uintptr(unsafe.Pointer(&h))); err != nil {
		return 0, err
	}
	runtime.KeepAlive(dims)
	b.handles[c] = h
	return h, nil
}

// VocabSize is the number of logits per position.
func (s *Session) VocabSize() int { return s.vocab }

// PrefillLength is the prefill graphs' window, 0 without prefill graphs.
func (s *Session) PrefillLength() int { return s.seq }

// OpPackage is the op package registered for the session, "" for none.
func (s *Session) OpPackage() string { return s.rt.cfg.OpPackage }

// Runtime is the session's runtime (for its provider, perf vote and buffer mode).
func (s *Session) Runtime() *Runtime { return s.rt }

// Reset writes zero into every state: the quantized value of 0.0 for quantized
// states (−offset), zero bits otherwise — which is also fp16 zero in the
// fp16-in-uint16 wkv containers, whose dummy encoding has offset 0.
func (s *Session) Reset() {
	for _, st := range s.stateOut {
		fillZero(st.info, st.buf.data)
	}
}

func fillZero(t TensorInfo, data []byte) {
	clear(data)
	if !t.Quantized || t.Offset == 0 {
		return
	}
	q := max(0, -int64(t.Offset))
	switch t.DataType.Size() {
	case 1:
		for i := range data {
			data[i] = byte(min(q, 255))
		}
	case 2:
		for i := 0; i+1 < len(data); i += 2 {
			binary.LittleEndian.PutUint16(data[i:], uint16(min(q, 65535)))
		}
	}
}

// Forward feeds tokens: full prefill windows through the prefill graphs, the rest
// one at a time through the decode graphs (or every token through decode when
// logits for every position are wanted and the prefill graphs give only the last).
func (s *Session) Forward(ctx context.Context, tokens []int, logits []float32) error {
	if s.rt == nil {
		return errors.New("qnn session: Forward after Close")
	}
	V := s.vocab
	n := len(tokens)
	all := n > 1 && len(logits) == n*V
	if len(logits) != 0 && len(logits) != V && !all {
		return fmt.Errorf("qnn session: logits length %d: want 0, %d or %d", len(logits), V, n*V)
	}
	if n == 0 {
		if len(logits) != 0 {
			return errors.New("qnn session: logits wanted for no tokens")
		}
		return nil
	}
	limit := V
	if s.embedding != nil {
		limit = s.embedding.rows
	}
	for i, t := range tokens {
		if t < 0 || t >= limit {
			return fmt.Errorf("qnn session: token %d at position %d out of range [0, %d)", t, i, limit)
		}
	}
	last := ""
	i := 0
	if s.prefill != nil && (!all || s.prefillPerRow) {
		for ; i+s.seq <= n; i += s.seq {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.step(kindPrefill, s.prefill, tokens[i:i+s.seq]); err != nil {
				return err
			}
			if all {
				if err := s.readLogits(kindPrefill, logits[i*V:(i+s.seq)*V], true); err != nil {
					return err
				}
			}
			last = kindPrefill
		}
	}
	for ; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.step(kindDecode, s.decode, tokens[i:i+1]); err != nil {
			return err
		}
		if all {
			if err := s.readLogits(kindDecode, logits[i*V:(i+1)*V], false); err != nil {
				return err
			}
		}
		last = kindDecode
	}
	if len(logits) == V && !all {
		return s.readLogits(last, logits, false)
	}
	return nil
}

// step writes the inputs of chunk 1 and runs the chunks in order.
func (s *Session) step(kind string, runs []*graphRun, tokens []int) error {
	in := s.input[kind]
	if s.embedding != nil {
		row := s.embedding.rowBytes
		for t, tok := range tokens {
			copy(in.buf.data[t*row:(t+1)*row], s.embedding.data[tok*row:(tok+1)*row])
		}
	} else {
		for t, tok := range tokens {
			binary.LittleEndian.PutUint32(in.buf.data[4*t:], uint32(int32(tok)))
		}
	}
	for _, r := range runs {
		if err := r.g.execute(r.in, r.out); err != nil {
			return fmt.Errorf("%s step: %w", kind, err)
		}
	}
	return nil
}

// readLogits converts the kind's logits into dst: every row when rows is set,
// otherwise the last row.
func (s *Session) readLogits(kind string, dst []float32, rows bool) error {
	l := s.logits[kind]
	size := l.info.DataType.Size()
	src := l.buf.data
	if !rows {
		src = src[len(src)-s.vocab*size:]
	}
	_, err := decodeValues(l.info, src, dst)
	return err
}

// decodeValues converts len(dst) values of t's type from src; with nil buffers it
// only reports whether the type is supported.
func decodeValues(t TensorInfo, src []byte, dst []float32) (int, error) {
	deq := func(q float32) float32 {
		if !t.Quantized {
			return q
		}
		return (q + float32(t.Offset)) * t.Scale
	}
	switch t.DataType {
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case Float16:
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(src[2*i:])).Float32()
		}
	case UFixedPoint16, UInt16:
		for i := range dst {
			dst[i] = deq(float32(binary.LittleEndian.Uint16(src[2*i:])))
		}
	case SFixedPoint16:
		for i := range dst {
			dst[i] = deq(float32(int16(binary.LittleEndian.Uint16(src[2*i:]))))
		}
	case UFixedPoint8:
		for i := range dst {
			dst[i] = deq(float32(src[i]))
		}
	default:
		return 0, fmt.Errorf("logits of type %s are not supported (FLOAT_32, FLOAT_16, UFIXED_POINT_16, SFIXED_POINT_16, UFIXED_POINT_8, UINT_16)", t.DataType)
	}
	return len(dst), nil
}

// Close releases buffers, contexts and the runtime.
func (s *Session) Close() error {
	var errs []error
	for _, b := range s.buffers {
		for _, h := range b.handles {
			hh := h
			errs = append(errs, s.rt.call("memDeRegister", slotMemDeRegister, uintptr(unsafe.Pointer(&hh)), 1))
		}
		b.handles = nil
	}
	for _, c := range s.contexts {
		errs = append(errs, c.Close())
	}
	s.contexts = nil
	for _, b := range s.buffers {
		if b.cAddr != 0 {
			s.rt.rpc.release(b.cAddr)
		}
	}
	s.buffers = nil
	s.pin.Unpin()
	if s.rt != nil {
		errs = append(errs, s.rt.Close())
		s.rt = nil
	}
	return errors.Join(errs...)
}

// embeddingTable is an external embedding in the input tensor's data type.
type embeddingTable struct {
	data     []byte
	rowBytes int
	rows     int
}

func loadEmbedding(file, firstContext string, in TensorInfo) (*embeddingTable, error) {
	ext := map[DataType]string{Float32: ".fp32.emb", Float16: ".fp16.emb", UFixedPoint16: ".uint16.emb", UInt16: ".uint16.emb"}[in.DataType]
	if ext == "" {
		return nil, fmt.Errorf("embedding input %s of type %s is not supported", in.Name, in.DataType)
	}
	if file == "" {
		stem := strings.TrimSuffix(firstContext, ".bin")
		candidates := []string{stem + ext}
		if m := chunkName.FindStringSubmatch(filepath.Base(firstContext)); m != nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(firstContext), m[1]+ext))
		}
		for _, c := range candidates {
			if _, err := os.Stat(c); err == nil {
				file = c
				break
			}
		}
		if file == "" {
			return nil, fmt.Errorf("graph input %s takes embeddings: no embedding table (looked for %s)", in.Name, strings.Join(candidates, ", "))
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load embedding table: %w", err)
	}
	row := 0
	if len(in.Dims) > 0 {
		row = int(in.Dims[len(in.Dims)-1]) * in.DataType.Size()
	}
	if row == 0 {
		return nil, fmt.Errorf("embedding input %s: rows of zero width", in)
	}
	if len(data) == 0 || len(data)%row != 0 {
		return nil, fmt.Errorf("embedding table %s: %d bytes is not a whole number of %d-byte rows (%s)", file, len(data), row, in)
	}
	return &embeddingTable{data: data, rowBytes: row, rows: len(data) / row}, nil
}

var _ model.Session = (*Session)(nil)
