-- A claim in one call (one round trip, so the dataset's claim lock is held for the shortest
-- time): take the dataset's turn, then pick and lease up to p_max runnable tasks, the first
-- CREATED and the first RERUN ones through the `tasks_queue` index, rows another claim has
-- locked skipped, so that at most p_cap tasks are PROCESSING (not counting p_finishing, the
-- claimer's tasks that only record their end). Each statement of the function sees what the
-- claim before it committed. The commit does not wait for its WAL flush: see
-- `PostgresTaskStore::claim_many` for why a lost claim is harmless.
CREATE FUNCTION letsdata_claim(p_dataset TEXT, p_owner TEXT, p_lease_ms BIGINT, p_log JSONB,
                               p_max BIGINT, p_cap BIGINT, p_finishing TEXT[])
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('letsdata.claim.' || p_dataset, 0));
    RETURN QUERY
    WITH created AS (
             SELECT t.task_id AS picked_id, t.ordinal AS picked_ordinal FROM tasks t
             WHERE t.dataset_id = p_dataset AND t.task_status = 'CREATED'
             ORDER BY t.ordinal LIMIT p_max FOR UPDATE SKIP LOCKED),
         rerun AS (
             SELECT t.task_id AS picked_id, t.ordinal AS picked_ordinal FROM tasks t
             WHERE t.dataset_id = p_dataset AND t.task_status = 'RERUN'
             ORDER BY t.ordinal LIMIT p_max FOR UPDATE SKIP LOCKED),
         picked AS (
             SELECT r.picked_id FROM (SELECT * FROM created UNION ALL SELECT * FROM rerun) r
             ORDER BY r.picked_ordinal
             LIMIT GREATEST(0, LEAST(p_max, p_cap - (
                 SELECT COUNT(*) FROM tasks t
                 WHERE t.dataset_id = p_dataset AND t.task_status = 'PROCESSING'
                   AND NOT t.task_id = ANY(p_finishing)))))
    UPDATE tasks SET task_status = 'PROCESSING', lease_owner = p_owner,
        worker_process_id = p_owner, lease_token = tasks.lease_token + 1,
        lease_expires_at = letsdata_now_ms() + p_lease_ms, update_datetime = letsdata_now_ms(),
        execution_logs = tasks.execution_logs || jsonb_build_array(p_log)
    FROM picked
    WHERE tasks.dataset_id = p_dataset AND tasks.task_id = picked.picked_id
    RETURNING tasks.*;
END
$$;
