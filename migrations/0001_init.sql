-- 0001_init.sql: the initial state schema: clusters, runs, stage records, rewrite checkpoints,
-- outcome counts, orphans, budget decisions, key lifecycle events (fingerprints only) and audit events.
-- Times are UTC text "YYYY-MM-DDTHH:MM:SS.sssZ" (sortable and readable with the sqlite3 shell).

CREATE TABLE clusters (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One rotation or rewrite.
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,
	cluster_id INTEGER NOT NULL REFERENCES clusters(id),
	kind TEXT NOT NULL CHECK (kind IN ('rotate', 'rewrite', 'rollback', 'verify')),
	plan_hash TEXT,
	provider TEXT,
	old_key TEXT,
	new_key TEXT,
	state TEXT NOT NULL DEFAULT 'running'
		CHECK (state IN ('running', 'stopped', 'done', 'failed', 'aborted')),
	started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	finished_at TEXT,
	exit_code INTEGER
);
CREATE INDEX runs_by_cluster ON runs(cluster_id, id);

-- Every stage is recorded before it acts (intent) and after (done or failed).
CREATE TABLE stages (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	stage TEXT NOT NULL CHECK (length(stage) > 0),
	node TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL CHECK (status IN ('intent', 'done', 'failed')),
	detail TEXT,
	started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	finished_at TEXT,
	UNIQUE (run_id, stage, node)
);

-- Where the rewrite of one resource in one namespace scope ('' = all namespaces) has got to.
CREATE TABLE rewrite_checkpoints (
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	resource TEXT NOT NULL CHECK (length(resource) > 0),
	scope TEXT NOT NULL DEFAULT '',
	continue_token TEXT NOT NULL DEFAULT '',
	last_namespace TEXT NOT NULL DEFAULT '',
	last_name TEXT NOT NULL DEFAULT '',
	done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (run_id, resource, scope)
);

-- Outcome totals per run and resource, saved with the checkpoint in the same transaction.
CREATE TABLE rewrite_counts (
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	resource TEXT NOT NULL,
	rewritten INTEGER NOT NULL DEFAULT 0 CHECK (rewritten >= 0),
	current INTEGER NOT NULL DEFAULT 0 CHECK (current >= 0),
	conflict INTEGER NOT NULL DEFAULT 0 CHECK (conflict >= 0),
	gone INTEGER NOT NULL DEFAULT 0 CHECK (gone >= 0),
	orphan INTEGER NOT NULL DEFAULT 0 CHECK (orphan >= 0),
	failed INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
	PRIMARY KEY (run_id, resource)
);

-- Objects a PUT answered 404 while a GET still returned them: they block pruning the old key.
CREATE TABLE orphans (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	resource TEXT NOT NULL,
	namespace TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL CHECK (length(name) > 0),
	seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (run_id, resource, namespace, name)
);

-- Every latency/error budget decision with the numbers that caused it.
CREATE TABLE budget_decisions (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	decision TEXT NOT NULL CHECK (decision IN ('slowdown', 'recover', 'pause', 'resume', 'abort')),
	p50_ms REAL,
	p99_ms REAL,
	error_ratio REAL,
	rate_before REAL,
	rate_after REAL,
	reason TEXT
);

-- Key lifecycle. Only a fingerprint (16 hex chars of sha256) is kept, never key bytes: the CHECK
-- makes any other value impossible to store.
CREATE TABLE key_events (
	id INTEGER PRIMARY KEY,
	cluster_id INTEGER NOT NULL REFERENCES clusters(id),
	key_name TEXT NOT NULL CHECK (length(key_name) > 0),
	provider TEXT NOT NULL DEFAULT '',
	fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 16 AND fingerprint NOT GLOB '*[^0-9a-f]*'),
	event TEXT NOT NULL CHECK (length(event) > 0),
	backup_path TEXT,
	at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX key_events_by_cluster ON key_events(cluster_id, id);

-- Who did what, when.
CREATE TABLE audit_events (
	id INTEGER PRIMARY KEY,
	at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	user TEXT NOT NULL,
	host TEXT NOT NULL,
	cluster TEXT,
	run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
	action TEXT NOT NULL CHECK (length(action) > 0),
	outcome TEXT NOT NULL,
	detail TEXT
);
