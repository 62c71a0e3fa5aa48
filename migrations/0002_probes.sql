-- 0002_probes.sql: objects rekeyctl creates in the cluster to test it (the promotion probe secret
-- kube-system/rekeyctl-probe-*), recorded before they are created and marked deleted once the
-- apiserver confirmed the deletion (or answered 404): a run killed or failing in between leaves a row
-- that the next resume, abort or rollback finds and deletes.

CREATE TABLE probes (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	namespace TEXT NOT NULL CHECK (length(namespace) > 0),
	name TEXT NOT NULL CHECK (length(name) > 0),
	recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	deleted_at TEXT,
	UNIQUE (namespace, name)
);
CREATE INDEX probes_left ON probes(deleted_at, run_id);
