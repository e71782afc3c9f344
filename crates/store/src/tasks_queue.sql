-- The internal task queue ("Create Internal Queues"): workers claim the lowest-ordinal
-- runnable task through this index; expired leases are found through the same index.
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (task_status, ordinal);
