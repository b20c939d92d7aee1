#!/usr/bin/env bash
# Transmission's web interface, served by `nbt daemon`, in a real headless browser (issue 19): Debian's
# Chromium, driven over the DevTools protocol (Tests/cli/cdp.py), inside a network namespace that has only a
# loopback interface (so the browser cannot reach anything else, not even its own update or safe-browsing
# services):
#   1. the page loads from the daemon and lists the torrent added with transmission-remote, with its name;
#   2. a second torrent is added through the page (the toolbar's Open dialog, a .torrent file chosen in its
#      file input, Upload) and appears in the list and in `transmission-remote -l`;
#   3. the first torrent is selected in the list and stopped with the toolbar's Pause button:
#      `transmission-remote -l` shows it Stopped.
# A screenshot of the page is kept in $NBT_ARTIFACTS (default .build/test-artifacts) as webui.png.
# Fails when chromium, transmission-remote or the web interface (transmission-common) is missing and
# NBT_REQUIRE_INTEROP=1, else skips; needs root for the namespace.
if [ -z "${NBT_IN_NETNS:-}" ]; then
  missing=""
  command -v chromium >/dev/null || missing="chromium"
  command -v transmission-remote >/dev/null || missing="$missing transmission-cli"
  [ -f /usr/share/transmission/web/index.html ] || missing="$missing transmission-common (web interface)"
  { [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; } ||
    missing="$missing root+unshare+ip"
  if [ -n "$missing" ]; then
    [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && { echo "FAIL: webui_chromium.sh: missing:$missing" >&2; exit 1; }
    echo "webui_chromium.sh: skipped (missing:$missing)"
    exit 0
  fi
  export NBT_ARTIFACTS=${NBT_ARTIFACTS:-$(cd "$(dirname "$0")/../.." && pwd)/.build/test-artifacts}
  exec unshare --net env NBT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/common.bash"
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has interfaces besides lo: $(ip -o link)"
python=${NBT_PYTHON:-/usr/bin/python3}
cdp_dir=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$work/src"
head -c $((2 * 1048576)) /dev/urandom >"$work/src/first album.bin"
head -c 300000 /dev/urandom >"$work/src/second.bin"
"$NBT" create "$work/src/first album.bin" --v1 --piece-size 64K --no-date -o "$work/first.torrent" >/dev/null
"$NBT" create "$work/src/second.bin" --v1 --piece-size 16K --no-date -o "$work/second.torrent" >/dev/null

rpc_port=$((RANDOM % 20000 + 30000))
timeout -k 5 150 "$NBT" daemon --config-dir "$work/config" --download-dir "$work/dl" --rpc-bind 127.0.0.1 \
  --rpc-port "$rpc_port" --bind 127.0.0.2 --port 0 --no-dht >"$work/daemon.out" 2>"$work/daemon.err" &
daemon_pid=$!
pids+=("$daemon_pid")
for _ in $(seq 1 300); do grep -q "RPC on http" "$work/daemon.out" 2>/dev/null && break; sleep 0.1; done
grep -q "RPC on http" "$work/daemon.out" || fail "the daemon did not start: $(cat "$work/daemon.out" "$work/daemon.err")"
tr() { timeout 20 transmission-remote "127.0.0.1:$rpc_port" "$@"; }
tr -a "$work/first.torrent" >/dev/null || fail "transmission-remote -a failed"
curl -sf "http://127.0.0.1:$rpc_port/transmission/web/" | matches "<title>Transmission" ||
  fail "the daemon does not serve the web interface at /transmission/web/"

debug_port=$((RANDOM % 20000 + 10000))
timeout -k 5 120 chromium --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$work/chrome" \
  --window-size=1280,800 --remote-debugging-address=127.0.0.1 --remote-debugging-port="$debug_port" \
  about:blank >"$work/chrome.out" 2>&1 &
pids+=("$!")

mkdir -p "$NBT_ARTIFACTS"
timeout -k 5 90 "$python" - "$cdp_dir" "$debug_port" "http://127.0.0.1:$rpc_port/transmission/web/" \
  "$work/second.torrent" "$NBT_ARTIFACTS/webui.png" >"$work/browser.out" 2>&1 <<'PY' ||
import base64, sys, time
sys.path.insert(0, sys.argv[1])
from cdp import Page
port, url, second, screenshot = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
page = Page(port)
page.call("Page.enable")
page.call("Page.navigate", url=url)
rows = "document.querySelectorAll('#torrent_list > li').length"
page.wait_for(f"{rows} >= 1 && document.body.innerText.includes('first album.bin')",
              what="the list never showed the torrent added with transmission-remote")
print("1. listed:", page.evaluate("document.querySelector('#torrent_list').innerText.replace(/\\n/g, ' | ')"))
# 2. Add through the page: the toolbar's Open, a file chosen in the dialog's input, Upload.
page.evaluate("document.querySelector('#toolbar-open').click(), true")
page.wait_for("getComputedStyle(document.querySelector('#upload_container')).display != 'none'",
              what="the Open dialog did not appear")
root = page.call("DOM.getDocument")["root"]["nodeId"]
node = page.call("DOM.querySelector", nodeId=root, selector="#torrent_upload_file")["nodeId"]
page.call("DOM.setFileInputFiles", nodeId=node, files=[second])
page.evaluate("document.querySelector('#upload_confirm_button').click(), true")
page.wait_for(f"{rows} >= 2 && document.body.innerText.includes('second.bin')",
              what="the torrent added through the page never appeared in its list")
print("2. added through the page:", page.evaluate(rows), "torrents listed")
# 3. Select the first torrent's row and press Pause.
page.evaluate("""(() => {
  const row = [...document.querySelectorAll('#torrent_list > li')].find(li => li.innerText.includes('first album.bin'));
  row.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  return true;
})()""")
page.wait_for("document.querySelectorAll('#torrent_list > li.selected').length == 1", what="the row was not selected")
page.evaluate("document.querySelector('#toolbar-pause').click(), true")
time.sleep(1.5)  # the page refreshes its list every few seconds; the daemon has the state at once
shot = page.call("Page.captureScreenshot", format="png")["data"]
with open(screenshot, "wb") as f:
    f.write(base64.b64decode(shot))
print("3. paused; screenshot", screenshot)
PY
  fail "the browser session failed: $(cat "$work/browser.out"; tail -5 "$work/chrome.out")"

list=$(tr -l)
echo "$list" | matches "second.bin" || fail "the torrent added through the page is not in the daemon: $list"
echo "$list" | grep "first album.bin" | matches "Stopped" || fail "the torrent paused through the page is not stopped: $list"
echo "$list" | grep "second.bin" | grep -vq "Stopped" || fail "pausing one torrent stopped the other too: $list"
[ -s "$NBT_ARTIFACTS/webui.png" ] || fail "no screenshot"
sed 's/^/webui_chromium.sh: /' "$work/browser.out"
echo "webui_chromium.sh: ok (page loaded, listed, a torrent added and one paused through Transmission's web interface)"
