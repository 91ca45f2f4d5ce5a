package eval

// The reference file format is described in the package documentation (eval.go).

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

const (
	referenceFormat  = "rwkvbench-kld-reference"
	referenceVersion = 1
	// maxReferenceTopK bounds what a reader will allocate for a header's top_k.
	maxReferenceTopK = 1 << 16
)

type referenceHeader struct {
	Format      string `json:"format"`
	Version     int    `json:"version"`
	Task        string `json:"task"`
	Vocab       int    `json:"vocab"`
	TopK        int    `json:"top_k"`
	PrefixToken int    `json:"prefix_token"`
	Tokenizer   string `json:"tokenizer"`
}

type referenceWriter struct {
	header referenceHeader
	gz     *gzip.Writer
	bw     *bufio.Writer
	buf    []byte
}

func newReferenceWriter(w io.Writer, h referenceHeader) (*referenceWriter, error) {
	gz := gzip.NewWriter(w)
	bw := bufio.NewWriter(gz)
	line, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := bw.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("save reference: %w", err)
	}
	return &referenceWriter{header: h, gz: gz, bw: bw}, nil
}

func (w *referenceWriter) beginDoc(index, targets int) error {
	w.buf = append(w.buf[:0], 'D')
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(index))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(targets))
	return w.flushRecord()
}

func (w *referenceWriter) position(target int, targetLogprob float64, top []tokenLogprob, restLog float64) error {
	w.buf = binary.LittleEndian.AppendUint32(w.buf[:0], uint32(target))
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(targetLogprob))
	for _, t := range top {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(t.id))
		w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(t.logprob))
	}
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(restLog))
	return w.flushRecord()
}

func (w *referenceWriter) flushRecord() error {
	if _, err := w.bw.Write(w.buf); err != nil {
		return fmt.Errorf("save reference: %w", err)
	}
	return nil
}

// close writes the end record and finishes the gzip stream; it does not close the
// underlying writer.
func (w *referenceWriter) close(docs int) error {
	w.buf = append(w.buf[:0], 'E')
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(docs))
	if err := w.flushRecord(); err != nil {
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("save reference: %w", err)
	}
	if err := w.gz.Close(); err != nil {
		return fmt.Errorf("save reference: %w", err)
	}
	return nil
}

// referencePosition is one scored position read back. top is reused between reads.
type referencePosition struct {
	target        int
	targetLogprob float64
	top           []tokenLogprob
	restLog       float64
}

type referenceReader struct {
	name      string
	header    referenceHeader
	r         *bufio.Reader
	gz        *gzip.Reader
	docs      int // documents begun
	positions int // positions read, for error messages
	left      int // positions left in the current document
	pos       referencePosition
	buf       []byte
}

func openReference(r io.Reader, name string) (*referenceReader, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reference %s: not a gzip stream: %w", name, err)
	}
	br := bufio.NewReader(gz)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("reference %s: header: %w", name, err)
	}
	var h referenceHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("reference %s: header: %w", name, err)
	}
	if h.Format != referenceFormat {
		return nil, fmt.Errorf("reference %s: format %q, want %q", name, h.Format, referenceFormat)
	}
	if h.Version != referenceVersion {
		return nil, fmt.Errorf("reference %s: format version %d, this build reads %d", name, h.Version, referenceVersion)
	}
	if h.TopK < 1 || h.TopK > maxReferenceTopK || h.Vocab < 1 || h.TopK > h.Vocab {
		return nil, fmt.Errorf("reference %s: top_k %d with vocab %d is not usable", name, h.TopK, h.Vocab)
	}
	return &referenceReader{
		name: name, header: h, r: br, gz: gz,
		pos: referencePosition{top: make([]tokenLogprob, h.TopK)},
		buf: make([]byte, 4+8+12*h.TopK+8),
	}, nil
}

// check refuses a reference that was made under a different protocol.
func (rr *referenceReader) check(h referenceHeader) error {
	mismatch := func(field string, ref, run any) error {
		return fmt.Errorf("reference %s: %s is %v, this run's is %v", rr.name, field, ref, run)
	}
	switch {
	case rr.header.Task != h.Task:
		return mismatch("task", rr.header.Task, h.Task)
	case rr.header.Vocab != h.Vocab:
		return mismatch("vocab", rr.header.Vocab, h.Vocab)
	case rr.header.Tokenizer != h.Tokenizer:
		return mismatch("tokenizer", rr.header.Tokenizer, h.Tokenizer)
	case rr.header.PrefixToken != h.PrefixToken:
		return mismatch("prefix_token", rr.header.PrefixToken, h.PrefixToken)
	}
	return nil
}

func (rr *referenceReader) readFull(n int, what string) ([]byte, error) {
	b := rr.buf[:n]
	if _, err := io.ReadFull(rr.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reference %s: %s after %d documents and %d positions: %w", rr.name, what, rr.docs, rr.positions, err)
	}
	return b, nil
}

func (rr *referenceReader) beginDoc(index, targets int) error {
	if rr.left != 0 {
		return fmt.Errorf("reference %s: document %d has %d more positions than this run scored", rr.name, rr.docs-1, rr.left)
	}
	b, err := rr.readFull(1, "record")
	if err != nil {
		return err
	}
	switch b[0] {
	case 'E':
		return fmt.Errorf("reference %s: ends after %d documents, but this run goes on to doc %d", rr.name, rr.docs, index)
	case 'D':
	default:
		return fmt.Errorf("reference %s: bad record tag 0x%02x after %d documents", rr.name, b[0], rr.docs)
	}
	if b, err = rr.readFull(8, "document record"); err != nil {
		return err
	}
	refIndex := int(binary.LittleEndian.Uint32(b))
	refTargets := int(binary.LittleEndian.Uint32(b[4:]))
	rr.docs++
	if refIndex != index {
		return fmt.Errorf("reference %s: document %d of the file is doc %d, this run's is doc %d (different --start or data?)", rr.name, rr.docs, refIndex, index)
	}
	if refTargets != targets {
		return fmt.Errorf("reference %s: doc %d has %d target tokens there, %d here (different tokenizer or data?)", rr.name, index, refTargets, targets)
	}
	rr.left = refTargets
	return nil
}

// position reads target token j of doc and checks it is the token this run scores.
func (rr *referenceReader) position(doc, j, target int) (referencePosition, error) {
	k := rr.header.TopK
	b, err := rr.readFull(len(rr.buf), "position record")
	if err != nil {
		return referencePosition{}, err
	}
	rr.positions++
	rr.left--
	p := &rr.pos
	p.target = int(binary.LittleEndian.Uint32(b))
	p.targetLogprob = math.Float64frombits(binary.LittleEndian.Uint64(b[4:]))
	b = b[12:]
	for i := range k {
		p.top[i] = tokenLogprob{
			id:      int(binary.LittleEndian.Uint32(b[12*i:])),
			logprob: math.Float64frombits(binary.LittleEndian.Uint64(b[12*i+4:])),
		}
	}
	p.restLog = math.Float64frombits(binary.LittleEndian.Uint64(b[12*k:]))

	where := func() string {
		return fmt.Sprintf("reference %s: doc %d target token %d (position %d in the file)", rr.name, doc, j, rr.positions)
	}
	if p.target != target {
		return referencePosition{}, fmt.Errorf("%s: token id %d there, %d here (different tokenizer or data?)", where(), p.target, target)
	}
	if !validLogprob(p.targetLogprob) || !(validLogprob(p.restLog) || math.IsInf(p.restLog, -1)) {
		return referencePosition{}, fmt.Errorf("%s: log-probability out of range", where())
	}
	for i, t := range p.top {
		if t.id >= rr.header.Vocab || !validLogprob(t.logprob) || (i > 0 && t.logprob > p.top[i-1].logprob) {
			return referencePosition{}, fmt.Errorf("%s: top-%d entry (id %d, %v) is invalid or out of order", where(), i+1, t.id, t.logprob)
		}
	}
	return *p, nil
}

// validLogprob accepts finite values up to a rounding error above zero.
func validLogprob(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v <= 1e-9
}

// finish checks the file ends where the run did.
func (rr *referenceReader) finish(docs int) error {
	if rr.left != 0 {
		return fmt.Errorf("reference %s: last document has %d more positions than this run scored", rr.name, rr.left)
	}
	b, err := rr.readFull(1, "end record")
	if err != nil {
		return err
	}
	if b[0] == 'D' {
		return fmt.Errorf("reference %s: has more documents than this run's %d", rr.name, docs)
	}
	if b[0] != 'E' {
		return fmt.Errorf("reference %s: bad record tag 0x%02x after %d documents", rr.name, b[0], rr.docs)
	}
	if b, err = rr.readFull(4, "end record"); err != nil {
		return err
	}
	if n := int(binary.LittleEndian.Uint32(b)); n != docs {
		return fmt.Errorf("reference %s: end record counts %d documents, this run %d", rr.name, n, docs)
	}
	if _, err := rr.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("reference %s: data after the end record", rr.name)
	}
	return nil
}
