#!/usr/bin/env bash
# postgres.sh start|stop|env|url — the PostgreSQL server the PostgreSQL tests run against.
#
# start: installs PostgreSQL with apt-get if it is missing, creates a throw-away cluster in a
# temporary directory owned by the postgres user (trust auth, listening on 127.0.0.1 only, on an
# uncommon port), waits until it accepts connections, writes its URL to $STATE/postgres.url and
# prints the line that exports it as ORCA_TEST_POSTGRES_URL. A cluster already running is reused.
# stop: stops the cluster and removes its directory. Both are idempotent.
#
#   eval "$(scripts/services/postgres.sh start)"
#
# Environment: ORCA_TEST_PG_PORT (default 55432), ORCA_TEST_SERVICES_DIR (default
# ${TMPDIR:-/tmp}/orca-test-services).
set -euo pipefail

PORT="${ORCA_TEST_PG_PORT:-55432}"
STATE="${ORCA_TEST_SERVICES_DIR:-${TMPDIR:-/tmp}/orca-test-services}"
URL_FILE="$STATE/postgres.url"
ROOT_FILE="$STATE/postgres.root"

log() { echo "test-services: $*" >&2; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

# as_postgres runs a command as the postgres user when we are root (initdb refuses root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install_postgres() {
  if [ -n "$(pg_bindir)" ]; then return; fi
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
    exit 1
  fi
  log "installing PostgreSQL with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >/dev/null
}

running() {
  [ -f "$ROOT_FILE" ] || return 1
  local root bin
  root="$(cat "$ROOT_FILE")"
  bin="$(pg_bindir)"
  [ -n "$bin" ] && [ -d "$root/data" ] && as_postgres "$bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1
}

start() {
  mkdir -p "$STATE"
  if running; then
    log "PostgreSQL already running: $(cat "$URL_FILE")"
    env_line
    return
  fi
  install_postgres
  local bin root
  bin="$(pg_bindir)"
  if [ -f "$ROOT_FILE" ]; then rm -rf "$(cat "$ROOT_FILE")"; fi
  root="$(mktemp -d "${TMPDIR:-/tmp}/orca-pg.XXXXXX")"
  chmod 755 "$root"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$root"; fi
  echo "$root" >"$ROOT_FILE"
  as_postgres "$bin/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1 || {
    cat "$root/initdb.log" >&2
    exit 1
  }
  # Throw-away data: durability matters less than speed, but keep fsync on so the benchmarks
  # measure what production would see. max_connections covers parallel test packages.
  if ! as_postgres "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $root -c max_connections=200" start >/dev/null; then
    cat "$root/server.log" >&2
    exit 1
  fi
  echo "postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable" >"$URL_FILE"
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT ($root)"
  env_line
}

env_line() { printf "export ORCA_TEST_POSTGRES_URL='%s'\n" "$(cat "$URL_FILE")"; }

stop() {
  if [ ! -f "$ROOT_FILE" ]; then
    rm -f "$URL_FILE"
    return
  fi
  local root bin
  root="$(cat "$ROOT_FILE")"
  bin="$(pg_bindir)"
  if [ -n "$bin" ] && [ -d "$root/data" ]; then
    as_postgres "$bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$root"
  rm -f "$ROOT_FILE" "$URL_FILE"
  log "PostgreSQL stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) if running; then env_line; else exit 1; fi ;;
  url) cat "$URL_FILE" ;;
  *)
    echo "usage: $0 start|stop|env|url" >&2
    exit 2
    ;;
esac
