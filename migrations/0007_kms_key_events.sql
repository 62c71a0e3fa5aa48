-- 0007_kms_key_events.sql: key events of kms providers. A kms provider has no local key to fingerprint:
-- its rows carry an empty fingerprint (allowed for provider 'kms' only) and, where known, the KMS key_id
-- (the KMS's name of a KEK, at most 1024 bytes, not key material). SQLite cannot change a CHECK in
-- place, so the table is rebuilt with every row and id kept.

CREATE TABLE key_events_0007 (
	id INTEGER PRIMARY KEY,
	cluster_id INTEGER NOT NULL REFERENCES clusters(id),
	key_name TEXT NOT NULL CHECK (length(key_name) > 0),
	provider TEXT NOT NULL DEFAULT '',
	fingerprint TEXT NOT NULL CHECK ((length(fingerprint) = 16 AND fingerprint NOT GLOB '*[^0-9a-f]*')
	                                 OR (fingerprint = '' AND provider = 'kms')),
	event TEXT NOT NULL CHECK (length(event) > 0),
	backup_path TEXT,
	at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	key_id TEXT CHECK (key_id IS NULL OR (provider = 'kms' AND length(key_id) BETWEEN 1 AND 1024))
);
INSERT INTO key_events_0007(id, cluster_id, key_name, provider, fingerprint, event, backup_path, at)
	SELECT id, cluster_id, key_name, provider, fingerprint, event, backup_path, at FROM key_events;
DROP TABLE key_events;
ALTER TABLE key_events_0007 RENAME TO key_events;
CREATE INDEX key_events_by_cluster ON key_events(cluster_id, id);
