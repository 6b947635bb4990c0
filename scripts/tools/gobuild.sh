# Shell functions for the scripts in scripts/tools that build programs from the Go module proxy
# into a cache (kube.sh, keda.sh). Sourced, not run; the caller sets cache (the cache directory)
# and go (the Go command), and `set -euo pipefail`.

# built reports whether $1/$2 runs and its `$2 --version` output contains $3.
# (Not with grep -q in a pipe: under pipefail, the program's SIGPIPE would fail it.)
built() {
  local out
  [ -x "$1/$2" ] && out=$("$1/$2" --version 2>/dev/null) && [[ $out == *"$3"* ]]
}

need_go() {
  if ! command -v "$go" >/dev/null; then
    echo "$(basename "$0"): Go is not installed; it builds its programs from the Go module proxy" >&2
    exit 1
  fi
}

# build NAME VERSION DIR LDFLAGS GOMOD_EXTRA MODULE@VERSION [BIN=]PACKAGE@VERSION... builds the
# main PACKAGEs (each into the program BIN, else the last element of its path) into DIR, from a
# throw-away module that requires MODULE at VERSION (plus GOMOD_EXTRA lines in its go.mod), in a
# fresh directory that is renamed into place, so that an interrupted build leaves nothing
# half-made behind. The wrapper module is needed because these modules cannot be built with
# `go install pkg@version`: their go.mod files hold replace directives.
build() {
  local name=$1 version=$2 dir=$3 ldflags=$4 extra=$5 modver=$6
  shift 6
  need_go
  mkdir -p "$cache"
  local tmp
  tmp=$(mktemp -d "$cache/.$name-$version.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now: a later build has its own.
  trap "rm -rf '$tmp'" EXIT
  mkdir "$tmp/mod" "$tmp/bin"
  printf 'module orca.invalid/build-%s\n\ngo 1.26.0\n\nrequire %s\n%s' "$name" "${modver/@/ }" "$extra" >"$tmp/mod/go.mod"
  echo "building $name $version into $dir (once; it downloads its dependencies through the Go module proxy)" >&2
  local start
  start=$(date +%s)
  # GOFLAGS=-mod=mod: a caller's -mod=vendor or -mod=readonly is about its own module, not this
  # one. GOWORK=off: no go.work of the caller applies. CGO_ENABLED=0: static binaries, as the
  # upstream releases are.
  local arg pkgs=()
  for arg in "$@"; do pkgs+=("${arg#*=}"); done
  (cd "$tmp/mod" && GOFLAGS=-mod=mod GOWORK=off "$go" get "${pkgs[@]}" >&2)
  local pkg bin s
  for arg in "$@"; do
    pkg=${arg#*=}
    pkg=${pkg%@*}
    bin=${pkg##*/}
    [ "$arg" = "${arg#*=}" ] || bin=${arg%%=*}
    s=$(date +%s)
    # The programs share most packages: each build after the first reuses the build cache.
    (cd "$tmp/mod" && GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 "$go" build -trimpath \
      -ldflags "-s -w $ldflags" -o "$tmp/bin/$bin" "$pkg" >&2)
    echo "built $bin in $(($(date +%s) - s)) s" >&2
  done
  rm -rf "$dir"
  mv "$tmp/bin" "$dir"
  rm -rf "$tmp"
  trap - EXIT
  echo "built $name $version in $(($(date +%s) - start)) s" >&2
}

# mod_download MODULE@VERSION FIELD downloads the module through the proxy and prints FIELD of
# `go mod download -json` (GoMod: its go.mod file; Dir: its source directory).
mod_download() {
  GOFLAGS=-mod=mod GOWORK=off "$go" mod download -json "$1" |
    sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\$/\1/p"
}
