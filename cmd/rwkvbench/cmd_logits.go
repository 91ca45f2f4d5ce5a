package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/model"
)

func runLogits(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "logits", "", "Run a model on the CPU reference engine from a zero state over a token sequence and print\n"+
		"its logits as JSON: {\"version\": \"7\", \"n_vocab\": 300, \"logits\": [[...], ...]}, one row for\n"+
		"the last position, or one row per input position with --all-positions. With --weights f16\n"+
		"or int8 the engine stores the projection weights so (a speed mode, not the f32 reference)\n"+
		"and says so on stderr; the JSON stays the same.")
	path := fs.String("model", "", "checkpoint `file`: PyTorch .pth, safetensors or rwkv.cpp .bin (required)")
	tokenList := fs.String("tokens", "", "comma-separated token `ids`, e.g. 5,17,3 (required)")
	allPositions := fs.Bool("all-positions", false, "print the logits after every input position, not only the last")
	format := fs.String("format", "json", "output `format`; json is the only one")
	gnEps := fs.Float32("gn-eps", 0, "override the ln_x group-norm `epsilon` (0 keeps the model's: 64e-5, or the file's)")
	threads := fs.Int("threads", runtime.NumCPU(), "`goroutines` for the matrix products")
	weights := weightsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *path == "" {
		return errors.New("--model is required")
	}
	if *format != "json" {
		return fmt.Errorf("--format %q: only json is supported", *format)
	}
	tokens, err := parseTokens(*tokenList)
	if err != nil {
		return err
	}
	if *gnEps < 0 {
		return fmt.Errorf("--gn-eps %v: must be positive (or 0 for the model's own)", *gnEps)
	}
	storage, err := parseWeights(*weights)
	if err != nil {
		return err
	}
	m, err := model.Load(*path)
	if err != nil {
		return err
	}
	defer m.Close()
	eng, err := model.NewEngine(m, model.Options{Threads: *threads, GroupNormEps: *gnEps, WeightStorage: string(storage)})
	if err != nil {
		return err
	}
	defer eng.Close()
	v := eng.VocabSize()
	rows := 1
	if *allPositions {
		rows = len(tokens)
	}
	logits := make([]float32, rows*v)
	if err := eng.Forward(ctx, tokens, logits); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if note := weightsNote(storage); note != "" {
		fmt.Fprintf(e.stderr, "logits: RWKV %s, %s weights %s\n", m.Config.Version, m.Config.DType, note)
	}
	return writeLogitsJSON(e, string(m.Config.Version), v, logits)
}

// parseTokens reads "5,17,3" (spaces allowed around ids).
func parseTokens(list string) ([]int, error) {
	if strings.TrimSpace(list) == "" {
		return nil, errors.New("--tokens is required: comma-separated token ids, e.g. 5,17,3")
	}
	parts := strings.Split(list, ",")
	tokens := make([]int, len(parts))
	for i, p := range parts {
		t, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("--tokens: entry %d %q is not an integer token id", i+1, p)
		}
		tokens[i] = t
	}
	return tokens, nil
}

// writeLogitsJSON prints the logits with the shortest decimal form that reads back as
// the same float32, so a consumer sees exactly what the engine computed.
func writeLogitsJSON(e *env, version string, vocab int, logits []float32) error {
	for i, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("logit %d of position %d is %v, which JSON cannot hold", i%vocab, i/vocab, x)
		}
	}
	w := bufio.NewWriter(e.stdout)
	fmt.Fprintf(w, `{"version": %q, "n_vocab": %d, "logits": [`, version, vocab)
	buf := make([]byte, 0, 32)
	for r := 0; r < len(logits)/vocab; r++ {
		if r > 0 {
			w.WriteString(", ")
		}
		w.WriteByte('[')
		for i, x := range logits[r*vocab : (r+1)*vocab] {
			if i > 0 {
				w.WriteString(", ")
			}
			w.Write(strconv.AppendFloat(buf[:0], float64(x), 'g', -1, 32))
		}
		w.WriteByte(']')
	}
	w.WriteString("]}\n")
	return w.Flush()
}
