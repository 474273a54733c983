#!/usr/bin/env bash
# Soak: `scripts/soak.sh [SECONDS]` (default 60, at most 3600). Builds release, starts its own
# rtmp-server on a free loopback port with --record-all into a temp dir, and runs rtmp-bench
# with 20 publishers (distinct streams) and 100 players for SECONDS of real-time media from
# an FFmpeg lavfi clip (320x240, H.264 + AAC) long enough not to loop, sent unstamped. The
# server's RSS is sampled every SOAK_SAMPLE_SECONDS (default 5). Afterwards the server gets
# SIGTERM and must exit 0; then every recording must be framemd5-identical to the packets
# sent (the clip's packets before SECONDS), every player must have kept up, and RSS must stay
# flat: the last third's max within SOAK_RSS_TOLERANCE_PCT (default 20) % of the first
# third's max, samples of the first SOAK_WARMUP_SECONDS (default 10) left out. Prints a
# summary; exits 0 only if every check passed. Everything it starts is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
publishers="${SOAK_PUBLISHERS:-20}"
players="${SOAK_PLAYERS:-100}"
sample_every="${SOAK_SAMPLE_SECONDS:-5}"
warmup="${SOAK_WARMUP_SECONDS:-10}"
tolerance_pct="${SOAK_RSS_TOLERANCE_PCT:-20}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/soak.sh [SECONDS]  (whole seconds, 1..3600)" >&2; exit 2 ;;
esac
if [ "$seconds" -lt 1 ] || [ "$seconds" -gt 3600 ]; then
  echo "usage: scripts/soak.sh [SECONDS]  (whole seconds, 1..3600)" >&2
  exit 2
fi
for tool in ffmpeg flvmeta; do
  command -v "$tool" >/dev/null || { echo "$tool is required (scripts/test.sh installs it)" >&2; exit 1; }
done

# Every peer is one socket here and one in the server, plus the recordings.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

echo "== cargo build --release"
cargo build --release --quiet

work="$(mktemp -d -t rtmp-soak.XXXXXX)"
server_pid=""
sampler_pid=""
cleanup() {
  if [ -n "$sampler_pid" ] && kill -0 "$sampler_pid" 2>/dev/null; then kill "$sampler_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -z "${SOAK_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT INT TERM

clip_seconds=$((seconds + 5))
echo "== source: ${clip_seconds}s lavfi clip (320x240 15 fps H.264 + AAC)"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=320x240:rate=15:duration=$clip_seconds" \
  -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=$clip_seconds" \
  -c:v libx264 -preset ultrafast -g 15 -pix_fmt yuv420p -c:a aac -b:a 64k -shortest \
  -f flv "$work/source.flv"
ffmpeg -v error -i "$work/source.flv" -c copy -f framemd5 - | grep -v '^#' >"$work/source.md5"
# What the publishers send: the clip's packets in file order before the first at SECONDS
# (rtmp-bench stops there; the clip starts at 0 and has no B-frames, so dts is the tag time).
limit_ms=$((seconds * 1000))
awk -F',' -v limit="$limit_ms" '{ if ($2 + 0 >= limit) exit; print }' "$work/source.md5" >"$work/sent.md5"
sent_packets="$(wc -l <"$work/sent.md5")"

# shellcheck source=lib/free-port.sh
. scripts/lib/free-port.sh
port="$(free_port)"

target/release/rtmp-server --listen "127.0.0.1:$port" --http-listen off --log-level info \
  --record-all --record-dir "$work/rec" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 200); do
  port_in_use "$port" && break
  kill -0 "$server_pid" 2>/dev/null || { echo "server exited:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.05
done
port_in_use "$port" || { echo "server did not listen on $port" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
started="$(date +%s)"
(
  while kill -0 "$server_pid" 2>/dev/null; do
    echo "$(($(date +%s) - started)) $(rss_kb "$server_pid")"
    sleep "$sample_every"
  done
) >"$work/rss.txt" &
sampler_pid=$!

echo "== rtmp-server pid $server_pid on 127.0.0.1:$port; $publishers publishers, $players players, ${seconds}s"
bound=$((seconds + 180))
json="$(timeout "$bound" target/release/rtmp-bench --server "127.0.0.1:$port" --stream soak \
  --publishers "$publishers" --players "$players" --realtime --duration "$seconds" \
  --file "$work/source.flv" --no-stamp --timeout 30 --server-pid "$server_pid" --json)" || true
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""
echo "-- rtmp-bench: $json"

failures=()
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
[ -n "$json" ] || failures+=("rtmp-bench gave no report (failed or ran over ${bound}s)")
kept="$(field "$json" players_kept_up)"
[ "$kept" = "$players" ] || failures+=("players kept up: ${kept:-?}/$players")
grep -q '"errors":\[\]' <<<"$json" || failures+=("rtmp-bench errors: $(sed -n 's/.*"errors":\(\[.*\]\).*/\1/p' <<<"$json")")

# SIGTERM: every recording finalized, exit 0, within a bound.
term_at="$(date +%s.%N)"
kill -TERM "$server_pid"
exit_code=0
for _ in $(seq 1 1200); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$server_pid" 2>/dev/null; then
  failures+=("server still running 60 s after SIGTERM")
  kill -KILL "$server_pid" 2>/dev/null || true
fi
wait "$server_pid" || exit_code=$?
server_pid=""
stop_s="$(awk -v a="$term_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
[ "$exit_code" = 0 ] || failures+=("server exit status $exit_code after SIGTERM")

# Recordings: one per publisher, finalized, packet-identical to what was sent.
mapfile -t parts < <(find "$work/rec" -name '*.part')
[ "${#parts[@]}" = 0 ] || failures+=("${#parts[@]} unfinished .part file(s) left")
checked=0
identical=0
recorded_packets=0
for k in $(seq 0 $((publishers - 1))); do
  mapfile -t files < <(find "$work/rec" -name "live_soak${k}_*.flv" | sort)
  if [ "${#files[@]}" != 1 ]; then
    failures+=("stream soak$k: ${#files[@]} recording(s), expected 1")
    continue
  fi
  checked=$((checked + 1))
  file="${files[0]}"
  ffmpeg -v error -i "$file" -c copy -f framemd5 - | grep -v '^#' >"$work/rec$k.md5" || true
  recorded_packets=$((recorded_packets + $(wc -l <"$work/rec$k.md5")))
  if cmp -s "$work/sent.md5" "$work/rec$k.md5"; then
    identical=$((identical + 1))
  else
    first="$(diff "$work/sent.md5" "$work/rec$k.md5" | sed -n 2p || true)"
    failures+=("stream soak$k: recording differs from what was sent ($(wc -l <"$work/rec$k.md5")/$sent_packets packets; first difference: $first)")
  fi
  report="$(flvmeta --check "$file" 2>&1 || true)"
  grep -q '^0 error(s)' <<<"$report" || failures+=("stream soak$k: flvmeta --check: $(grep 'error(s)' <<<"$report")")
done

# RSS: flat after warm-up.
awk -v w="$warmup" '$1 >= w && $2 != "" { print $2 }' "$work/rss.txt" >"$work/rss-steady.txt"
samples="$(wc -l <"$work/rss.txt")"
steady="$(wc -l <"$work/rss-steady.txt")"
rss_line="$(awk '$2 != "" { if (n++ == 0 || $2 < min) min = $2; if ($2 > max) max = $2 } END { printf "%d %d", min, max }' "$work/rss.txt")"
read -r rss_min rss_max <<<"$rss_line"
flat="n/a (fewer than 3 samples after warm-up)"
if [ "$steady" -ge 3 ]; then
  third=$((steady / 3))
  first_max="$(head -n "$third" "$work/rss-steady.txt" | sort -n | tail -1)"
  last_max="$(tail -n "$third" "$work/rss-steady.txt" | sort -n | tail -1)"
  growth="$(awk -v a="$first_max" -v b="$last_max" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')"
  flat="first third max ${first_max} kB, last third max ${last_max} kB (${growth}%, limit ${tolerance_pct}%)"
  if awk -v g="$growth" -v t="$tolerance_pct" 'BEGIN { exit !(g > t) }'; then
    failures+=("RSS grew: $flat")
  fi
else
  failures+=("RSS: only $steady sample(s) after the ${warmup}s warm-up; run longer")
fi

echo
echo "== soak summary: $publishers publishers, $players players, ${seconds}s real time, loopback"
echo "frames published:      $(field "$json" frames_published) (video $(field "$json" video_frames_published))"
echo "frames per player:     $(field "$json" frames_received_min)..$(field "$json" frames_received_max)"
echo "players kept up:       ${kept:-?}/$players"
echo "server CPU:            $(field "$json" server_cpu_pct) % ($(field "$json" server_cpu_s) s)"
echo "server RSS samples:    $samples every ${sample_every}s, min ${rss_min} kB, max ${rss_max} kB; $flat"
echo "RSS series (s kB):     $(tr '\n' ' ' <"$work/rss.txt")"
echo "recordings checked:    $checked/$publishers, identical $identical, $recorded_packets packets ($sent_packets sent per stream)"
echo "SIGTERM:               exit $exit_code after ${stop_s}s"
echo "server warnings:       $(grep -c ' WARN\| ERROR' "$work/server.log" || true) line(s)"
grep ' WARN\| ERROR' "$work/server.log" | head -n 5 || true
if [ "${#failures[@]}" -gt 0 ]; then
  echo
  echo "== FAILED (${#failures[@]}):"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
echo "== soak passed"
