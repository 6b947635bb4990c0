-- 5: scheduled starts. orca_create_instance takes the time its ExecutionStarted becomes visible
-- (p_ready: the creation time, or a scheduled start after it). The 10-argument form stays, as a
-- wrapper, for servers of the previous version during a rolling upgrade.

CREATE FUNCTION orca_create_instance(p_id text, p_name text, p_execution_id text, p_input bytea, p_parent bytea,
	p_created bigint, p_owner text, p_lock_expiry bigint, p_started bytea, p_soft boolean, p_ready bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	FOR attempt IN 1..2 LOOP
		SELECT status INTO s FROM instances WHERE instance_id = p_id FOR UPDATE;
		IF FOUND THEN
			IF s NOT IN ('Completed', 'Failed', 'Terminated') THEN
				IF p_soft THEN
					RETURN s;
				END IF;
				PERFORM orca_fail('OR004', 'instance exists', s);
			END IF;
			PERFORM orca_delete_instances(ARRAY[p_id]);
		END IF;
		INSERT INTO instances (instance_id, name, execution_id, status, input, parent, created_at, updated_at,
			history_len, ready_at, lock_owner, lock_expiry)
		VALUES (p_id, p_name, p_execution_id, 'Pending', p_input, p_parent, p_created, p_created,
			0, p_ready, p_owner, p_lock_expiry)
		ON CONFLICT (instance_id) DO NOTHING;
		IF FOUND THEN
			INSERT INTO inbox (instance_id, execution_id, visible_at, data) VALUES (p_id, p_execution_id, p_ready, p_started);
			RETURN NULL;
		END IF;
		-- Created by a concurrent transaction that committed meanwhile: look again.
	END LOOP;
	PERFORM orca_fail('OR004', 'instance exists', 'Pending');
	RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION orca_create_instance(p_id text, p_name text, p_execution_id text, p_input bytea, p_parent bytea,
	p_created bigint, p_owner text, p_lock_expiry bigint, p_started bytea, p_soft boolean) RETURNS text
LANGUAGE sql AS $$
	SELECT orca_create_instance(p_id, p_name, p_execution_id, p_input, p_parent, p_created, p_owner, p_lock_expiry,
		p_started, p_soft, p_created)
$$;
