#!/usr/bin/env bash
# test-services.sh start|stop|env — every server the integration tests run against: PostgreSQL
# (scripts/services/postgres.sh), the S3 server versitygw (s3.sh) and Azurite (azurite.sh). Each
# is installed on first use and started unless it runs.
#
#   eval "$(scripts/test-services.sh start)"   # prints the export lines of the servers that started
#   scripts/test-services.sh stop
#
# A server that fails to start is reported on stderr and left out: its tests then skip loudly, or
# fail under REQUIRE_INTEGRATION=1. The exit status is 1 when any failed.
set -uo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/services"
services=(postgres s3 azurite)

case "${1:-}" in
  start | env)
    status=0
    for s in "${services[@]}"; do
      if ! "$dir/$s.sh" "$1"; then
        echo "test-services: $s did not $1; its tests will skip (fail with REQUIRE_INTEGRATION=1)" >&2
        status=1
      fi
    done
    exit $status
    ;;
  stop)
    for s in "${services[@]}"; do "$dir/$s.sh" stop >/dev/null || true; done
    ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
