package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order, each in its own transaction, and recorded in
// schema_migrations. Never edit a released migration: add a new one.
var migrations = []string{
	// 1: the task hub.
	`
CREATE TABLE instances (
	instance_id   TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	execution_id  TEXT NOT NULL,
	status        TEXT NOT NULL,
	input         BLOB,
	output        BLOB,
	custom_status BLOB,
	failure       BLOB,
	parent        BLOB,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	history_len   INTEGER NOT NULL DEFAULT 0,
	ready_at      INTEGER,
	lock_owner    TEXT,
	lock_expiry   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX instances_ready ON instances (ready_at) WHERE ready_at IS NOT NULL;
CREATE INDEX instances_created ON instances (created_at, instance_id);
CREATE INDEX instances_status_created ON instances (status, created_at, instance_id);
CREATE INDEX instances_lock_owner ON instances (lock_owner) WHERE lock_owner IS NOT NULL;

CREATE TABLE history (
	instance_id TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	event_type  TEXT NOT NULL,
	data        BLOB NOT NULL,
	PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;

CREATE TABLE inbox (
	id           INTEGER PRIMARY KEY,
	instance_id  TEXT NOT NULL,
	execution_id TEXT NOT NULL DEFAULT '',
	visible_at   INTEGER NOT NULL,
	data         BLOB NOT NULL
);
CREATE INDEX inbox_instance ON inbox (instance_id, visible_at, id);

CREATE TABLE tasks (
	seq          INTEGER PRIMARY KEY,
	instance_id  TEXT NOT NULL,
	execution_id TEXT NOT NULL,
	task_id      INTEGER NOT NULL,
	name         TEXT NOT NULL,
	input        BLOB,
	attempt      INTEGER NOT NULL DEFAULT 0,
	lock_owner   TEXT,
	lock_expiry  INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX tasks_key ON tasks (instance_id, execution_id, task_id);
CREATE INDEX tasks_ready ON tasks (lock_expiry, seq);
`,
	// 2: the compute plane: blobs, queues, the event outbox.
	`
CREATE TABLE blobs (
	id           INTEGER PRIMARY KEY,
	container    TEXT NOT NULL,
	name         TEXT NOT NULL,
	size         INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	etag         TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	file_path    TEXT,
	data         BLOB
);
CREATE UNIQUE INDEX blobs_name ON blobs (container, name);

CREATE TABLE queue_messages (
	seq               INTEGER PRIMARY KEY,
	queue             TEXT NOT NULL,
	id                TEXT NOT NULL,
	pop_receipt       TEXT,
	body              BLOB NOT NULL,
	inserted_at       INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL DEFAULT 0,
	visible_at        INTEGER NOT NULL,
	dequeue_count     INTEGER NOT NULL DEFAULT 0,
	last_error        TEXT,
	poison_unreported INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX queue_messages_id ON queue_messages (queue, id);
CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);
CREATE INDEX queue_messages_poison ON queue_messages (poison_unreported) WHERE poison_unreported = 1;

CREATE TABLE event_outbox (
	id           INTEGER PRIMARY KEY,
	subscription TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	last_error   TEXT,
	created_at   INTEGER NOT NULL,
	lock_owner   TEXT,
	lock_expiry  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX event_outbox_due ON event_outbox (next_attempt, id);
CREATE INDEX event_outbox_subscription ON event_outbox (subscription);

CREATE TABLE event_dead_letters (
	id           INTEGER PRIMARY KEY,
	subscription TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL,
	reason       TEXT NOT NULL,
	at           INTEGER NOT NULL
);
CREATE INDEX event_dead_letters_subscription ON event_dead_letters (subscription, id);

CREATE TABLE event_seen (
	event_id TEXT PRIMARY KEY,
	until    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX event_seen_until ON event_seen (until);

CREATE TABLE subscriptions (
	name       TEXT PRIMARY KEY,
	spec       BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);
`,
	// 3: leader leases of the singleton roles.
	`
CREATE TABLE leader_leases (
	role   TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	fence  INTEGER NOT NULL,
	expiry INTEGER NOT NULL
) WITHOUT ROWID;
`,
}

func migrate(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this orca (%d)", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if err := applyMigration(ctx, conn, v); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, v int) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, migrations[v-1]); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
