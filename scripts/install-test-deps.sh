#!/usr/bin/env bash
# Installs what the tests need beyond Go on a Debian machine, and only what is missing: a C
# compiler (the race detector needs cgo), Python (the end-to-end tests run a Python algorithm)
# Chromium (the dashboard's browser tests, internal/dashboard), curl (the test servers' readiness
# checks), Node.js with npm (Azurite, the Azure Storage emulator; scripts/services/azurite.sh),
# the CA bundle (the container image's test, internal/image) and helm (the chart's tests,
# deploy/helm; built with Go by scripts/tools/helm.sh, no root needed). Then the Durable Task JS
# SDK, which internal/dtgrpc's tests drive, with npm (scripts/tools/durabletask-js.sh). Last the
# Kubernetes control plane that internal/kubetest starts (scripts/tools/kube.sh; built with Go),
# and KEDA's operator and metrics API server that it runs on it (scripts/tools/keda.sh; the same).
# PostgreSQL is installed by scripts/services/postgres.sh on first use. .ci/run calls this; run it
# once on a development machine too (as root, or with sudo available).
set -euo pipefail

missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v python3 >/dev/null || missing+=(python3)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
command -v npm >/dev/null || missing+=(nodejs npm)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  echo "installing test dependencies: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

"$(dirname "$0")/tools/durabletask-js.sh"
# helm, for the chart's tests (deploy/helm): built from the Go module proxy into
# ~/.cache/orca-tools once (a few minutes), then reused.
"$(dirname "$0")/tools/helm.sh" >/dev/null
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, for internal/kubetest:
# built from the Go module proxy into ~/.cache/orca-tools once (the longest build here), then
# reused.
"$(dirname "$0")/tools/kube.sh" >/dev/null
# KEDA's operator and metrics API server, for kubetest's StartKEDA: built the same way, once
# (about 13 minutes on 2 busy cores), then reused.
"$(dirname "$0")/tools/keda.sh" >/dev/null
