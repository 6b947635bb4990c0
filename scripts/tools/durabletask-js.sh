#!/usr/bin/env bash
# Installs @microsoft/durabletask-js (the version internal/dtgrpc/testdata/js/package-lock.json
# pins, 0.4.0) into internal/dtgrpc/testdata/js/node_modules with `npm ci`, for the smoke test
# that drives the real SDK against orca's generated gRPC code (internal/dtgrpc). Needs Node.js
# and npm (scripts/install-test-deps.sh installs them and then runs this). Does nothing when
# node_modules already holds what the lock file says.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../.." && pwd)/internal/dtgrpc/testdata/js"
stamp="$dir/node_modules/.orca-lock.sha256"

want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "durabletask-js.sh: npm is missing (scripts/install-test-deps.sh installs Node.js and npm)" >&2
  exit 1
fi
echo "durabletask-js.sh: installing the Durable Task JS SDK into $dir/node_modules (npm ci)" >&2
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" >"$stamp"
