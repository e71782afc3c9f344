-- The workers (`letsdata worker`) that run this store's datasets: each renews its row every
-- few seconds, so `datasets create` can tell whether any is running.
CREATE TABLE IF NOT EXISTS workers (
    worker_id    TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    concurrency  INTEGER,
    draining     INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
