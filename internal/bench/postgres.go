package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// DatabasePrefix begins the name of every database a PostgreSQL run creates.
const DatabasePrefix = "orca_bench_"

// freshDatabase creates an empty database with a random name on the server serverURL names,
// through a connection to serverURL's own database, which is otherwise left alone. It returns
// the new database's name, its URL (serverURL with the database replaced) and a function that
// drops it, with its connections, whatever state the run left it in.
func freshDatabase(ctx context.Context, serverURL string) (name, dbURL string, drop func() error, err error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", "", nil, fmt.Errorf("store URL: %w", redactURLErr(err))
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name = DatabasePrefix + hex.EncodeToString(rnd[:])
	if err := adminExec(ctx, serverURL, "CREATE DATABASE "+name); err != nil {
		return "", "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	drop = func() error {
		// The run's context may be cancelled (an interrupted run): the database goes anyway.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, serverURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return name, u.String(), drop, nil
}

// adminExec runs one statement on a connection of its own to serverURL.
func adminExec(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// redactURLErr drops the URL (and any password in it) from url's parse errors.
func redactURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
