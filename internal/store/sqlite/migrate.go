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
