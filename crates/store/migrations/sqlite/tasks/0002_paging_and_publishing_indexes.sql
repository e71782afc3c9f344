-- The paging index (`tasks list` in manifest order), and the COMPLETED tasks whose final staged
-- parts may not be published yet (a partial index: empty once they are).
CREATE INDEX IF NOT EXISTS tasks_order ON tasks (ordinal, task_id);
CREATE INDEX IF NOT EXISTS tasks_unpublished ON tasks (ordinal)
    WHERE task_status = 'COMPLETED' AND json_extract(checkpoint, '$.stagedParts') IS NOT NULL;
