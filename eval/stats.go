package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// logSoftmax writes the float64 log-softmax of logits into lp and the
// probabilities into prob, and returns the argmax (the first index holding the
// maximum, as torch.argmax). A NaN or infinite logit is an error: it means the
// model is broken, and scoring it would hide that.
func logSoftmax(logits []float32, lp, prob []float64) (argmax int, err error) {
	maxLogit := math.Inf(-1)
	for i, x := range logits {
		v := float64(x)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("logit %d is %v", i, v)
		}
		if v > maxLogit {
			maxLogit, argmax = v, i
		}
	}
	var sum float64
	for i, x := range logits {
		e := math.Exp(float64(x) - maxLogit)
		prob[i] = e
		sum += e
	}
	logSum := math.Log(sum)
	for i, x := range logits {
		lp[i] = float64(x) - maxLogit - logSum
		prob[i] /= sum
	}
	return argmax, nil
}

// tokenLogprob is one entry of a top-K list.
type tokenLogprob struct {
	id      int
	logprob float64
}

// topK returns the k largest entries of lp, largest first, ties broken by the lower
// id, reusing buf.
func topK(lp []float64, k int, buf []tokenLogprob) []tokenLogprob {
	top := buf[:0]
	for id, v := range lp {
		if len(top) == k && v <= top[k-1].logprob {
			continue // ties keep the earlier (lower) id
		}
		i := len(top)
		if i < k {
			top = append(top, tokenLogprob{})
		} else {
			i = k - 1
		}
		for i > 0 && top[i-1].logprob < v {
			top[i] = top[i-1]
			i--
		}
		top[i] = tokenLogprob{id, v}
	}
	return top
}

// restLogMass returns the log of the probability mass outside top, summed directly
// rather than as 1 − Σtop, which would cancel to noise when top holds nearly all
// of it. mark is scratch of len(prob), all false on entry and on return.
func restLogMass(prob []float64, top []tokenLogprob, mark []bool) float64 {
	for _, t := range top {
		mark[t.id] = true
	}
	var rest float64
	for id, p := range prob {
		if !mark[id] {
			rest += p
		}
	}
	for _, t := range top {
		mark[t.id] = false
	}
	return math.Log(rest) // −Inf when the top holds everything
}

// kl returns KL(reference ‖ model) over the reference's top-K tokens plus the
// bucket of all others. lp and prob are the model's log-probabilities and
// probabilities.
func kl(ref referencePosition, lp, prob []float64, mark []bool) float64 {
	var d float64
	for _, t := range ref.top {
		d += math.Exp(t.logprob) * (t.logprob - lp[t.id])
	}
	if !math.IsInf(ref.restLog, -1) {
		d += math.Exp(ref.restLog) * (ref.restLog - restLogMass(prob, ref.top, mark))
	}
	// Both bucketed distributions sum to one only up to rounding, which can make a
	// near-zero divergence a hair negative.
	return max(d, 0)
}

// perplexity is exp of minus the mean per-document log-likelihood.
func perplexity(docLogprobs []float64) float64 {
	var sum float64
	for _, l := range docLogprobs {
		sum += l
	}
	return math.Exp(-sum / float64(len(docLogprobs)))
}

// accStderr is the sample standard deviation of the 0/1 correctness over
// sqrt(n), as lm-eval's mean_stderr; zero below two documents, where it is
// undefined.
func accStderr(correct, n int) float64 {
	if n < 2 {
		return 0
	}
	p := float64(correct) / float64(n)
	return math.Sqrt(p * (1 - p) * float64(n) / float64(n-1) / float64(n))
}

// bootstrapPPLStderr estimates the standard error of the perplexity by resampling
// documents with replacement: the sample standard deviation of the perplexity over
// the resamples. The seed is fixed so a result reproduces exactly.
func bootstrapPPLStderr(docLogprobs []float64, resamples int, seed uint64) float64 {
	n := len(docLogprobs)
	if n < 2 || resamples < 2 {
		return 0
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var mean, m2 float64 // Welford
	for r := range resamples {
		var sum float64
		for range n {
			sum += docLogprobs[rng.IntN(n)]
		}
		ppl := math.Exp(-sum / float64(n))
		delta := ppl - mean
		mean += delta / float64(r+1)
		m2 += delta * (ppl - mean)
	}
	return math.Sqrt(m2 / float64(resamples-1))
}

// kldStats accumulates per-position divergences: streaming mean, max and
// agreement, plus the values themselves (one float64 per position) for quantiles.
type kldStats struct {
	sum, max float64
	agree    int
	values   []float64
}

func (k *kldStats) add(d float64, agree bool) {
	k.sum += d
	k.max = max(k.max, d)
	if agree {
		k.agree++
	}
	k.values = append(k.values, d)
}

func (k *kldStats) summary() *KLD {
	n := len(k.values)
	if n == 0 {
		return &KLD{}
	}
	sorted := slices.Clone(k.values)
	slices.Sort(sorted)
	return &KLD{
		Mean: k.sum / float64(n), Max: k.max,
		Median: quantile(sorted, 0.5), P99: quantile(sorted, 0.99),
		Top1Agreement: float64(k.agree) / float64(n),
		Positions:     n,
	}
}

// quantile interpolates linearly between the order statistics of sorted (the
// definition numpy and R call type 7).
func quantile(sorted []float64, q float64) float64 {
	h := q * float64(len(sorted)-1)
	lo := int(h)
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// textHash identifies a passage in sample logs without repeating it.
func textHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:8])
}
