#!/usr/bin/env bash
# Starts or stops the S3-compatible server the S3 blob tests (internal/blob/s3) run against:
# versitygw v1.8.0, posix backend, with keep-alive, on 127.0.0.1:$ORCA_TEST_S3_PORT (default
# 39601), data in a fresh temporary directory. The binary is built once with `go install` into
# $ORCA_TEST_CACHE/bin (default ~/.cache/orca-test/bin; ~90 s the first time).
#
#   eval "$(scripts/services/s3.sh start)"   # starts it unless it runs; prints the export lines
#   scripts/services/s3.sh env                # prints the export lines of the running server
#   scripts/services/s3.sh stop               # stops it and removes its data
#
# The export lines (also written to $ORCA_TEST_CACHE/s3.env) set ORCA_TEST_S3_ENDPOINT,
# ORCA_TEST_S3_ACCESS_KEY and ORCA_TEST_S3_SECRET_KEY; the tests skip without them (and fail
# with REQUIRE_INTEGRATION=1). The keys are throw-away keys of this local test server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

name=s3
version=v1.8.0
port=${ORCA_TEST_S3_PORT:-39601}
run=$cache/run/s3
bin=$cache/bin/versitygw
endpoint=http://127.0.0.1:$port
access=orcatest
secret=orcatest-secret-key

env_lines() {
  printf 'export ORCA_TEST_S3_ENDPOINT=%s\n' "$endpoint"
  printf 'export ORCA_TEST_S3_ACCESS_KEY=%s\n' "$access"
  printf 'export ORCA_TEST_S3_SECRET_KEY=%s\n' "$secret"
}
installed() { [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$version" ]; }
install() {
  echo "building versitygw $version into $cache/bin (once)" >&2
  mkdir -p "$cache/bin"
  GOBIN="$cache/bin" go install "github.com/versity/versitygw/cmd/versitygw@$version"
  echo "$version" >"$bin.version"
}
launch() {
  ROOT_ACCESS_KEY=$access ROOT_SECRET_KEY=$secret setsid "$bin" --port "127.0.0.1:$port" --keep-alive --quiet \
    --health /health posix "$1" </dev/null >"$run/versitygw.log" 2>&1 &
  echo $! >"$run/versitygw.pid"
}
running() { alive "$run/versitygw.pid"; }
ready() { curl -sf -o /dev/null --max-time 1 "$endpoint/health"; }

service_main "$@"
