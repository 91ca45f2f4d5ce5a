package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"
)

// maxJSONLLine bounds one line of an import; a sample is a few hundred bytes, so a
// longer line is a wrong file, not a big sample.
const maxJSONLLine = 1 << 20

// ExportJSONL writes the samples f selects as JSON Lines, one bench.Sample per line,
// in the order they were recorded.
func (s *Store) ExportJSONL(ctx context.Context, w io.Writer, f Filter) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	err := s.eachSample(ctx, f, func(smp bench.Sample) error {
		if err := enc.Encode(smp); err != nil {
			return s.errorf("export: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return s.errorf("export: %w", err)
	}
	return nil
}

// WriteJSONL writes samples as JSON Lines in the format ExportJSONL writes and
// ImportJSONL and ReadJSONL read.
func WriteJSONL(w io.Writer, samples []bench.Sample) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i, smp := range samples {
		if err := enc.Encode(smp); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// ReadJSONL parses JSON Lines of bench.Sample, as ExportJSONL writes them, without a
// store. Blank lines are skipped; an error names the line.
func ReadJSONL(r io.Reader) ([]bench.Sample, error) {
	var samples []bench.Sample
	err := scanJSONL(r, func(line int, smp bench.Sample) error {
		samples = append(samples, smp)
		return nil
	})
	return samples, err
}

func scanJSONL(r io.Reader, fn func(line int, smp bench.Sample) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxJSONLLine)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var smp bench.Sample
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields() // a misspelt field would silently become a zero
		if err := dec.Decode(&smp); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if dec.More() {
			return fmt.Errorf("line %d: more than one JSON value", line)
		}
		if err := validSample(smp); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if math.IsNaN(smp.Value) || math.IsInf(smp.Value, 0) {
			return fmt.Errorf("line %d: value is not finite", line)
		}
		if err := fn(line, smp); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

// ImportJSONL adds the samples in r, in one transaction, and returns how many were
// new. A sample already stored with the same value and time is skipped, so importing
// a file twice changes nothing; one stored with a different value is an error,
// because two measurements cannot share an identity. A run the store has not seen is
// created with command "import" and the time of its earliest sample.
func (s *Store) ImportJSONL(ctx context.Context, r io.Reader) (int, error) {
	added := 0
	err := s.inTx(ctx, "import", func(tx *sql.Tx) error {
		insert, err := tx.PrepareContext(ctx, `INSERT INTO samples (`+sampleColumns+`) VALUES (`+placeholders(21)+`)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer insert.Close()
		runStarted := map[string]time.Time{}
		runHarness := map[string]string{}
		err = scanJSONL(r, func(line int, smp bench.Sample) error {
			res, err := insert.ExecContext(ctx, sampleArgs(smp)...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				if err := sameAsStored(ctx, tx, smp); err != nil {
					return err
				}
			}
			added += int(n)
			if t, ok := runStarted[smp.RunID]; !ok || smp.Time.Before(t) {
				runStarted[smp.RunID] = smp.Time
				runHarness[smp.RunID] = smp.HarnessVersion
			}
			return nil
		})
		if err != nil {
			return err
		}
		for id, started := range runStarted {
			if _, err := tx.ExecContext(ctx, `INSERT INTO runs (id, harness_version, command, started, meta)
				VALUES (?, ?, 'import', ?, '{}') ON CONFLICT DO NOTHING`, id, runHarness[id], formatTime(started)); err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// sameAsStored checks that smp, whose identity is already stored, is the stored sample.
func sameAsStored(ctx context.Context, tx *sql.Tx, smp bench.Sample) error {
	var value float64
	var when string
	args := []any{smp.HarnessVersion}
	args = append(args, cellArgs(smp.RunID, smp.Cell)...)
	args = append(args, smp.Metric, smp.Rep, boolInt(smp.Warmup))
	err := tx.QueryRowContext(ctx, `SELECT value, time FROM samples WHERE harness_version = ? AND run_id = ? AND `+cellWhere+`
		AND metric = ? AND rep = ? AND warmup = ?`, args...).Scan(&value, &when)
	if errors.Is(err, sql.ErrNoRows) {
		return errors.New("sample conflicts with a stored one but cannot be found")
	}
	if err != nil {
		return err
	}
	if value != smp.Value || when != formatTime(smp.Time) {
		return fmt.Errorf("sample %s %s %s rep %d: stored value %v at %s, import has %v at %s",
			smp.RunID, cellName(smp.Cell), smp.Metric, smp.Rep, value, when, smp.Value, formatTime(smp.Time))
	}
	return nil
}
