#!/usr/bin/env bash
# Starts or stops Azurite, the Azure Storage emulator the Azure blob tests (internal/blob/azblob)
# run against: azurite 3.37.0, blob on 127.0.0.1:$ORCA_TEST_AZURITE_BLOB_PORT (default 39611)
# and queue on 127.0.0.1:$ORCA_TEST_AZURITE_QUEUE_PORT (default 39612), data in a fresh
# temporary directory, no telemetry. It is installed once with npm into
# $ORCA_TEST_CACHE/azurite (default ~/.cache/orca-test/azurite; Node.js and npm are needed).
#
#   eval "$(scripts/services/azurite.sh start)"   # starts it unless it runs; prints the export lines
#   scripts/services/azurite.sh env                # prints the export lines of the running emulator
#   scripts/services/azurite.sh stop               # stops it and removes its data
#
# The export lines (also written to $ORCA_TEST_CACHE/azurite.env) set ORCA_TEST_AZURITE_BLOB and
# ORCA_TEST_AZURITE_QUEUE, the service URLs of Azurite's well-known development account
# devstoreaccount1 (its key is public); the tests skip without them (and fail with
# REQUIRE_INTEGRATION=1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

name=azurite
version=3.37.0
blob_port=${ORCA_TEST_AZURITE_BLOB_PORT:-39611}
queue_port=${ORCA_TEST_AZURITE_QUEUE_PORT:-39612}
dir=$cache/azurite
run=$cache/run/azurite

env_lines() {
  printf 'export ORCA_TEST_AZURITE_BLOB=http://127.0.0.1:%s/devstoreaccount1\n' "$blob_port"
  printf 'export ORCA_TEST_AZURITE_QUEUE=http://127.0.0.1:%s/devstoreaccount1\n' "$queue_port"
}
installed() { [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; }
install() {
  echo "installing azurite $version into $dir (once)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "azurite@$version" >&2)
  echo "$version" >"$dir/version"
}
launch() {
  local common=(--silent --disableTelemetry --skipApiVersionCheck --location "$1")
  setsid "$dir/node_modules/.bin/azurite-blob" "${common[@]}" --blobHost 127.0.0.1 --blobPort "$blob_port" \
    </dev/null >"$run/blob.log" 2>&1 &
  echo $! >"$run/blob.pid"
  setsid "$dir/node_modules/.bin/azurite-queue" "${common[@]}" --queueHost 127.0.0.1 --queuePort "$queue_port" \
    </dev/null >"$run/queue.log" 2>&1 &
  echo $! >"$run/queue.pid"
}
running() { alive "$run/blob.pid" && alive "$run/queue.pid"; }
# ready reports whether both services answer HTTP (any status: an anonymous request is refused).
ready() {
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$blob_port/" &&
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$queue_port/"
}

service_main "$@"
