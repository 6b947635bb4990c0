-- 1: the task hub. Times are Unix nanoseconds (bigint, 0 = none): exact to the nanosecond, as
-- the store's contract compares them. Keys that are ordered or ranged are COLLATE "C" (byte order,
-- which for UTF-8 is code point order, the same as SQLite's BINARY). Payloads are bytea: they
-- come back byte for byte as written.

CREATE TABLE instances (
	instance_id   text COLLATE "C" PRIMARY KEY,
	name          text NOT NULL,
	execution_id  text NOT NULL,
	status        text NOT NULL,
	input         bytea,
	output        bytea,
	custom_status bytea,
	failure       bytea,
	parent        bytea,
	created_at    bigint NOT NULL,
	updated_at    bigint NOT NULL,
	history_len   integer NOT NULL DEFAULT 0,
	ready_at      bigint,
	lock_owner    text,
	lock_expiry   bigint NOT NULL DEFAULT 0
);
CREATE INDEX instances_ready ON instances (ready_at) WHERE ready_at IS NOT NULL;
CREATE INDEX instances_created ON instances (created_at, instance_id);
CREATE INDEX instances_status_created ON instances (status, created_at, instance_id);
CREATE INDEX instances_lock_owner ON instances (lock_owner) WHERE lock_owner IS NOT NULL;

CREATE TABLE history (
	instance_id text COLLATE "C" NOT NULL,
	seq         integer NOT NULL,
	event_type  text NOT NULL,
	data        bytea NOT NULL,
	PRIMARY KEY (instance_id, seq)
);

CREATE TABLE inbox (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	instance_id  text COLLATE "C" NOT NULL,
	execution_id text NOT NULL DEFAULT '',
	visible_at   bigint NOT NULL,
	data         bytea NOT NULL
);
CREATE INDEX inbox_instance ON inbox (instance_id, visible_at, id);

CREATE TABLE tasks (
	seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	instance_id  text COLLATE "C" NOT NULL,
	execution_id text NOT NULL,
	task_id      integer NOT NULL,
	name         text NOT NULL,
	input        bytea,
	attempt      integer NOT NULL DEFAULT 0,
	lock_owner   text,
	lock_expiry  bigint NOT NULL DEFAULT 0,
	created_at   bigint NOT NULL
);
CREATE UNIQUE INDEX tasks_key ON tasks (instance_id, execution_id, task_id);
CREATE INDEX tasks_ready ON tasks (lock_expiry, seq);

-- orca_fail raises one of the store's errors. The SQLSTATEs (class OR) are mapped back to the
-- store's sentinel errors by the Go code: OR001 lease lost, OR002 not found, OR003 wrong status,
-- OR004 instance exists, OR005 duplicate event; DETAIL carries the status.
CREATE FUNCTION orca_fail(code text, msg text, detail text DEFAULT '') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = detail;
END $$;

-- orca_fence locks instance p_id for an orchestration step and checks that p_owner holds its
-- lock at history length p_len (else OR001).
CREATE FUNCTION orca_fence(p_id text, p_owner text, p_len integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	o text;
	l integer;
BEGIN
	SELECT lock_owner, history_len INTO o, l FROM instances WHERE instance_id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM orca_fail('OR001', 'instance is gone');
	END IF;
	IF o IS DISTINCT FROM p_owner OR l <> p_len THEN
		PERFORM orca_fail('OR001', format('lock held by %L at history length %s, not by %L at %s',
			COALESCE(o, ''), l, p_owner, p_len));
	END IF;
END $$;

-- orca_status locks instance p_id against steps (FOR KEY SHARE: senders do not block one
-- another) and returns its status; OR002 when it does not exist, OR003 when p_require is not
-- empty and does not hold the status.
CREATE FUNCTION orca_status(p_id text, p_require text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	SELECT status INTO s FROM instances WHERE instance_id = p_id FOR KEY SHARE;
	IF NOT FOUND THEN
		PERFORM orca_fail('OR002', 'no such instance');
	END IF;
	IF cardinality(p_require) > 0 AND NOT s = ANY(p_require) THEN
		PERFORM orca_fail('OR003', 'wrong status', s);
	END IF;
	RETURN s;
END $$;

-- orca_delete_instances deletes instances with everything that belongs to them.
CREATE FUNCTION orca_delete_instances(p_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM history WHERE instance_id = ANY(p_ids);
	DELETE FROM inbox WHERE instance_id = ANY(p_ids);
	DELETE FROM tasks WHERE instance_id = ANY(p_ids);
	DELETE FROM instances WHERE instance_id = ANY(p_ids);
END $$;

-- orca_create_instance creates an instance with its ExecutionStarted message, replacing a
-- finished one. An unfinished one raises OR004 with its status, or, with p_soft, returns the
-- status instead (and creates nothing); NULL means created.
CREATE FUNCTION orca_create_instance(p_id text, p_name text, p_execution_id text, p_input bytea, p_parent bytea,
	p_created bigint, p_owner text, p_lock_expiry bigint, p_started bytea, p_soft boolean) RETURNS text
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
			0, p_created, p_owner, p_lock_expiry)
		ON CONFLICT (instance_id) DO NOTHING;
		IF FOUND THEN
			INSERT INTO inbox (instance_id, execution_id, visible_at, data) VALUES (p_id, p_execution_id, p_created, p_started);
			RETURN NULL;
		END IF;
		-- Created by a concurrent transaction that committed meanwhile: look again.
	END LOOP;
	PERFORM orca_fail('OR004', 'instance exists', 'Pending');
	RETURN NULL;
END $$;
