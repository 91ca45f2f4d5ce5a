// Package store keeps benchmark results in an embedded SQLite database (modernc.org/sqlite,
// pure Go, so cross builds stay CGO-free).
//
// Its opinions: samples are append-only (a trigger refuses UPDATE and DELETE), so a
// published number can always be traced back to the raw values it came from; a cell's
// samples and its "done" mark are committed in one transaction, so a crash or SIGKILL
// leaves either the whole cell or none of it and a resumed run never measures a cell
// twice; and the schema is versioned, so an older binary refuses a store written by a
// newer one instead of misreading it. JSONL export and import let results live in git;
// import is idempotent.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rwkvbench/rwkvbench/bench"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Store is an open results database. It is safe for concurrent use, and several
// processes may write the same file: SQLite's locking serializes their transactions.
type Store struct {
	db   *sql.DB
	path string

	// beforeCommit, when set (by tests only), runs inside RecordCell's transaction
	// just before COMMIT, so a test can kill the process mid-transaction.
	beforeCommit func()
}

// Run describes one invocation of the harness that produced samples.
type Run struct {
	ID             string
	HarnessVersion string
	Command        string
	Started        time.Time
	Meta           map[string]string
}

// CellStatus is the progress of one cell in one run.
type CellStatus string

// The states of a cell. A cell nobody has marked is pending.
const (
	CellPending CellStatus = "pending"
	CellDone    CellStatus = "done"
	CellFailed  CellStatus = "failed"
)

// Filter selects samples. The zero Filter selects every sample, warm-ups included,
// which is what an export wants; statistics must set ExcludeWarmup.
type Filter struct {
	// Runs lists the run IDs to include; empty means every run.
	Runs []string
	// Match maps a field, named as in the JSON of bench.Sample ("precision", "soc",
	// "metric", "simulated", ...), to the value it must equal.
	Match map[string]string
	// ExcludeWarmup drops warm-up samples.
	ExcludeWarmup bool
}

// Open opens the store at path, creating it or migrating its schema as needed. It
// refuses a store whose schema is newer than this binary knows.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// WAL lets readers (report) run while a bench writes. synchronous=FULL makes a
	// committed cell survive power loss, not only a process crash; a cell commit is
	// seconds of measuring apart from the next, so the fsync costs nothing that matters.
	// _txlock=immediate takes the write lock at BEGIN, so two writers queue on the
	// busy timeout instead of deadlocking on a read-to-write lock upgrade.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	// The URL form escapes '?', '#' and '%' in the file name so that nothing in it
	// is read as a query parameter.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return s.errorf("close: %w", err)
	}
	return nil
}

// Path returns the file name the store was opened with.
func (s *Store) Path() string { return s.path }

// errorf prefixes an error with the database path, so every error names its file.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf("store %s: "+format, append([]any{s.path}, args...)...)
}

// SchemaVersion is the schema version this package writes.
func SchemaVersion() int { return len(migrations()) }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.errorf("open: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return s.errorf("create schema_version: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return s.errorf("read schema version: %w", err)
	}
	steps := migrations()
	if version > len(steps) {
		return s.errorf("schema version %d is newer than this rwkvbench understands (%d); use a newer rwkvbench", version, len(steps))
	}
	for v := version; v < len(steps); v++ {
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			return s.errorf("migrate schema to version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			return s.errorf("migrate schema to version %d: %w", v+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.errorf("migrate schema: %w", err)
	}
	return nil
}

// BeginRun records a run. Calling it again with the ID of an existing run (a resume)
// keeps the original record; it is an error only if the harness versions differ,
// because one run's samples must come from one measuring procedure.
func (s *Store) BeginRun(ctx context.Context, r Run) error {
	if r.ID == "" {
		return s.errorf("begin run: empty run ID")
	}
	meta := r.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return s.errorf("begin run %s: meta: %w", r.ID, err)
	}
	started := r.Started
	if started.IsZero() {
		started = time.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.errorf("begin run %s: %w", r.ID, err)
	}
	defer tx.Rollback()
	var existing string
	switch err := tx.QueryRowContext(ctx, `SELECT harness_version FROM runs WHERE id = ?`, r.ID).Scan(&existing); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO runs (id, harness_version, command, started, meta) VALUES (?, ?, ?, ?, ?)`,
			r.ID, r.HarnessVersion, r.Command, formatTime(started), string(metaJSON)); err != nil {
			return s.errorf("begin run %s: %w", r.ID, err)
		}
	case err != nil:
		return s.errorf("begin run %s: %w", r.ID, err)
	case existing != r.HarnessVersion:
		return s.errorf("resume run %s: it was started by harness %s, this is %s", r.ID, existing, r.HarnessVersion)
	}
	if err := tx.Commit(); err != nil {
		return s.errorf("begin run %s: %w", r.ID, err)
	}
	return nil
}

// Runs returns every run, oldest first.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, harness_version, command, started, meta FROM runs ORDER BY started, id`)
	if err != nil {
		return nil, s.errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		var r Run
		var started, meta string
		if err := rows.Scan(&r.ID, &r.HarnessVersion, &r.Command, &started, &meta); err != nil {
			return nil, s.errorf("list runs: %w", err)
		}
		if r.Started, err = time.Parse(time.RFC3339Nano, started); err != nil {
			return nil, s.errorf("run %s: started %q: %w", r.ID, started, err)
		}
		if err := json.Unmarshal([]byte(meta), &r.Meta); err != nil {
			return nil, s.errorf("run %s: meta: %w", r.ID, err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf("list runs: %w", err)
	}
	return runs, nil
}

// Record appends samples in one transaction: all of them are stored or none. A
// sample whose identity (run, cell, metric, rep, warm-up) is already stored is an
// error, since samples are never rewritten.
func (s *Store) Record(ctx context.Context, samples ...bench.Sample) error {
	return s.inTx(ctx, "record", func(tx *sql.Tx) error {
		return insertSamples(ctx, tx, samples)
	})
}

// RecordCell appends a cell's samples and marks the cell done in one transaction,
// so that a crash leaves either the complete cell or nothing of it. Every sample must
// belong to runID and to c.
func (s *Store) RecordCell(ctx context.Context, runID string, c bench.Cell, samples []bench.Sample) error {
	for i, smp := range samples {
		if smp.RunID != runID || smp.Cell != c {
			return s.errorf("record cell %s/%s: sample %d belongs to run %q cell %s", runID, cellName(c), i, smp.RunID, cellName(smp.Cell))
		}
	}
	return s.inTx(ctx, "record cell "+cellName(c), func(tx *sql.Tx) error {
		if err := insertSamples(ctx, tx, samples); err != nil {
			return err
		}
		if err := markCell(ctx, tx, runID, c, CellDone, ""); err != nil {
			return err
		}
		if s.beforeCommit != nil {
			s.beforeCommit()
		}
		return nil
	})
}

// MarkCell sets a cell's status, with the reason for a failure.
func (s *Store) MarkCell(ctx context.Context, runID string, c bench.Cell, status CellStatus, reason string) error {
	switch status {
	case CellPending, CellDone, CellFailed:
	default:
		return s.errorf("mark cell %s: unknown status %q", cellName(c), status)
	}
	return s.inTx(ctx, "mark cell "+cellName(c), func(tx *sql.Tx) error {
		return markCell(ctx, tx, runID, c, status, reason)
	})
}

// CellStatus returns a cell's status and reason; a cell never marked is CellPending.
func (s *Store) CellStatus(ctx context.Context, runID string, c bench.Cell) (CellStatus, string, error) {
	var status, reason string
	err := s.db.QueryRowContext(ctx, `SELECT status, reason FROM cells WHERE run_id = ? AND `+cellWhere, cellArgs(runID, c)...).Scan(&status, &reason)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return CellPending, "", nil
	case err != nil:
		return "", "", s.errorf("cell status %s: %w", cellName(c), err)
	}
	return CellStatus(status), reason, nil
}

// CellState is one marked cell of a run.
type CellState struct {
	bench.Cell
	RunID  string
	Status CellStatus
	Reason string
}

// Cells returns the marked cells of the given runs (every run if none are given), so
// a report can show why a cell has no numbers.
func (s *Store) Cells(ctx context.Context, runIDs ...string) ([]CellState, error) {
	query := `SELECT run_id, model, model_hash, precision, backend, device, soc, htp_arch, runtime, perf_profile, test, status, reason FROM cells`
	var args []any
	if len(runIDs) > 0 {
		query += ` WHERE run_id IN (` + placeholders(len(runIDs)) + `)`
		for _, id := range runIDs {
			args = append(args, id)
		}
	}
	query += ` ORDER BY rowid`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.errorf("list cells: %w", err)
	}
	defer rows.Close()
	var cells []CellState
	for rows.Next() {
		var c CellState
		var status string
		if err := rows.Scan(&c.RunID, &c.Model, &c.ModelHash, &c.Precision, &c.Backend, &c.Device, &c.SoC,
			&c.HTPArch, &c.Runtime, &c.PerfProfile, &c.Test, &status, &c.Reason); err != nil {
			return nil, s.errorf("list cells: %w", err)
		}
		c.Status = CellStatus(status)
		cells = append(cells, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf("list cells: %w", err)
	}
	return cells, nil
}

// Samples returns the samples f selects in the order they were recorded.
func (s *Store) Samples(ctx context.Context, f Filter) ([]bench.Sample, error) {
	var samples []bench.Sample
	err := s.eachSample(ctx, f, func(smp bench.Sample) error {
		samples = append(samples, smp)
		return nil
	})
	return samples, err
}

func (s *Store) eachSample(ctx context.Context, f Filter, fn func(bench.Sample) error) error {
	where, args, err := filterSQL(f)
	if err != nil {
		return s.errorf("select samples: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+sampleColumns+` FROM samples`+where+` ORDER BY id`, args...)
	if err != nil {
		return s.errorf("select samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		smp, err := scanSample(rows)
		if err != nil {
			return s.errorf("select samples: %w", err)
		}
		if err := fn(smp); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.errorf("select samples: %w", err)
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return s.errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return s.errorf("%s: commit: %w", what, err)
	}
	return nil
}

const sampleColumns = `run_id, harness_version, model, model_hash, precision, backend, device, soc, htp_arch,
	runtime, perf_profile, test, metric, unit, value, rep, warmup, time, thermal_before, thermal_after, simulated`

func insertSamples(ctx context.Context, tx *sql.Tx, samples []bench.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO samples (`+sampleColumns+`) VALUES (`+placeholders(21)+`)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i, smp := range samples {
		if err := validSample(smp); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
		if _, err := stmt.ExecContext(ctx, sampleArgs(smp)...); err != nil {
			if strings.Contains(err.Error(), "UNIQUE constraint failed") {
				return fmt.Errorf("sample %d (%s %s %s rep %d) is already recorded; samples are never rewritten",
					i, smp.RunID, cellName(smp.Cell), smp.Metric, smp.Rep)
			}
			return fmt.Errorf("sample %d: %w", i, err)
		}
	}
	return nil
}

// validSample rejects samples that could not be told apart or that carry no value.
func validSample(smp bench.Sample) error {
	switch {
	case smp.RunID == "":
		return errors.New("empty run_id")
	case smp.Metric == "":
		return errors.New("empty metric")
	case smp.Test == "":
		return errors.New("empty test")
	case smp.Time.IsZero():
		return errors.New("zero time")
	}
	return nil
}

func sampleArgs(smp bench.Sample) []any {
	return []any{smp.RunID, smp.HarnessVersion, smp.Model, smp.ModelHash, smp.Precision, smp.Backend, smp.Device,
		smp.SoC, smp.HTPArch, smp.Runtime, smp.PerfProfile, smp.Test, smp.Metric, smp.Unit, smp.Value, smp.Rep,
		boolInt(smp.Warmup), formatTime(smp.Time), smp.ThermalBefore, smp.ThermalAfter, boolInt(smp.Simulated)}
}

func scanSample(rows *sql.Rows) (bench.Sample, error) {
	var smp bench.Sample
	var warmup, simulated int
	var when string
	err := rows.Scan(&smp.RunID, &smp.HarnessVersion, &smp.Model, &smp.ModelHash, &smp.Precision, &smp.Backend,
		&smp.Device, &smp.SoC, &smp.HTPArch, &smp.Runtime, &smp.PerfProfile, &smp.Test, &smp.Metric, &smp.Unit,
		&smp.Value, &smp.Rep, &warmup, &when, &smp.ThermalBefore, &smp.ThermalAfter, &simulated)
	if err != nil {
		return smp, err
	}
	smp.Warmup, smp.Simulated = warmup != 0, simulated != 0
	if smp.Time, err = time.Parse(time.RFC3339Nano, when); err != nil {
		return smp, fmt.Errorf("sample time %q: %w", when, err)
	}
	return smp, nil
}

const cellWhere = `model = ? AND model_hash = ? AND precision = ? AND backend = ? AND device = ? AND soc = ?
	AND htp_arch = ? AND runtime = ? AND perf_profile = ? AND test = ?`

func cellArgs(runID string, c bench.Cell) []any {
	return []any{runID, c.Model, c.ModelHash, c.Precision, c.Backend, c.Device, c.SoC, c.HTPArch, c.Runtime, c.PerfProfile, c.Test}
}

func markCell(ctx context.Context, tx *sql.Tx, runID string, c bench.Cell, status CellStatus, reason string) error {
	if runID == "" {
		return errors.New("empty run ID")
	}
	args := append(cellArgs(runID, c), string(status), reason, formatTime(time.Now()))
	_, err := tx.ExecContext(ctx, `INSERT INTO cells (run_id, model, model_hash, precision, backend, device, soc,
		htp_arch, runtime, perf_profile, test, status, reason, updated) VALUES (`+placeholders(14)+`)
		ON CONFLICT DO UPDATE SET status = excluded.status, reason = excluded.reason, updated = excluded.updated`, args...)
	return err
}

// filterColumns maps the JSON names of bench.Sample fields a Filter may match to
// their columns and how a matched value is converted.
func filterColumns() map[string]string {
	return map[string]string{
		"run_id": "text", "harness_version": "text", "model": "text", "model_hash": "text",
		"precision": "text", "backend": "text", "device": "text", "soc": "text", "htp_arch": "text",
		"runtime": "text", "perf_profile": "text", "test": "text", "metric": "text", "unit": "text",
		"thermal_before": "text", "thermal_after": "text",
		"rep": "int", "warmup": "bool", "simulated": "bool",
	}
}

// FilterFields returns the field names a Filter's Match may use, sorted.
func FilterFields() []string {
	var names []string
	for name := range filterColumns() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func filterSQL(f Filter) (string, []any, error) {
	var conds []string
	var args []any
	if len(f.Runs) > 0 {
		conds = append(conds, `run_id IN (`+placeholders(len(f.Runs))+`)`)
		for _, id := range f.Runs {
			args = append(args, id)
		}
	}
	kinds := filterColumns()
	keys := make([]string, 0, len(f.Match))
	for k := range f.Match {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable query text for a given filter
	for _, field := range keys {
		value := f.Match[field]
		kind, ok := kinds[field]
		if !ok {
			return "", nil, fmt.Errorf("unknown field %q (known: %s)", field, strings.Join(FilterFields(), ", "))
		}
		var arg any = value
		switch kind {
		case "int":
			n, err := strconv.Atoi(value)
			if err != nil {
				return "", nil, fmt.Errorf("field %s: %q is not an integer", field, value)
			}
			arg = n
		case "bool":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return "", nil, fmt.Errorf("field %s: %q is not true or false", field, value)
			}
			arg = boolInt(b)
		}
		conds = append(conds, field+` = ?`) // field is one of the known column names
		args = append(args, arg)
	}
	if f.ExcludeWarmup {
		conds = append(conds, `warmup = 0`)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// storedTime is RFC 3339 in UTC with all nine fractional digits: fixed width, so
// that text order is time order (RFC3339Nano drops trailing zeros, and "01.5Z"
// sorts before "01Z").
const storedTime = "2006-01-02T15:04:05.000000000Z"

// formatTime stores times in UTC with nanoseconds so they sort as text and round-trip.
func formatTime(t time.Time) string { return t.UTC().Format(storedTime) }

func cellName(c bench.Cell) string {
	parts := []string{c.Model, c.Precision, c.Backend, c.Device, c.SoC, c.Test}
	return strings.Join(parts, "/")
}
