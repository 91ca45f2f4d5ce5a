package sample

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestGreedyAndBan(t *testing.T) {
	logits := []float32{5, 1, 4, -2}
	for _, tc := range []struct {
		name string
		opts Options
		want int
	}{
		{"greedy", Options{TopP: 1}, 0},
		{"greedy with ban", Options{TopP: 1, Ban: []int{0}}, 2},
		{"tiny nucleus is greedy", Options{Temperature: 1, TopP: 1e-9}, 0},
		{"tiny nucleus after ban", Options{Temperature: 1, TopP: 1e-9, Ban: []int{0, 9, -1}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for range 50 {
				got, err := s.Next(logits)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Fatalf("Next = %d, want %d", got, tc.want)
				}
			}
		})
	}
}

// TestDistribution checks that temperature 1, top-p 1 samples the softmax, and that a
// ban removes a token's share entirely.
func TestDistribution(t *testing.T) {
	logits := []float32{1, 0, 2, -1}
	var sum float64
	want := make([]float64, len(logits))
	for i, l := range logits {
		want[i] = math.Exp(float64(l))
		sum += want[i]
	}
	s, err := New(Options{Temperature: 1, TopP: 1, Seed: 42, Ban: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	sum -= want[3]
	want[3] = 0
	const draws = 20000
	counts := make([]int, len(logits))
	for range draws {
		i, err := s.Next(logits)
		if err != nil {
			t.Fatal(err)
		}
		counts[i]++
	}
	for i, c := range counts {
		p := want[i] / sum
		// 5 standard deviations of a binomial proportion.
		if got, sd := float64(c)/draws, math.Sqrt(p*(1-p)/draws); math.Abs(got-p) > 5*sd+1e-12 {
			t.Errorf("token %d: frequency %.4f, want %.4f ± %.4f", i, got, p, 5*sd)
		}
	}
}

// TestTopPCutsTail checks that tokens outside the nucleus are never drawn.
func TestTopPCutsTail(t *testing.T) {
	// Softmax ≈ [0.665, 0.245, 0.090]: top-p 0.8 keeps tokens 0 and 1 only.
	logits := []float32{2, 1, 0}
	s, err := New(Options{Temperature: 1.5, TopP: 0.8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range 2000 {
		i, err := s.Next(logits)
		if err != nil {
			t.Fatal(err)
		}
		seen[i] = true
	}
	if seen[2] || !seen[0] || !seen[1] {
		t.Errorf("drew tokens %v, want exactly 0 and 1", seen)
	}
}

func TestSeedReproducible(t *testing.T) {
	logits := []float32{0.3, 0.1, 0.2, 0.25, 0}
	draw := func(seed uint64) []int {
		s, err := New(Options{Temperature: 1, TopP: 1, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int, 64)
		for i := range out {
			out[i], _ = s.Next(logits)
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !equal(a, b) {
		t.Error("the same seed gave different tokens")
	}
	if equal(a, c) {
		t.Error("different seeds gave the same 64 tokens")
	}
}

func equal(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"negative temperature", Options{Temperature: -1, TopP: 1}, "temperature"},
		{"NaN temperature", Options{Temperature: math.NaN(), TopP: 1}, "temperature"},
		{"zero top-p", Options{TopP: 0}, "top-p"},
		{"top-p above 1", Options{TopP: 1.5}, "top-p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %s", err, tc.want)
			}
		})
	}
	s, _ := New(Options{Temperature: 1, TopP: 1, Ban: []int{0, 1}})
	if _, err := s.Next([]float32{1, 2}); err == nil || !strings.Contains(err.Error(), "banned") {
		t.Errorf("all banned: error %v", err)
	}
	if _, err := s.Next([]float32{1, 2, float32(math.NaN())}); err == nil || !strings.Contains(err.Error(), "logit 2") {
		t.Errorf("NaN logit: error %v", err)
	}
}

// nucleusBySort is the nucleus of a full stable sort of every probability, the
// definition the sampler's threshold search must reproduce.
func nucleusBySort(logits []float32, topP float64) []int {
	top := math.Inf(-1)
	for _, l := range logits {
		top = max(top, float64(l))
	}
	prob := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		prob[i] = math.Exp(float64(l) - top)
		sum += prob[i]
	}
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
		prob[i] /= sum
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(prob[b], prob[a]) })
	keep, mass := 0, 0.0
	for keep < len(order) && (keep == 0 || mass < topP) && prob[order[keep]] > 0 {
		mass += prob[order[keep]]
		keep++
	}
	return order[:keep]
}

// TestNucleusMatchesFullSort: every token the sampler draws lies in the nucleus a
// full sort gives, for peaked and flat logits and several top-p values.
func TestNucleusMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		n := 1000 + rng.IntN(3000)
		scale := []float64{0.1, 1, 4, 12}[trial%4]
		logits := make([]float32, n)
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * scale)
		}
		topP := []float64{0.1, 0.5, 0.85, 0.99, 1}[trial%5]
		want := map[int]bool{}
		for _, id := range nucleusBySort(logits, topP) {
			want[id] = true
		}
		s, err := New(Options{Temperature: 1, TopP: topP, Seed: uint64(trial)})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			id, err := s.Next(logits)
			if err != nil {
				t.Fatal(err)
			}
			if !want[id] {
				t.Fatalf("trial %d (top-p %v, scale %v): token %d is outside the %d-token nucleus", trial, topP, scale, id, len(want))
			}
		}
	}
}
