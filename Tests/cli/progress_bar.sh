#!/usr/bin/env bash
# The live progress display of `nbt download` on a terminal (run by scripts/test with NBT=path to the nbt
# binary; `script` from util-linux gives it a pseudo-terminal): one line per torrent redrawn in place
# (carriage return, erase line) with name, percent, a bar, down/up rates, peers and ETA, never wider than
# the terminal.
source "$(dirname "$0")/common.bash"
command -v script >/dev/null || fail "script (util-linux) is needed to give nbt a terminal"
make_payload data.bin 6
torrent=$work/data.bin.torrent

start_bg "$work/seed" 55 seed "$torrent" "$work/src" --bind 127.0.0.1
port=$(listen_port "$work/seed")

# redraws FILE: the live lines of a typescript, one per redraw (text after each ESC[2K up to the next CR/LF).
redraws() { tr '\r' '\n' <"$1" | sed -n 's/^\x1b\[2K//p'; }

run_on_terminal() { # COLUMNS OUT DIR
  timeout -k 5 40 script -qec "stty cols $1 2>/dev/null; '$NBT' download '$torrent' -o '$3' --bind 127.0.0.1 \
    --peer 127.0.0.1:$port --down-limit 2M" /dev/null >"$2" 2>&1 </dev/null ||
    fail "download on a $1-column terminal failed: $(cat "$2")"
  cmp -s "$work/src/data.bin" "$3/data.bin" || fail "the download on a $1-column terminal differs"
}

run_on_terminal 120 "$work/wide.txt" "$work/dl1"
redraws "$work/wide.txt" >"$work/wide.lines"
[ "$(wc -l <"$work/wide.lines")" -ge 5 ] || fail "fewer than 5 redraws in ~3 s: $(cat -v "$work/wide.txt")"
bar='^data\.bin +[0-9]+\.[0-9]% \[[#-]{24}\] downloading  down [0-9.]+ [KMG]?i?B/s  up [0-9.]+ [KMG]?i?B/s  peers [0-9]+ \([0-9]+ seeds\)  ETA ([0-9:]+|--:--)'
grep -qE "$bar" "$work/wide.lines" || fail "no live line with a bar and every field: $(head -3 "$work/wide.lines")"
grep -qE '^data\.bin +[0-9]+\.[0-9]% \[#+-+\]' "$work/wide.lines" || fail "no partly filled bar: $(cat "$work/wide.lines")"
grep -qE '^data\.bin 100\.0% \[#{24}\] ' "$work/wide.lines" || fail "no full bar at 100%"
grep -q '^data\.bin: complete, 6\.0 MiB' "$work/wide.txt" || fail "no completion line on the terminal"
# Other lines start lines of their own (the live line is ended first), also below a hash-check line.
[ "$(tr '\r' '\n' <"$work/wide.txt" | grep -c '^downloading data\.bin (6\.0 MiB) ')" -eq 1 ] ||
  fail "the 'downloading ...' line does not start a line: $(cat -v "$work/wide.txt" | head -3)"
# Plain progress lines are for non-terminals only.
! grep -qE $'^data\\.bin +[0-9.]+% downloading' <(tr -d '\r' <"$work/wide.txt" | grep -v $'\x1b') ||
  fail "plain progress lines on a terminal"

# 80 columns: single-spaced fields without the seed count, the name and ETA kept.
run_on_terminal 80 "$work/eighty.txt" "$work/dl3"
redraws "$work/eighty.txt" >"$work/eighty.lines"
long=$(awk 'length($0) > 79' "$work/eighty.lines" | head -1)
[ -z "$long" ] || fail "a live line wider than 79 columns on an 80-column terminal: $long"
grep -qE '^data\.bin +[0-9]+\.[0-9]% \[[#-]{8,}\] downloading down [0-9.]+ [KMG]?i?B/s up [0-9.]+ [KMG]?i?B/s peers [0-9]+ ETA ([0-9:]+|--:--)$' \
  "$work/eighty.lines" || fail "no compact live line with every field on 80 columns: $(head -3 "$work/eighty.lines")"

# A narrow terminal: the line is shortened, never wrapped.
run_on_terminal 50 "$work/narrow.txt" "$work/dl2"
redraws "$work/narrow.txt" >"$work/narrow.lines"
[ -s "$work/narrow.lines" ] || fail "no redraws on a 50-column terminal: $(cat -v "$work/narrow.txt")"
long=$(awk 'length($0) > 49' "$work/narrow.lines" | head -1)
[ -z "$long" ] || fail "a live line wider than 49 columns on a 50-column terminal: $long"
grep -qE '^[^ ]+ +[0-9]+\.[0-9]% \[[#-]{8}\]' "$work/narrow.lines" || fail "no 8-cell bar: $(head -3 "$work/narrow.lines")"
echo "progress_bar.sh: ok"
