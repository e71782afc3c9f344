-- The workers (`letsdata worker`) that run this store's datasets: each renews its row every
-- few seconds, so `datasets create` can tell whether any is running.
CREATE TABLE workers (
    worker_id    TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    version      TEXT NOT NULL,
    concurrency  BIGINT,
    draining     BOOLEAN NOT NULL DEFAULT FALSE,
    started_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

-- Which worker does a dataset's monitor duty (reaping, summing progress, ending the dataset),
-- until when: one at a time.
CREATE TABLE dataset_monitors (
    dataset_id TEXT PRIMARY KEY REFERENCES task_databases (dataset_id) ON DELETE CASCADE,
    owner      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The checkpoints of one dataset add their counters to one of 16 rows per minute (by task),
-- not all to one row whose lock concurrent checkpoints would take in turn until they commit.
ALTER TABLE task_metrics ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE task_metrics DROP CONSTRAINT task_metrics_pkey;
ALTER TABLE task_metrics ADD PRIMARY KEY (dataset_id, minute, shard);
