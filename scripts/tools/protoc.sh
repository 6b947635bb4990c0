#!/usr/bin/env bash
# Generates the Go code of orca's Durable Task protocol (internal/dtgrpc/protos/*.proto) into
# internal/dtgrpc/dtpb; `make proto` runs it. The generated code is committed: run this after
# changing a .proto, and commit what it writes.
#
# protoc comes from Debian (protobuf-compiler, with libprotobuf-dev for the well-known types;
# installed with apt-get when missing). proto3 optional fields need protoc 3.15 or newer; Debian
# 12 ships 3.21. The plugins are installed with `go install` at the versions below, once, into
# $ORCA_TOOLS_CACHE (default ~/.cache/orca-tools), one directory per version:
#   protoc-gen-go       the google.golang.org/protobuf version in go.mod
#   protoc-gen-go-grpc  v1.6.2, built against grpc v1.81; its code needs grpc v1.64 or newer
#                       (SupportPackageIsVersion9), go.mod has v1.81.1
set -euo pipefail
cd "$(dirname "$0")/../.."

# protoc-gen-go must be the runtime version the generated code is compiled with.
protoc_gen_go_version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
protoc_gen_go_grpc_version=v1.6.2
cache=${ORCA_TOOLS_CACHE:-$HOME/.cache/orca-tools}
src=internal/dtgrpc/protos
out=internal/dtgrpc/dtpb
wkt=/usr/include # Debian's libprotobuf-dev puts google/protobuf/*.proto here

apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  echo "protoc.sh: installing $* (apt-get)" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"
}

missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
[ -f "$wkt/google/protobuf/timestamp.proto" ] || missing+=(libprotobuf-dev)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# "libprotoc 3.21.12" -> 3 21
read -r major minor < <(protoc --version | sed -E 's/^[^0-9]*([0-9]+)\.([0-9]+).*/\1 \2/')
if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 15 ]; }; then
  echo "protoc.sh: $(protoc --version) is too old: proto3 optional fields need protoc 3.15 or newer" >&2
  exit 1
fi

# plugin NAME MODULE_PATH VERSION prints the path of the plugin binary, installing it first.
plugin() {
  local dir="$cache/$1@$3"
  if [ ! -x "$dir/$1" ]; then
    echo "protoc.sh: installing $1 $3 into $dir (once)" >&2
    mkdir -p "$dir"
    GOBIN="$dir" GOFLAGS= go install "$2@$3" >&2
  fi
  echo "$dir/$1"
}
gen_go=$(plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$protoc_gen_go_version")
gen_go_grpc=$(plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$protoc_gen_go_grpc_version")

mkdir -p "$out"
rm -f "$out"/*.pb.go
protoc -I "$src" -I "$wkt" \
  --plugin=protoc-gen-go="$gen_go" --go_out="$out" --go_opt=paths=source_relative \
  --plugin=protoc-gen-go-grpc="$gen_go_grpc" --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  "$src"/*.proto
echo "protoc.sh: generated $(ls "$out"/*.pb.go | tr '\n' ' ')(with $(protoc --version), protoc-gen-go $protoc_gen_go_version, protoc-gen-go-grpc $protoc_gen_go_grpc_version)" >&2
