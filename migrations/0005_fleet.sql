-- 0005_fleet.sql: fleet runs (`rekeyctl fleet rotate -f FLEET`): one row per run of a FleetPlan, and
-- one row per cluster of that run linking it to the cluster's own rotation run (runs.id) once that run
-- exists. Clusters stay independent: each rotation keeps its own runs, stages and Lease lock; these
-- tables only say which wave a cluster belongs to and how its rotation ended.

CREATE TABLE fleet_runs (
	id INTEGER PRIMARY KEY,
	fleet TEXT NOT NULL CHECK (length(fleet) > 0),
	plan_hash TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'running'
		CHECK (state IN ('running', 'stopped', 'done', 'failed', 'aborted')),
	started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	finished_at TEXT,
	exit_code INTEGER,
	detail TEXT
);
CREATE INDEX fleet_runs_by_name ON fleet_runs(fleet, id);

CREATE TABLE fleet_clusters (
	fleet_run INTEGER NOT NULL REFERENCES fleet_runs(id) ON DELETE CASCADE,
	cluster TEXT NOT NULL CHECK (length(cluster) > 0),
	plan_path TEXT NOT NULL,
	wave INTEGER NOT NULL CHECK (wave >= 0),
	position INTEGER NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'running', 'done', 'failed', 'stopped')),
	run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
	exit_code INTEGER,
	started_at TEXT,
	finished_at TEXT,
	detail TEXT,
	PRIMARY KEY (fleet_run, cluster)
);
