// Package sample picks the next token from a model's logits for text generation.
//
// It follows ChatRWKV's sampler: the nucleus (top-p) is cut from the untempered
// softmax, then temperature reshapes the probabilities that are left. Temperature 0
// is greedy decoding. Sampling is reproducible: the same seed and logits give the same
// tokens. Evaluation never samples; this is only for generate.
package sample

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Options configures a Sampler.
type Options struct {
	// Temperature divides the logits; 0 picks the most likely token every time.
	Temperature float64
	// TopP keeps the smallest set of most likely tokens whose probability reaches it;
	// 1 keeps every token. Must be in (0, 1].
	TopP float64
	// Seed makes the random choices reproducible.
	Seed uint64
	// Ban lists token ids never to produce, such as the World vocabulary's
	// end-of-text id 0.
	Ban []int
}

// Sampler draws tokens. It keeps buffers between calls and is not safe for
// concurrent use.
type Sampler struct {
	opts  Options
	rng   *rand.Rand
	order []int
	prob  []float64
}

// New checks the options and returns a sampler.
func New(opts Options) (*Sampler, error) {
	if opts.Temperature < 0 || math.IsNaN(opts.Temperature) || math.IsInf(opts.Temperature, 0) {
		return nil, fmt.Errorf("sampler: temperature %v must be a finite number ≥ 0", opts.Temperature)
	}
	if !(opts.TopP > 0 && opts.TopP <= 1) {
		return nil, fmt.Errorf("sampler: top-p %v must be in (0, 1]", opts.TopP)
	}
	return &Sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x72776b76))}, nil
}

// Next returns the chosen token id. It returns an error if every token is banned or
// the logits are not finite numbers.
func (s *Sampler) Next(logits []float32) (int, error) {
	n := len(logits)
	s.prob = slices.Grow(s.prob[:0], n)[:n]
	best, top := -1, math.Inf(-1)
	for i, l := range logits {
		v := float64(l)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("sampler: logit %d is %v", i, v)
		}
		s.prob[i] = v
	}
	for _, b := range s.opts.Ban {
		if b >= 0 && b < n {
			s.prob[b] = math.Inf(-1)
		}
	}
	for i, v := range s.prob {
		if v > top {
			best, top = i, v
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("sampler: all %d tokens are banned", n)
	}
	if s.opts.Temperature == 0 {
		return best, nil
	}
	var sum float64
	for i, v := range s.prob {
		p := math.Exp(v - top)
		s.prob[i] = p
		sum += p
	}
	for i := range s.prob {
		s.prob[i] /= sum
	}
	// The nucleus is among the tokens at or above some probability θ whose mass
	// reaches top-p. Find such a θ from the top down, by factors of 16, and sort only
	// those tokens: a few passes over the vocabulary instead of sorting all of it,
	// which took longer than a decode step of a small model.
	pmax := 1 / sum
	theta := pmax
	for {
		theta /= 16
		if theta < 1e-12*pmax {
			theta = 0
		}
		s.order = s.order[:0]
		mass := 0.0
		for i, p := range s.prob {
			if p > 0 && p >= theta {
				s.order = append(s.order, i)
				mass += p
			}
		}
		// The margin keeps rounding from ending the nucleus early: the sorted sum
		// below may differ from this one in the last bits.
		if mass >= s.opts.TopP+1e-9 || theta == 0 {
			break
		}
	}
	slices.SortStableFunc(s.order, func(a, b int) int { return cmp.Compare(s.prob[b], s.prob[a]) })
	// The nucleus: most likely first, until the mass reaches top-p. Banned tokens
	// have probability 0 and never enter it.
	keep, mass := 0, 0.0
	for keep < len(s.order) && (keep == 0 || mass < s.opts.TopP) {
		mass += s.prob[s.order[keep]]
		keep++
	}
	nucleus := s.order[:keep]
	var total float64
	for _, i := range nucleus {
		p := math.Pow(s.prob[i], 1/s.opts.Temperature)
		s.prob[i] = p
		total += p
	}
	if total == 0 || math.IsInf(total, 0) || math.IsNaN(total) {
		return nucleus[0], nil // temperature so low the powers underflow: greedy
	}
	r := s.rng.Float64() * total
	for _, i := range nucleus {
		r -= s.prob[i]
		if r < 0 {
			return i, nil
		}
	}
	return nucleus[len(nucleus)-1], nil
}
