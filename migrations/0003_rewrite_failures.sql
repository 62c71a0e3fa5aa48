-- 0003_rewrite_failures.sql: the objects whose rewrite failed, by identity (before this only their
-- count was kept), so a resumed run can try them again; a failure that a retry fixes is deleted.

CREATE TABLE rewrite_failures (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	resource TEXT NOT NULL CHECK (length(resource) > 0),
	namespace TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL CHECK (length(name) > 0),
	reason TEXT,
	seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (run_id, resource, namespace, name)
);
