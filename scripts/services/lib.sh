# Shared by the test service scripts (s3.sh, azurite.sh); sourced, not run. A script defines
# name (its env file's name), installed, install, launch, running, ready and env_lines, then
# calls service_main "$@".

cache=${ORCA_TEST_CACHE:-$HOME/.cache/orca-test}

# alive reports whether the process in pid file $1 runs.
alive() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# stop_pid stops the process in pid file $1 (SIGTERM, then SIGKILL after 5 s) and removes the file.
stop_pid() {
  if alive "$1"; then
    local pid
    pid=$(cat "$1")
    kill "$pid"
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"
    fi
  fi
  rm -f "$1"
}

service_start() {
  if running && ready; then
    env_lines | tee "$cache/$name.env"
    return
  fi
  service_stop >/dev/null
  installed || install
  if ready; then
    echo "$name: something else answers on its port; set the port variables (see $0)" >&2
    exit 1
  fi
  mkdir -p "$run"
  mktemp -d "${TMPDIR:-/tmp}/orca-test-$name.XXXXXX" >"$run/data"
  launch "$(cat "$run/data")"
  for _ in $(seq 600); do # 30 s
    if ready; then
      env_lines | tee "$cache/$name.env"
      return
    fi
    running || break
    sleep 0.05
  done
  echo "$name did not become ready; its logs:" >&2
  cat "$run"/*.log >&2
  service_stop >/dev/null
  exit 1
}

service_stop() {
  for p in "$run"/*.pid; do
    stop_pid "$p"
  done
  if [ -f "$run/data" ]; then
    rm -rf "$(cat "$run/data")"
  fi
  rm -f "$run/data" "$cache/$name.env"
}

service_main() {
  case ${1:-} in
    start) service_start ;;
    stop) service_stop ;;
    env) running && ready && env_lines ;;
    *)
      echo "usage: $0 {start|stop|env}" >&2
      exit 2
      ;;
  esac
}
