-- Each checkpoint a worker saves adds what it covered (its counters minus the task's stored
-- ones) to its minute's metrics, in the statement that saves it: one statement per checkpoint
-- instead of two. Only the checkpoint and the finish that carries the final checkpoint set
-- `progress` on a PROCESSING task, and only while the task's lease holds (a fenced write that
-- changes no row fires nothing), so a write whose lease is lost adds nothing; a checkpoint
-- written again after an unknown outcome finds its own counters stored and adds none of them
-- twice.
CREATE TRIGGER IF NOT EXISTS tasks_checkpoint_metrics AFTER UPDATE OF progress ON tasks
WHEN old.task_status = 'PROCESSING'
BEGIN
    INSERT INTO metrics (minute, records_read, documents_written, error_records, skip_records, bytes_read, checkpoints)
    VALUES (new.update_datetime - new.update_datetime % 60000,
            MAX(COALESCE(json_extract(new.progress, '$.recordsRead'), 0)
                - COALESCE(json_extract(old.progress, '$.recordsRead'), 0), 0),
            MAX(COALESCE(json_extract(new.progress, '$.documentsWritten'), 0)
                - COALESCE(json_extract(old.progress, '$.documentsWritten'), 0), 0),
            MAX(COALESCE(json_extract(new.progress, '$.errorRecords'), 0)
                - COALESCE(json_extract(old.progress, '$.errorRecords'), 0), 0),
            MAX(COALESCE(json_extract(new.progress, '$.skipRecords'), 0)
                - COALESCE(json_extract(old.progress, '$.skipRecords'), 0), 0),
            MAX(COALESCE(json_extract(new.progress, '$.bytesRead'), 0)
                - COALESCE(json_extract(old.progress, '$.bytesRead'), 0), 0),
            1)
    ON CONFLICT (minute) DO UPDATE SET
        records_read = records_read + excluded.records_read,
        documents_written = documents_written + excluded.documents_written,
        error_records = error_records + excluded.error_records,
        skip_records = skip_records + excluded.skip_records,
        bytes_read = bytes_read + excluded.bytes_read,
        checkpoints = checkpoints + 1;
END;
