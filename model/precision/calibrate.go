package precision

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/tokenizer"
)

// CalibrationText is the built-in calibration text: ordinary English prose of the
// kind LAMBADA and wikitext hold (narration, dialogue, numbers, punctuation), written
// for this project. It is short: the ranges it yields are a stand-in for AIMET's
// calibration over wikitext blocks (qualcomm-pipeline.md §5.1), good enough to
// predict the size of the quantization error, not to reproduce device encodings.
const CalibrationText = `The rain had stopped by the time Maria reached the station, but the platform was still wet and the lamps made long yellow streaks on the concrete. She checked the board twice. The train to the coast was late again, twenty-five minutes this time, and the man at the ticket window only shrugged when she asked why.

"It happens every Thursday," he said. "Something about the bridge near Halden. They inspect it, or they say they do."

She bought a coffee from the machine, which took three attempts and two coins it did not return, and sat on the bench under the clock. Across the tracks a family was arguing quietly about a suitcase. The youngest child had fallen asleep on top of it.

In 1887 the railway company built this line to carry timber from the northern forests to the harbour. By 1920 it carried more passengers than freight, and by 1960 almost no timber at all. The old sawmill is a museum now; on weekends it shows how logs were floated down the river, cut into planks and loaded onto flat wagons, each one numbered by hand.

When the train finally arrived, it was nearly empty. Maria chose a seat by the window, opened her notebook and read the last line she had written the night before: "Nobody remembers the name of the first station master, but everybody remembers his dog."

She smiled, crossed it out, and started again.

Questions for the reader: How many minutes late was the train? What did the railway carry in 1887? Why might a writer cross out a sentence she liked? Answers vary; the first is 25, the second is timber, and the third is a matter of taste.
`

// CalibrationTokens returns the calibration text tokenized for a model with the
// given vocabulary size (bytes for 256, the World tokenizer for World models).
func CalibrationTokens(vocab int) ([]int, error) {
	tok, err := tokenizer.ForVocab(vocab)
	if err != nil {
		return nil, fmt.Errorf("calibration text: %w", err)
	}
	return tok.Encode([]byte(CalibrationText)), nil
}

// observer records the range of every activation point it sees.
type observer struct {
	ranges Ranges
	bad    map[model.Point]bool // points that saw NaN
}

func (o *observer) Activation(p model.Point, x []float32) {
	r, ok := o.ranges[p]
	if !ok {
		r = Range{Min: float32(math.Inf(1)), Max: float32(math.Inf(-1))}
	}
	for _, v := range x {
		if v != v {
			o.bad[p] = true
		}
		if v < r.Min {
			r.Min = v
		}
		if v > r.Max {
			r.Max = v
		}
	}
	o.ranges[p] = r
}

// Calibrate runs m over tokens as one sequence from the zero state, observing every
// activation point, and returns the range each one took (min and max, the
// post_training_tf scheme; AIMET's tf_enhanced search for a tighter range is not
// reproduced).
func Calibrate(ctx context.Context, m *model.Model, tokens []int) (Ranges, error) {
	if len(tokens) == 0 {
		return nil, errors.New("calibrate: no calibration tokens")
	}
	obs := &observer{ranges: Ranges{}, bad: map[model.Point]bool{}}
	e, err := model.NewEngine(m, model.Options{Threads: runtime.GOMAXPROCS(0), Hook: obs})
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	defer e.Close()
	// Every position's logits, so that the head's points see every token; in
	// chunks, so that a World-size head needs no more than chunk×vocab floats.
	const chunk = 64
	logits := make([]float32, chunk*e.VocabSize())
	for start := 0; start < len(tokens); start += chunk {
		part := tokens[start:min(start+chunk, len(tokens))]
		if err := e.Forward(ctx, part, logits[:len(part)*e.VocabSize()]); err != nil {
			return nil, fmt.Errorf("calibrate over %d tokens: %w", len(tokens), err)
		}
	}
	for p, r := range obs.ranges {
		if obs.bad[p] || math.IsNaN(float64(r.Min)) || math.IsNaN(float64(r.Max)) || math.IsInf(float64(r.Min), 0) || math.IsInf(float64(r.Max), 0) {
			return nil, fmt.Errorf("calibrate: activation %d/%s took non-finite values [%v, %v]", p.Layer, p.Name, r.Min, r.Max)
		}
	}
	return obs.ranges, nil
}
