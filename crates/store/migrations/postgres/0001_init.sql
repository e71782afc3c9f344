-- The PostgreSQL store: every tenant, dataset and task of the installation in one database,
-- shared by every worker and CLI. The SQLite backend keeps one file per dataset's tasks; here
-- they share a table, keyed by dataset.

-- Epoch milliseconds on the database's clock: leases are taken, renewed and found expired on
-- one clock, whichever machine the worker runs on.
CREATE FUNCTION letsdata_now_ms() RETURNS BIGINT LANGUAGE sql STABLE
    AS $$ SELECT (extract(epoch FROM statement_timestamp()) * 1000)::BIGINT $$;

CREATE TABLE tenants (
    tenant_id       TEXT PRIMARY KEY,
    tenant_name     TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    create_datetime BIGINT NOT NULL
);

-- One row per dataset, the record as JSON text (as the CLI prints it); `version` is the
-- optimistic-concurrency check of every update.
CREATE TABLE datasets (
    dataset_id      TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    dataset_name    TEXT NOT NULL,
    dataset_status  TEXT NOT NULL,
    version         BIGINT NOT NULL,
    record          TEXT NOT NULL,
    create_datetime BIGINT NOT NULL,
    UNIQUE (tenant_id, dataset_name)
);
CREATE INDEX datasets_by_status ON datasets (dataset_status);

-- "Create Internal Task Database": a dataset's task database exists once its row does.
CREATE TABLE task_databases (
    dataset_id      TEXT PRIMARY KEY REFERENCES datasets (dataset_id) ON DELETE CASCADE,
    create_datetime BIGINT NOT NULL
);

-- One row per task. lease_token is the fencing token: it increases on every claim, and every
-- write a worker makes is conditional on it, so a worker that lost its lease cannot overwrite
-- its successor.
CREATE TABLE tasks (
    dataset_id        TEXT NOT NULL REFERENCES task_databases (dataset_id) ON DELETE CASCADE,
    task_id           TEXT NOT NULL,
    ordinal           BIGINT NOT NULL,
    task_status       TEXT NOT NULL,
    task_type         TEXT NOT NULL,
    definition        TEXT NOT NULL,
    progress          JSONB NOT NULL,
    checkpoint        JSONB,
    last_error        TEXT,
    execution_logs    JSONB NOT NULL DEFAULT '[]',
    worker_process_id TEXT,
    lease_owner       TEXT,
    lease_token       BIGINT NOT NULL DEFAULT 0,
    lease_expires_at  BIGINT,
    -- Set by `letsdata tasks stop` for a running task; its worker sees it at the next heartbeat.
    stop_requested    BOOLEAN NOT NULL DEFAULT FALSE,
    create_datetime   BIGINT NOT NULL,
    update_datetime   BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, task_id)
);
-- The internal queue: claims take the lowest-ordinal CREATED and RERUN tasks through it.
CREATE INDEX tasks_queue ON tasks (dataset_id, task_status, ordinal);
-- `tasks list` in manifest order.
CREATE INDEX tasks_order ON tasks (dataset_id, ordinal, task_id);
-- COMPLETED tasks whose final staged parts may not be published yet (empty once they are).
CREATE INDEX tasks_unpublished ON tasks (dataset_id, ordinal)
    WHERE task_status = 'COMPLETED' AND checkpoint ? 'stagedParts';

-- Per-minute counters for `letsdata metrics view`: each checkpoint adds what it covered.
CREATE TABLE task_metrics (
    dataset_id        TEXT NOT NULL REFERENCES task_databases (dataset_id) ON DELETE CASCADE,
    minute            BIGINT NOT NULL, -- epoch millis of the minute's start
    records_read      BIGINT NOT NULL DEFAULT 0,
    documents_written BIGINT NOT NULL DEFAULT 0,
    error_records     BIGINT NOT NULL DEFAULT 0,
    skip_records      BIGINT NOT NULL DEFAULT 0,
    bytes_read        BIGINT NOT NULL DEFAULT 0,
    checkpoints       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset_id, minute)
);
