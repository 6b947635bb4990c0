#!/usr/bin/env bash
# Builds KEDA for the tests that run its real operator on internal/kubetest's control plane, from
# the Go module proxy, unless it is built already, and prints the directory that holds it:
#
#   $ORCA_TOOLS_CACHE/keda-<v>/   keda (the operator, github.com/kedacore/keda/v2/cmd/operator
#                                 $ORCA_KEDA_VERSION, default v2.20.2: the version in orca's
#                                 go.mod), keda-adapter (its metrics API server, cmd/adapter,
#                                 which serves external.metrics.k8s.io to the HPA) and crds.yaml
#                                 (KEDA's CRDs, config/crd/bases of the same module)
#
# ORCA_TOOLS_CACHE defaults to ~/.cache/orca-tools. Only Go is needed: no release download, no
# container, no root. The first build compiles KEDA with all its scalers' clients (cloud SDKs),
# many minutes on 2 cores; later calls print the directory at once. internal/kubetest looks in
# the same place (or in ORCA_KEDA_BIN), and keeps the same default version.
#
#   export ORCA_KEDA_BIN="$(scripts/tools/keda.sh)"
set -euo pipefail

keda_version=${ORCA_KEDA_VERSION:-v2.20.2}
cache=${ORCA_TOOLS_CACHE:-$HOME/.cache/orca-tools}
go=${GO:-go}

# shellcheck source=gobuild.sh
. "$(dirname "$0")/gobuild.sh"

keda_dir=$cache/keda-$keda_version
# The programs have no --version flag: the directory is renamed into place whole (build), so
# that both are there with their CRDs says it is built.
if ! { [ -x "$keda_dir/keda" ] && [ -x "$keda_dir/keda-adapter" ] && [ -s "$keda_dir/crds.yaml" ]; }; then
  need_go
  keda_mod=$(mod_download "github.com/kedacore/keda/v2@$keda_version" GoMod)
  # KEDA's go.mod pins Kubernetes' libraries and controller-runtime below what it requires with
  # a replace block, which does not apply to a dependency: the wrapper module copies it.
  replaces=$(sed -n '/^replace (/,/^)/p' "$keda_mod")
  if [ -z "$replaces" ]; then
    echo "keda.sh: found no replace block in $keda_mod" >&2
    exit 1
  fi
  ldflags="-X github.com/kedacore/keda/v2/version.Version=${keda_version#v}"
  build keda "$keda_version" "$keda_dir.tmp" "$ldflags" "$(printf '\n%s\n' "$replaces")" \
    "github.com/kedacore/keda/v2@$keda_version" \
    "keda=github.com/kedacore/keda/v2/cmd/operator@$keda_version" \
    "keda-adapter=github.com/kedacore/keda/v2/cmd/adapter@$keda_version"
  keda_src=$(mod_download "github.com/kedacore/keda/v2@$keda_version" Dir)
  for f in "$keda_src"/config/crd/bases/*.yaml; do
    echo "---"
    cat "$f"
  done >"$keda_dir.tmp/crds.yaml"
  rm -rf "$keda_dir"
  mv "$keda_dir.tmp" "$keda_dir"
fi

echo "$keda_dir"
