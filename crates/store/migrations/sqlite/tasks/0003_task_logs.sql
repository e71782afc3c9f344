-- Task logs kept in the task database (one row per invocation's lines, in order).
CREATE TABLE IF NOT EXISTS task_logs (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS task_logs_by_task ON task_logs (task_id, seq);
