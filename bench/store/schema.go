package store

// migrations returns the schema as ordered steps: step i (0-based) takes a store from
// schema version i to i+1. Steps are only ever appended; an edited step would leave
// existing stores with a schema no migration describes.
func migrations() []string {
	return []string{
		// Version 1: runs, append-only samples, per-cell status.
		`
CREATE TABLE runs (
	id              TEXT PRIMARY KEY,
	harness_version TEXT NOT NULL,
	command         TEXT NOT NULL,
	started         TEXT NOT NULL, -- RFC 3339, UTC
	meta            TEXT NOT NULL DEFAULT '{}' -- JSON object of strings
);

CREATE TABLE samples (
	id              INTEGER PRIMARY KEY,
	run_id          TEXT NOT NULL,
	harness_version TEXT NOT NULL,
	model           TEXT NOT NULL,
	model_hash      TEXT NOT NULL,
	precision       TEXT NOT NULL,
	backend         TEXT NOT NULL,
	device          TEXT NOT NULL,
	soc             TEXT NOT NULL,
	htp_arch        TEXT NOT NULL,
	runtime         TEXT NOT NULL,
	perf_profile    TEXT NOT NULL,
	test            TEXT NOT NULL,
	metric          TEXT NOT NULL,
	unit            TEXT NOT NULL,
	value           REAL NOT NULL,
	rep             INTEGER NOT NULL,
	warmup          INTEGER NOT NULL CHECK (warmup IN (0, 1)),
	time            TEXT NOT NULL, -- RFC 3339 with nanoseconds, UTC
	thermal_before  TEXT NOT NULL,
	thermal_after   TEXT NOT NULL,
	simulated       INTEGER NOT NULL CHECK (simulated IN (0, 1)),
	-- The identity of a sample: importing the same JSONL twice must not double it,
	-- and a cell measured twice in one run is a harness bug worth an error.
	UNIQUE (run_id, harness_version, model, model_hash, precision, backend, device, soc,
		htp_arch, runtime, perf_profile, test, metric, rep, warmup)
);

CREATE INDEX samples_by_cell ON samples (run_id, model, precision, soc, test, metric);

-- Results once written are evidence; a report must be reproducible from them.
CREATE TRIGGER samples_no_update BEFORE UPDATE ON samples
BEGIN SELECT RAISE(ABORT, 'samples are append-only: UPDATE refused'); END;
CREATE TRIGGER samples_no_delete BEFORE DELETE ON samples
BEGIN SELECT RAISE(ABORT, 'samples are append-only: DELETE refused'); END;

CREATE TABLE cells (
	run_id       TEXT NOT NULL,
	model        TEXT NOT NULL,
	model_hash   TEXT NOT NULL,
	precision    TEXT NOT NULL,
	backend      TEXT NOT NULL,
	device       TEXT NOT NULL,
	soc          TEXT NOT NULL,
	htp_arch     TEXT NOT NULL,
	runtime      TEXT NOT NULL,
	perf_profile TEXT NOT NULL,
	test         TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
	reason       TEXT NOT NULL,
	updated      TEXT NOT NULL,
	PRIMARY KEY (run_id, model, model_hash, precision, backend, device, soc, htp_arch,
		runtime, perf_profile, test)
);
`,
	}
}
