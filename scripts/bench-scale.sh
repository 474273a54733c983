#!/usr/bin/env bash
# Scale and capacity benchmark (issue 19 items 3-4): builds release and, with a fresh
# rtmp-server per scenario on free loopback ports, measures with rtmp-bench (synthetic media,
# real time, BENCH_KBPS kbit/s per stream, default 1000) what each unit of load costs:
#   RTMP players on one stream: 1 10 100 1000
#   publishers recorded as FLV: 1 10 100; as FLV + MP4: 1 10 100
#   LL-HLS viewers on one stream: 1 50 200; HTTP-FLV viewers: 1 50 200
#   publishers each pushed to a second local server: 1 10 (less the same without push)
# For each: server CPU (% of one core) and peak RSS, whether everyone kept up, then the cost
# per unit (slope from the smallest to the largest count) and how linear it is (the slope up
# to the middle count against the slope up to the largest; 1.00 is perfectly linear).
# Stops every process it started and removes its temp dir.
# Environment: BENCH_SECONDS (default 15), BENCH_KBPS (default 1000), BENCH_PLAYERS,
# BENCH_PUBLISHERS, BENCH_VIEWERS, BENCH_PUSHES (space-separated counts, defaults above).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-15}"
kbps="${BENCH_KBPS:-1000}"
player_counts="${BENCH_PLAYERS:-1 10 100 1000}"
publisher_counts="${BENCH_PUBLISHERS:-1 10 100}"
viewer_counts="${BENCH_VIEWERS:-1 50 200}"
push_counts="${BENCH_PUSHES:-1 10}"

if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then
  ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

echo "== cargo build --release"
cargo build --release --quiet

# shellcheck source=lib/free-port.sh
. scripts/lib/free-port.sh
work="$(mktemp -d -t rtmp-bench-scale.XXXXXX)"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do
    # Started in a command substitution, so not this shell's child: wait by polling.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
  done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT INT TERM

field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }

# start_server RTMP_PORT HTTP_PORT ARGS...: a fresh server; prints its PID.
start_server() {
  local rtmp="$1" http="$2"
  shift 2
  rm -rf "$work/rec"
  mkdir -p "$work/rec"
  target/release/rtmp-server --listen "127.0.0.1:$rtmp" --http-listen "127.0.0.1:$http" \
    --record-dir "$work/rec" --max-connections 5000 --http-max-connections 1000 \
    --http-max-connections-per-ip 1000 --log-level warn "$@" >/dev/null 2>>"$work/server.log" &
  local pid=$!
  for _ in $(seq 1 100); do
    port_in_use "$rtmp" && port_in_use "$http" && break
    kill -0 "$pid" 2>/dev/null || { echo "server exited:" >&2; cat "$work/server.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$pid"
}

declare -A cpu rss kept
# measure KIND COUNT "SERVER ARGS" BENCH ARGS...: one scenario with a fresh server.
measure() {
  local kind="$1" count="$2" server_args="$3"
  shift 3
  local rtmp http pid json sink_pid=""
  rtmp="$(free_port)"
  http="$(free_port)"
  while [ "$http" = "$rtmp" ]; do http="$(free_port)"; done
  local extra=()
  if [ "$kind" = push ]; then
    local sink_rtmp sink_http
    sink_rtmp="$(free_port)"
    sink_http="$(free_port)"
    sink_pid="$(start_server "$sink_rtmp" "$sink_http")"
    pids+=("$sink_pid")
    extra=(--push "rtmp://127.0.0.1:$sink_rtmp/{app}/{stream}")
  fi
  # shellcheck disable=SC2086
  pid="$(start_server "$rtmp" "$http" $server_args "${extra[@]}")"
  pids+=("$pid")
  json="$(target/release/rtmp-bench --server "127.0.0.1:$rtmp" --http "127.0.0.1:$http" \
    --stream "$kind$count-" --realtime --duration "$seconds" --bitrate-kbps "$kbps" \
    --server-pid "$pid" --json "$@")" || true
  stop_all
  [ -n "$json" ] || { echo "rtmp-bench failed: $kind $count" >&2; tail -5 "$work/server.log" >&2; exit 1; }
  [ -z "${BENCH_VERBOSE:-}" ] || echo "   $json"
  cpu[$kind,$count]="$(field "$json" server_cpu_pct)"
  rss[$kind,$count]="$(field "$json" server_peak_rss_kb)"
  kept[$kind,$count]="$(field "$json" all_kept_up)"
  printf '  %-22s %6s  %8s %%  %9.1f MB  kept up: %s\n' "$kind" "$count" "${cpu[$kind,$count]}" \
    "$(awk -v kb="${rss[$kind,$count]}" 'BEGIN { print kb / 1024 }')" "${kept[$kind,$count]}"
}

echo "== scenarios: ${seconds}s each, ${kbps} kbit/s per stream, real time, loopback"
for n in $player_counts; do measure players "$n" "" --publishers 1 --players "$n"; done
for n in $publisher_counts; do measure flv "$n" "--record-all" --publishers "$n"; done
for n in $publisher_counts; do
  measure flv+mp4 "$n" "--record-all --record-format flv --record-format mp4" --publishers "$n"
done
for n in $viewer_counts; do measure hls "$n" "--hls" --publishers 1 --hls-viewers "$n"; done
for n in $viewer_counts; do measure http-flv "$n" "" --publishers 1 --http-flv-viewers "$n"; done
for n in $push_counts; do
  measure publishers "$n" "" --publishers "$n"
  measure push "$n" "" --publishers "$n"
done

# per_unit KIND COUNTS: cost per unit and linearity.
per_unit() {
  local kind="$1"
  read -r -a counts <<<"$2"
  local low="${counts[0]}" top="${counts[-1]}" mid="${counts[$(( ${#counts[@]} / 2 ))]}"
  awk -v k="$kind" -v lo="$low" -v mi="$mid" -v to="$top" \
    -v c0="${cpu[$kind,$low]}" -v cm="${cpu[$kind,$mid]}" -v ct="${cpu[$kind,$top]}" \
    -v r0="${rss[$kind,$low]}" -v rm="${rss[$kind,$mid]}" -v rt="${rss[$kind,$top]}" 'BEGIN {
      if (to == lo) { printf "  %-22s (one count only)\n", k; exit }
      cpu = (ct - c0) / (to - lo); mem = (rt - r0) / (to - lo)
      lin = (mi > lo && cpu != 0) ? ((cm - c0) / (mi - lo)) / cpu : 1
      printf "  %-22s %9.3f %% CPU  %9.1f KB RSS   linearity %.2f\n", k, cpu, mem, lin
    }'
}
echo
echo "== cost per unit (slope from the smallest to the largest count; ${kbps} kbit/s streams)"
per_unit players "$player_counts"
per_unit flv "$publisher_counts"
per_unit flv+mp4 "$publisher_counts"
per_unit hls "$viewer_counts"
per_unit http-flv "$viewer_counts"
read -r -a pc <<<"$push_counts"
for n in "${pc[@]}"; do
  awk -v n="$n" -v a="${cpu[publishers,$n]}" -v b="${cpu[push,$n]}" -v ra="${rss[publishers,$n]}" \
    -v rb="${rss[push,$n]}" 'BEGIN { printf "  %-22s %9.3f %% CPU  %9.1f KB RSS   (%d publishers with and without)\n",
      "push", (b - a) / n, (rb - ra) / n, n }'
done
if [ -s "$work/server.log" ]; then
  echo
  echo "== server warnings: $(wc -l <"$work/server.log") line(s); first 5:"
  head -n 5 "$work/server.log"
fi
