# Sourced by the Tests/cli/*.sh scripts that run several nbt processes over 127.0.0.1 (run by scripts/test
# with NBT=path to the nbt binary): a temporary folder, background processes that are time-bounded and
# killed by PID when the script ends, and helpers to read what nbt prints.
set -euo pipefail
NBT=${NBT:?set NBT to the nbt binary}
# No test may reach the public DHT routers: nbt's DHT then runs only with explicit --dht-bootstrap nodes.
export NBT_NO_PUBLIC_DHT=1
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# A pipeline's `grep -q` under pipefail fails the whole pipeline at random: grep exits at its first match and
# the program still writing into the pipe dies of SIGPIPE (curl of a web page did, on CI). `matches` takes
# grep's arguments and reads all of its input.
matches() { grep "$@" >/dev/null; }
fail() {
  echo "FAIL: $(basename "$0"): $*" >&2
  exit 1
}

# make_payload NAME MIB: MIB MiB of random bytes in $work/src/NAME and a v1 torrent of it, 64 KiB pieces,
# in $work/NAME.torrent.
make_payload() {
  mkdir -p "$work/src"
  head -c $(($2 * 1048576)) /dev/urandom >"$work/src/$1"
  "$NBT" create "$work/src/$1" --v1 --piece-size 64K --no-date -o "$work/$1.torrent" >/dev/null
}

# start_bg LOG SECONDS ARGS...: runs `nbt ARGS...` in the background for at most SECONDS (then SIGTERM, and
# SIGKILL 5 s later), stdout to LOG.out and stderr to LOG.err; its PID is in $last_pid.
start_bg() {
  local log=$1 seconds=$2
  shift 2
  timeout -k 5 "$seconds" "$NBT" "$@" >"$log.out" 2>"$log.err" &
  last_pid=$!
  pids+=("$last_pid")
}

# listen_port LOG: waits (up to 30 s) for the `... listening on HOST:PORT` line of LOG.out; prints PORT.
listen_port() {
  local port=""
  for _ in $(seq 1 300); do
    port=""
    [ -e "$1.out" ] && port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$1.out" | head -1)
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    sleep 0.1
  done
  fail "no 'listening on' line in $1.out: $(cat "$1.out" "$1.err")"
}

# wait_for PATTERN FILE SECONDS: waits until FILE has a line matching the extended regex PATTERN.
wait_for() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    grep -qE "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no line matching '$1' in $2 within $3 s: $(cat "$2")"
}

# finish PID: waits for background process PID (in this shell: `wait` in a $(...) subshell cannot) and
# sets $status to its exit status.
finish() {
  status=0
  wait "$1" || status=$?
}


# to_bytes "6.0 MiB": the byte count of a size as nbt prints it (B, KiB, MiB, GiB).
to_bytes() {
  echo "$1" | awk '{ s = $1; u = $2;
    if (u == "KiB") s *= 1024; else if (u == "MiB") s *= 1048576; else if (u == "GiB") s *= 1073741824;
    printf "%d\n", s }'
}

# stopped_field LOG WORD: the size after WORD (downloaded, uploaded) on the `stopped:` line of LOG.out, in bytes.
stopped_field() {
  local text
  text=$(sed -n "s/^stopped: .*$2 \([0-9.]* [KMG]*i*B\).*/\1/p" "$1.out" | tail -1)
  [ -n "$text" ] || fail "no 'stopped:' line with '$2' in $1.out: $(cat "$1.out")"
  to_bytes "$text"
}

# elapsed_since START: seconds (with decimals) since START, a `date +%s.%N` value.
elapsed_since() {
  echo "$(date +%s.%N) $1" | awk '{ printf "%.2f\n", $1 - $2 }'
}

# start_opentracker IP PORT INFOHASH SECONDS: opentracker on IP:PORT (TCP and UDP) for one whitelisted
# torrent, bounded to SECONDS and killed with the script; returns once it accepts connections. Debian's
# opentracker is built with a whitelist, drops root to nobody and chroots into its directory
# ($work/tracker, which holds the whitelist and the config; its log is $work/tracker.log).
start_opentracker() {
  local dir=$work/tracker
  mkdir -p "$dir"
  echo "$3" >"$dir/whitelist"
  printf 'listen.tcp_udp %s:%s\naccess.whitelist /whitelist\n' "$1" "$2" >"$dir/opentracker.conf"
  chmod 755 "$work" "$dir"
  chmod 644 "$dir/whitelist" "$dir/opentracker.conf"
  timeout -k 5 "$4" opentracker -f "$dir/opentracker.conf" -d "$dir" >"$work/tracker.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 100); do
    "${NBT_PYTHON:-/usr/bin/python3}" -c "import socket; socket.create_connection(('$1', $2), 0.2)" 2>/dev/null &&
      return 0
    sleep 0.1
  done
}
