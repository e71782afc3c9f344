-- A dataset's task database ("Create Internal Task Database"): one row per task.
-- task_id is unique through the index `tasks_id`, made once the tasks are loaded (Create Tasks
-- appends a million rows far faster without it; task databases of earlier releases have it as
-- the PRIMARY KEY instead).
-- lease_token is the fencing token: it increases on every claim, and every write a worker
-- makes is conditional on it, so a worker that lost its lease cannot overwrite its successor.
CREATE TABLE IF NOT EXISTS tasks (
    task_id           TEXT NOT NULL,
    ordinal           INTEGER NOT NULL,
    task_status       TEXT NOT NULL,
    task_type         TEXT NOT NULL,
    definition        TEXT NOT NULL,
    progress          TEXT NOT NULL,
    checkpoint        TEXT,
    last_error        TEXT,
    execution_logs    TEXT NOT NULL DEFAULT '[]',
    worker_process_id TEXT,
    lease_owner       TEXT,
    lease_token       INTEGER NOT NULL DEFAULT 0,
    lease_expires_at  INTEGER,
    -- Set by `letsdata tasks stop` for a running task; its worker sees it at the next heartbeat.
    stop_requested    INTEGER NOT NULL DEFAULT 0,
    create_datetime   INTEGER NOT NULL,
    update_datetime   INTEGER NOT NULL
);

-- Per-minute counters for `letsdata metrics view`: each checkpoint adds what it covered.
CREATE TABLE IF NOT EXISTS metrics (
    minute            INTEGER PRIMARY KEY, -- epoch millis of the minute's start
    records_read      INTEGER NOT NULL DEFAULT 0,
    documents_written INTEGER NOT NULL DEFAULT 0,
    error_records     INTEGER NOT NULL DEFAULT 0,
    skip_records      INTEGER NOT NULL DEFAULT 0,
    bytes_read        INTEGER NOT NULL DEFAULT 0,
    checkpoints       INTEGER NOT NULL DEFAULT 0
);
