-- 0004_budget_signal.sql: which budget signal drove each decision (issue 17): client-latency,
-- client-errors, server-p99, 5xx, 429 or inflight (include/rekey/verdict.h); '' for decisions no
-- breach drove (recover, resume) and for the decisions recorded before this migration.

ALTER TABLE budget_decisions ADD COLUMN signal TEXT NOT NULL DEFAULT '';
