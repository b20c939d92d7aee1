#!/usr/bin/env bash
# A trackerless magnet over the DHT only (issue 17), inside a network namespace that has only a loopback
# interface (nothing can leave the machine; the public routers are never named), with our own nodes only:
#   - a router node: `nbt seed` of an unrelated torrent on 127.0.0.30 (its DHT node is what matters);
#   - the seed: `nbt seed data.torrent` on 127.0.0.31 over `--transport both`, so its DHT node shares the uTP
#     socket of its listen port; it joins through the router and announces there;
#   - `nbt download 'magnet:?xt=urn:btih:...'` (no tr, no x.pe) on 127.0.0.32, also `--transport both`, joins
#     through the router, finds the seed through the DHT alone, fetches the metadata from it and completes.
# Run by scripts/test with NBT=path to the nbt binary; needs root (unshare): fails without it when
# NBT_REQUIRE_INTEROP=1, else skips.
if [ -z "${NBT_IN_NETNS:-}" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && { echo "FAIL: dht_magnet.sh: needs root, unshare and ip" >&2; exit 1; }
    echo "dht_magnet.sh: skipped (needs root, unshare and ip)"
    exit 0
  fi
  exec unshare --net env NBT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/common.bash"
# Only loopback here: the namespace is ours.
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has interfaces besides lo: $(ip -o link)"

make_payload data.bin 3
make_payload other.bin 1
infohash=$("$NBT" info "$work/data.bin.torrent" --json | sed -n 's/.*"infoHashV1" *: *"\([0-9a-f]\{40\}\)".*/\1/p')
[ ${#infohash} -eq 40 ] || fail "no v1 info-hash for data.bin.torrent: '$infohash'"
port=$((20000 + RANDOM % 20000))

# The router: a DHT node that knows nobody until the others join through it.
start_bg "$work/router" 120 seed "$work/other.bin.torrent" "$work/src" --bind 127.0.0.30 --port "$port" \
  --dht-bootstrap "127.0.0.31:$port" --log-level info
listen_port "$work/router" >/dev/null
# The seed joins through the router and announces data.bin there.
start_bg "$work/seed" 120 seed "$work/data.bin.torrent" "$work/src" --bind 127.0.0.31 --port "$port" \
  --transport both --dht-bootstrap "127.0.0.30:$port" --log-level info
listen_port "$work/seed" >/dev/null
wait_for "DHT bootstrapped: [1-9]" "$work/seed.err" 30
sleep 2 # the announce follows the bootstrap

start=$(date +%s)
timeout -k 5 90 "$NBT" download "magnet:?xt=urn:btih:$infohash" -o "$work/dl" --bind 127.0.0.32 --port "$port" \
  --transport both --dht-bootstrap "127.0.0.30:$port" --log-level info >"$work/dl.out" 2>"$work/dl.err" ||
  fail "nbt download of the trackerless magnet failed: $(tail -n 5 "$work/dl.out" "$work/dl.err")"
seconds=$(($(date +%s) - start))
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "the file downloaded by magnet through the DHT differs"
grep -q "DHT bootstrapped: [1-9]" "$work/dl.err" || fail "the download never joined the DHT: $(cat "$work/dl.err")"
echo "dht_magnet.sh: ok (a magnet with no tracker and no peer found our seed through the DHT, fetched the metadata and completed 3 MiB in $seconds s)"
