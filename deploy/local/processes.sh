# Sourced by the quick start and the binary-level tests: runs the emulator
# and the gateway in the background in a private work directory, and stops
# them all on exit.
#
#   source deploy/local/processes.sh
#   dcr_start emulator "$emulator_binary" --listen=127.0.0.1:0   # sets $emulator_port
#   dcr_start gateway "$gateway_binary" --listen=127.0.0.1:0 ... # sets $gateway_port
#   ... "$dcr_work/gateway.log" ...
#
# `dcr_start NAME BINARY ARGS...` adds --port_file, logs to $dcr_work/NAME.log,
# waits (10 s at most) until the port is known, records the pid in NAME_pid and
# the port in NAME_port. Environment for the process: prefix the call.

dcr_work=$(mktemp -d)
dcr_pids=()

dcr_stop_all() {
  local pid
  for pid in "${dcr_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dcr_work"
}
trap dcr_stop_all EXIT

dcr_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

dcr_start() {
  local name=$1 binary=$2
  shift 2
  local port_file="$dcr_work/$name.port"
  "$binary" "$@" --port_file="$port_file" >"$dcr_work/$name.log" 2>&1 &
  local pid=$!
  dcr_pids+=("$pid")
  printf -v "${name}_pid" '%s' "$pid"
  for _ in $(seq 1 100); do
    if [[ -s "$port_file" ]]; then
      printf -v "${name}_port" '%s' "$(cat "$port_file")"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  dcr_fail "$name did not start; its log:
$(cat "$dcr_work/$name.log")"
}
