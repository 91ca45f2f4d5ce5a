// Package model loads RWKV checkpoints and runs them on the host CPU.
//
// The engine here is the project's reference: it computes what the official RWKV
// runtime computes (ChatRWKV, strategy "cpu fp32") for v5.2, v6 and v7, in float32.
// Device results are checked against it, evaluation runs on it, and the precision
// simulations (fp16 rounding, fake-quantized int8/int4) are built on it through the
// ActivationHook and weight transforms, never by forking the model code.
//
// Checkpoints are read by the subpackages pth, safetensors and rwkvcpp into a
// tensor.Set in the official key layout; this package detects the version and shapes
// from that set and refuses variants it does not implement, naming the key that
// identified them.
//
// Engine is the CPU implementation of Session: float32 throughout, no rescaling, ln0
// folded into the embedding at load in float32. One token runs as matrix-vector
// products; a longer input runs in sequence mode, where every projection is a
// matrix-matrix product over a chunk of tokens and only the WKV recurrence steps token
// by token. The matrix kernels live in package kernel, so faster ones can replace them
// without changing this package.
//
// # Hook points
//
// An ActivationHook sees the input and the output of every matrix product, named after
// the weight's key without "blocks.{i}." and ".weight", plus ".in" or ".out", with
// Point.Layer the block index (-1 outside the blocks). In sequence mode one call
// carries the rows of every token in the chunk (T×width, row-major, T ≤ 128); a
// RowwiseHook may get them in parts, from the engine's threads at once. The points are:
//
//	all versions   att.receptance, att.key, att.value, att.output,
//	               ffn.key, ffn.value (its input is relu²(ffn.key.out)), head (layer -1)
//	v5.2, v6       att.gate, ffn.receptance
//	v6             att.time_maa_w1 (in: the token-shift mix xxx; out: 5·Dm wide),
//	               att.time_maa_w2 (in: tanh of the above, 5·Dm; out: the five C-wide
//	               mixes w, k, v, r, g side by side, 5·C wide), att.time_decay_w1,
//	               att.time_decay_w2 (in: tanh of w1's output)
//	v7             att.w1, att.w2 (in: tanh(w1.out)), att.a1, att.a2,
//	               att.v1, att.v2 (layers ≥ 1 only), att.g1, att.g2 (in: σ(g1.out))
//
// and, without the .in/.out pair, ln1.out and ln2.out: each block's normalized inputs
// to the time mix and the channel mix, which also become the token-shift states
// (state{3l}, state{3l+2} in the exported graphs); a rewrite there is what the state
// keeps.
//
// LoRA and mixing factors are stored (in, out) in checkpoints and run transposed, but
// the hook sees the same activations either way. Where one activation feeds two
// products (v7's xv feeds att.value and att.v1), a rewrite at the first point is what
// the second sees, as on a device that quantizes the shared tensor once. With a nil
// hook the engine makes no calls at all.
package model

import (
	"context"

	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// Version is an RWKV architecture version as ChatRWKV names it.
type Version string

// Supported architecture versions.
const (
	V5_2 Version = "5.2"
	V6   Version = "6"
	V7   Version = "7"
)

// OfficialGroupNormEps is the ln_x epsilon of every official v5.2/v6/v7 checkpoint:
// training divided by head_size_divisor 8 before GroupNorm(eps=1e-5).
const OfficialGroupNormEps = 64e-5

// Config describes a model's architecture, read from tensor shapes.
type Config struct {
	Version  Version
	Layers   int // L
	Embd     int // C
	Heads    int // H
	HeadSize int // N = C/H
	FFN      int // F, the channel-mix hidden size
	Vocab    int // V

	// LoRA ranks, zero where the version has none.
	MixLoRA   int // v6 time_maa_w1 rank per mix (Dm)
	DecayLoRA int // v6 time_decay_w1 rank (Dd), v7 w1 rank (Dw)
	AlphaLoRA int // v7 a1 rank (Da)
	ValueLoRA int // v7 v1 rank (Dv)
	GateLoRA  int // v7 g1 rank (Dg)

	// GroupNormEps is the ln_x epsilon: OfficialGroupNormEps unless the file says
	// otherwise (rwkv.cpp's v5 files were produced with 1e-5).
	GroupNormEps float32

	// DType is the storage type of the bulk of the weights in the file.
	DType tensor.DType
	// Params counts every parameter the engine uses.
	Params int64
}

// Session runs a model one sequence at a time from a recurrent state. The CPU engine
// and the QNN session implement it, so bench and eval run unchanged on either.
type Session interface {
	// VocabSize is the number of logits per position.
	VocabSize() int
	// Forward feeds tokens in order, starting from the current state, and leaves the
	// state after the last one. logits may be empty (no output wanted), VocabSize long
	// (the last position's logits) or len(tokens)*VocabSize long (every position, row
	// by row). Any other length is an error.
	Forward(ctx context.Context, tokens []int, logits []float32) error
	// Reset returns the state to zero, as for a new document.
	Reset()
	// Close releases the session's resources.
	Close() error
}

// Point names a place in the forward pass where activations can be observed or
// rewritten. Names follow the tensor names of the exported graphs (see
// docs/architecture.md), so calibration ranges and fake quantization line up with
// what the device runs.
type Point struct {
	Layer int    // -1 for points outside the blocks (embedding, head)
	Name  string // for example "att.r", "ffn.key.in", "head.in"
}

// ActivationHook observes or rewrites activations. The engine calls it with every row
// it computes at a point (a T×width matrix in sequence mode, one row per token), and
// the hook may change the values in place. Calibration observes ranges; simulated
// precisions round or fake-quantize.
type ActivationHook interface {
	Activation(p Point, x []float32)
}

// RowwiseHook is an ActivationHook that treats every value (or row) on its own, so
// that calling it on the parts of a block, from several goroutines at once, equals
// calling it on the whole block. The engine then splits large blocks over its
// threads. Rounding and fake quantization with fixed encodings are row-wise;
// calibration, which accumulates ranges, is not.
type RowwiseHook interface {
	ActivationHook
	// Rowwise marks the hook; it is never called.
	Rowwise()
}
