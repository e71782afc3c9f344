-- Task logs, where every worker and CLI reads them: one row per invocation's lines, in order.
CREATE TABLE task_logs (
    seq        BIGSERIAL,
    dataset_id TEXT NOT NULL REFERENCES task_databases (dataset_id) ON DELETE CASCADE,
    task_id    TEXT NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (dataset_id, task_id, seq)
);
