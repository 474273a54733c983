#!/usr/bin/env bash
# Browser-viewer benchmark (issue 16): builds release, starts rtmp-server with --hls (LL-HLS
# from memory) and its HTTP listener on free loopback ports, and runs rtmp-bench with 1
# publisher at 5 Mbit/s real time (synthetic media, a keyframe every 2 s) to 100 LL-HLS viewers
# plus 50 HTTP-FLV viewers (and BENCH_PLAYERS RTMP players, default 0), BENCH_RUNS times
# (default 3) with a fresh server each; prints each run's figures and the medians: server CPU
# %, peak RSS, whether every viewer kept up (read to the end with no gap), HTTP-FLV latency
# p50/p99 and LL-HLS part latency p50/p99 (publish of a part's last frame to the part read
# by a viewer blocking on the playlist). Stops every server it started.
# Environment: BENCH_SECONDS (default 20), BENCH_RUNS (default 3), BENCH_HLS (default 100),
# BENCH_HTTP_FLV (default 50), BENCH_PLAYERS (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-20}"
runs="${BENCH_RUNS:-3}"
hls="${BENCH_HLS:-100}"
http_flv="${BENCH_HTTP_FLV:-50}"
players="${BENCH_PLAYERS:-0}"

if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

echo "== cargo build --release"
cargo build --release --quiet

# shellcheck source=lib/free-port.sh
. scripts/lib/free-port.sh

log="$(mktemp -t rtmp-bench-viewers.XXXXXX)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -f "$log"' EXIT INT TERM

# The value of "key" in a one-line JSON object (numbers, true/false/null).
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -a cpu rss flv50 flv99 part50 part99 kept
for run in $(seq 1 "$runs"); do
  rtmp_port="$(free_port)"
  http_port="$(free_port)"
  while [ "$http_port" = "$rtmp_port" ]; do http_port="$(free_port)"; done
  target/release/rtmp-server --listen "127.0.0.1:$rtmp_port" --http-listen "127.0.0.1:$http_port" \
    --hls --http-max-connections 1000 --http-max-connections-per-ip 1000 --log-level warn 2>"$log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    port_in_use "$http_port" && port_in_use "$rtmp_port" && break
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.05
  done
  json="$(target/release/rtmp-bench --server "127.0.0.1:$rtmp_port" --http "127.0.0.1:$http_port" \
    --stream "viewers$run-" --publishers 1 --players "$players" --hls-viewers "$hls" \
    --http-flv-viewers "$http_flv" --realtime --duration "$seconds" --bitrate-kbps 5000 \
    --server-pid "$server_pid" --json)" || true
  stop_server
  [ -n "$json" ] || { echo "rtmp-bench failed in run $run" >&2; cat "$log" >&2; exit 1; }
  echo "-- run $run: $json"
  cpu+=("$(field "$json" server_cpu_pct)")
  rss+=("$(awk -v kb="$(field "$json" server_peak_rss_kb)" 'BEGIN { printf "%.1f", kb / 1024 }')")
  flv50+=("$(field "$json" http_flv_latency_p50_ms)")
  flv99+=("$(field "$json" http_flv_latency_p99_ms)")
  part50+=("$(field "$json" hls_part_latency_p50_ms)")
  part99+=("$(field "$json" hls_part_latency_p99_ms)")
  kept+=("$(field "$json" all_kept_up) (HLS $(field "$json" hls_kept_up)/$hls, HTTP-FLV $(field "$json" http_flv_kept_up)/$http_flv, RTMP $(field "$json" players_kept_up)/$players)")
  if [ -s "$log" ]; then
    echo "   server warnings: $(wc -l <"$log") line(s); first 3:"
    head -n 3 "$log" | sed 's/^/   /'
  fi
done

m() { printf '%s\n' "$@" | median; }
echo
echo "== viewers: 1 publisher at 5 Mbit/s real time, ${seconds}s, $hls LL-HLS + $http_flv HTTP-FLV viewers + $players RTMP players, loopback, medians of $runs"
printf '  %-34s %s\n' "server CPU %" "$(m "${cpu[@]}")"
printf '  %-34s %s\n' "server peak RSS MB" "$(m "${rss[@]}")"
printf '  %-34s %s / %s\n' "HTTP-FLV latency p50 / p99 ms" "$(m "${flv50[@]}")" "$(m "${flv99[@]}")"
printf '  %-34s %s / %s\n' "LL-HLS part latency p50 / p99 ms" "$(m "${part50[@]}")" "$(m "${part99[@]}")"
for i in "${!kept[@]}"; do printf '  %-34s %s\n' "run $((i + 1)) all kept up" "${kept[$i]}"; done
