#!/usr/bin/env bash
# Builds a Kubernetes control plane for the tests (internal/kubetest) from the Go module proxy,
# unless it is built already, and prints the directories that hold it, one a line:
#
#   $ORCA_TOOLS_CACHE/kube-<v>/   kube-apiserver, kube-controller-manager, kube-scheduler
#                                 (k8s.io/kubernetes $ORCA_KUBE_VERSION, default v1.37.2)
#   $ORCA_TOOLS_CACHE/etcd-<v>/   etcd (go.etcd.io/etcd/server/v3 $ORCA_ETCD_VERSION, default
#                                 v3.7.3; Kubernetes 1.37 is tested with etcd 3.7)
#   $ORCA_TOOLS_CACHE/kwok-<v>/   kwok (sigs.k8s.io/kwok/cmd/kwok $ORCA_KWOK_VERSION, default
#                                 v0.8.0), which fakes nodes and makes their pods Running, and
#                                 stages.yaml, the stages that kwokctl gives it by default (the
#                                 kwok program alone has none), from the same module
#
# ORCA_TOOLS_CACHE defaults to ~/.cache/orca-tools. Only Go is needed: no release download, no
# container, no root. The first build compiles Kubernetes, many minutes on 2 cores; later calls
# print the directories at once. internal/kubetest looks in the same places (or in ORCA_KUBE_BIN,
# a list of directories like PATH), and keeps the same default versions.
#
#   export ORCA_KUBE_BIN="$(scripts/tools/kube.sh | paste -sd:)"
set -euo pipefail

kube_version=${ORCA_KUBE_VERSION:-v1.37.2}
etcd_version=${ORCA_ETCD_VERSION:-v3.7.3}
kwok_version=${ORCA_KWOK_VERSION:-v0.8.0}
cache=${ORCA_TOOLS_CACHE:-$HOME/.cache/orca-tools}
go=${GO:-go}

# k8s.io/kubernetes v1.x.y publishes its staging modules (k8s.io/api, k8s.io/client-go, ...) as
# v0.x.y.
staging_version=v0.${kube_version#v1.}

# shellcheck source=gobuild.sh
. "$(dirname "$0")/gobuild.sh"

kube_dir=$cache/kube-$kube_version
if ! { built "$kube_dir" kube-apiserver "Kubernetes $kube_version" &&
  built "$kube_dir" kube-controller-manager "Kubernetes $kube_version" &&
  built "$kube_dir" kube-scheduler "Kubernetes $kube_version"; }; then
  need_go
  # Replace each staging module that k8s.io/kubernetes requires (at v0.0.0, with a replace to
  # ./staging/src/k8s.io/... in its own go.mod, which does not apply to a dependency) with its
  # published release of the same minor.
  kube_mod=$(mod_download "k8s.io/kubernetes@$kube_version" GoMod)
  replaces=$(sed -n "s#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) v0.0.0\$#\1 => \1 $staging_version#p" "$kube_mod")
  if [ -z "$replaces" ]; then
    echo "kube.sh: found no staging modules in $kube_mod" >&2
    exit 1
  fi
  minor=${kube_version#v1.}
  minor=${minor%%.*}
  ldflags=""
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldflags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  build kube "$kube_version" "$kube_dir" "$ldflags" "$(printf '\nreplace (\n%s\n)\n' "$replaces")" \
    "k8s.io/kubernetes@$kube_version" \
    "k8s.io/kubernetes/cmd/kube-apiserver@$kube_version" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$kube_version" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$kube_version"
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    built "$kube_dir" "$b" "Kubernetes $kube_version" || {
      echo "kube.sh: $kube_dir/$b does not say it is $kube_version" >&2
      exit 1
    }
  done
fi

etcd_dir=$cache/etcd-$etcd_version
if ! built "$etcd_dir" etcd "etcd Version: ${etcd_version#v}"; then
  build etcd "$etcd_version" "$etcd_dir" "" "" \
    "go.etcd.io/etcd/server/v3@$etcd_version" "etcd=go.etcd.io/etcd/server/v3@$etcd_version"
  built "$etcd_dir" etcd "etcd Version: ${etcd_version#v}" || {
    echo "kube.sh: $etcd_dir/etcd does not say it is $etcd_version" >&2
    exit 1
  }
fi

kwok_dir=$cache/kwok-$kwok_version
if ! { built "$kwok_dir" kwok "$kwok_version" && [ -s "$kwok_dir/stages.yaml" ]; }; then
  build kwok "$kwok_version" "$kwok_dir" "-X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}" "" \
    "sigs.k8s.io/kwok@$kwok_version" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version"
  built "$kwok_dir" kwok "$kwok_version" || {
    echo "kube.sh: $kwok_dir/kwok does not say it is $kwok_version" >&2
    exit 1
  }
  # kwokctl's default stages (pkg/kwokctl/runtime: getDefaultNodeStages with a node lease, and
  # getDefaultPodStages): a node becomes Ready and keeps its lease; a pod bound to it becomes
  # Running, a job's pod Succeeded, and a deleted pod goes.
  kwok_src=$(mod_download "sigs.k8s.io/kwok@$kwok_version" Dir)
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo "---"
    cat "$kwok_src/kustomize/stage/$f.yaml"
  done >"$kwok_dir/stages.yaml.tmp"
  mv "$kwok_dir/stages.yaml.tmp" "$kwok_dir/stages.yaml"
fi

echo "$kube_dir"
echo "$etcd_dir"
echo "$kwok_dir"
