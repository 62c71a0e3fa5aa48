-- 0006_kms.sql: the key_id a KEK rotation (plan kms.kek: true) waits for and then verifies every stored
-- value against, recorded once per run before any apiserver is asked about it, so a resumed run checks
-- the same key_id even when the KMS rotated again meanwhile. A key_id is the KMS's name of a KEK, not
-- key material.

CREATE TABLE kms_targets (
	run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
	provider TEXT NOT NULL CHECK (length(provider) > 0),
	key_id TEXT NOT NULL CHECK (length(key_id) BETWEEN 1 AND 1024),
	source TEXT NOT NULL CHECK (source IN ('plan', 'plugin-status')),
	recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
