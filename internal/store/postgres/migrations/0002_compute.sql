-- 2: the compute plane: blobs, queues, the event outbox.

CREATE TABLE blobs (
	container    text COLLATE "C" NOT NULL,
	name         text COLLATE "C" NOT NULL,
	size         bigint NOT NULL,
	content_type text NOT NULL,
	etag         text NOT NULL,
	created_at   bigint NOT NULL,
	file_path    text,
	data         bytea,
	PRIMARY KEY (container, name)
);

CREATE TABLE queue_messages (
	seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	queue             text COLLATE "C" NOT NULL,
	id                text COLLATE "C" NOT NULL,
	pop_receipt       text,
	body              bytea NOT NULL,
	inserted_at       bigint NOT NULL,
	expires_at        bigint NOT NULL DEFAULT 0,
	visible_at        bigint NOT NULL,
	dequeue_count     integer NOT NULL DEFAULT 0,
	last_error        text,
	poison_unreported boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX queue_messages_id ON queue_messages (queue, id);
CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);
CREATE INDEX queue_messages_poison ON queue_messages (seq) WHERE poison_unreported;

-- orca_receipt is a fresh pop receipt: 122 random bits in hex.
CREATE FUNCTION orca_receipt() RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT replace(gen_random_uuid()::text, '-', '')
$$;

-- orca_dequeue claims up to p_limit visible messages of p_queue (see store.QueueDequeueParams):
-- expired ones are deleted, ones dequeued more than p_max times are moved to p_poison (kind 'p'),
-- the others are leased until p_until (kind 'm'); claims repeat until p_limit messages are leased
-- or the queue has no more visible ones. Rows locked by a concurrent dequeue are skipped.
CREATE FUNCTION orca_dequeue(p_queue text, p_now bigint, p_until bigint, p_limit integer, p_max integer, p_poison text)
RETURNS TABLE (kind text, seq bigint, queue text, id text, pop_receipt text, body bytea, inserted_at bigint,
	expires_at bigint, visible_at bigint, dequeue_count integer, last_error text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	need integer := p_limit;
	r record;
	claimed integer;
	garbage integer;
	new_id text;
BEGIN
	WHILE need > 0 LOOP
		claimed := 0;
		garbage := 0;
		FOR r IN
			UPDATE queue_messages q SET visible_at = p_until, pop_receipt = orca_receipt(), dequeue_count = q.dequeue_count + 1
			WHERE q.seq IN (SELECT c.seq FROM queue_messages c WHERE c.queue = p_queue AND c.visible_at <= p_now
				ORDER BY c.visible_at, c.seq LIMIT need FOR UPDATE SKIP LOCKED)
			RETURNING q.*
		LOOP
			claimed := claimed + 1;
			IF r.expires_at <> 0 AND r.expires_at <= p_now THEN
				DELETE FROM queue_messages WHERE queue_messages.seq = r.seq;
				garbage := garbage + 1;
			ELSIF p_max > 0 AND r.dequeue_count > p_max THEN
				new_id := r.id;
				IF EXISTS (SELECT 1 FROM queue_messages x WHERE x.queue = p_poison AND x.id = r.id) THEN
					new_id := r.id || '-' || r.seq;
				END IF;
				UPDATE queue_messages SET queue = p_poison, id = new_id, visible_at = p_now, pop_receipt = NULL,
					dequeue_count = r.dequeue_count - 1, poison_unreported = true WHERE queue_messages.seq = r.seq;
				garbage := garbage + 1;
				RETURN QUERY SELECT 'p'::text, r.seq, p_poison, new_id, ''::text, r.body, r.inserted_at, r.expires_at,
					p_now, r.dequeue_count - 1, COALESCE(r.last_error, '');
			ELSE
				RETURN QUERY SELECT 'm'::text, r.seq, r.queue::text, r.id::text, r.pop_receipt, r.body, r.inserted_at,
					r.expires_at, r.visible_at, r.dequeue_count, COALESCE(r.last_error, '');
			END IF;
		END LOOP;
		IF claimed < need OR garbage = 0 THEN
			EXIT;
		END IF;
		need := need - (claimed - garbage);
	END LOOP;
END $$;

CREATE TABLE event_outbox (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscription text NOT NULL,
	event_id     text NOT NULL,
	event        bytea NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	next_attempt bigint NOT NULL,
	expires_at   bigint NOT NULL,
	last_error   text,
	created_at   bigint NOT NULL,
	lock_owner   text,
	lock_expiry  bigint NOT NULL DEFAULT 0
);
CREATE INDEX event_outbox_due ON event_outbox (next_attempt, id);
CREATE INDEX event_outbox_subscription ON event_outbox (subscription);

CREATE TABLE event_dead_letters (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscription text NOT NULL,
	event_id     text NOT NULL,
	event        bytea NOT NULL,
	attempts     integer NOT NULL,
	reason       text NOT NULL,
	at           bigint NOT NULL
);
CREATE INDEX event_dead_letters_subscription ON event_dead_letters (subscription, id);

CREATE TABLE event_seen (
	event_id text PRIMARY KEY,
	until    bigint NOT NULL
);
CREATE INDEX event_seen_until ON event_seen (until);

CREATE TABLE subscriptions (
	name       text COLLATE "C" PRIMARY KEY,
	spec       bytea NOT NULL,
	updated_at bigint NOT NULL
);
