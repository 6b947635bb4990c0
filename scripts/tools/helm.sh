#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v4/cmd/helm, version $ORCA_HELM_VERSION, default v4.3.2) from the Go
# module proxy into $ORCA_TOOLS_CACHE/helm-<version>/helm (default ~/.cache/orca-tools) unless it
# is there, and prints the binary's path. Only Go is needed; no helm release download, no root.
# The chart tests (deploy/helm) call it; the first build downloads and compiles helm's
# dependencies (Kubernetes client libraries), a few minutes on 2 cores; later calls return at once.
#
#   helm="$(scripts/tools/helm.sh)" && "$helm" lint --strict deploy/helm/orca
set -euo pipefail

version=${ORCA_HELM_VERSION:-v4.3.2}
cache=${ORCA_TOOLS_CACHE:-$HOME/.cache/orca-tools}
dir=$cache/helm-$version
bin=$dir/helm
go=${GO:-go}

# built reports whether the binary at $1 is there and says it is $version.
built() { [ -x "$1" ] && [ "$("$1" version --template '{{.Version}}' 2>/dev/null)" = "$version" ]; }

if built "$bin"; then
  echo "$bin"
  exit 0
fi
if ! command -v "$go" >/dev/null; then
  echo "helm.sh: Go is not installed; it builds helm from the module proxy" >&2
  exit 1
fi

echo "building helm $version into $dir (once; it downloads helm's dependencies through the Go module proxy)" >&2
mkdir -p "$cache"
# A fresh directory renamed into place, so an interrupted build leaves nothing half-made behind.
tmp=$(mktemp -d "$cache/.helm-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
# GOFLAGS=-mod=mod: a caller's -mod=vendor or -mod=readonly is about its own module, not helm's.
# CGO_ENABLED=0: helm does not need cgo, and a static binary does not depend on the C library.
# The version goes in as helm's own Makefile puts it (else `helm version` says only v4.3).
GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$tmp" "$go" install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" "helm.sh/helm/v4/cmd/helm@$version" >&2
if ! built "$tmp/helm"; then
  echo "helm.sh: the helm built does not say it is $version" >&2
  exit 1
fi
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "built helm $version in $(($(date +%s) - start)) s" >&2
echo "$bin"
