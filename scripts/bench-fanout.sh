#!/usr/bin/env bash
# Fan-out benchmark: builds release, starts rtmp-server on a free loopback port, and runs
# rtmp-bench with 1 publisher at 5 Mbit/s real time (synthetic media) to 10, 50 and 200
# players, 15 s each; prints each scenario's table and a summary. Stops the server it started.
# Environment: BENCH_SECONDS (default 15), BENCH_PLAYERS (default "10 50 200").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-15}"
player_counts="${BENCH_PLAYERS:-10 50 200}"

# Every player is one socket in the bench and one in the server.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

echo "== cargo build --release"
cargo build --release --quiet

# shellcheck source=lib/free-port.sh
. scripts/lib/free-port.sh
port="$(free_port)"

log="$(mktemp -t rtmp-bench-server.XXXXXX)"
target/release/rtmp-server --listen "127.0.0.1:$port" --http-listen off --log-level warn 2>"$log" &
server_pid=$!
cleanup() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  port_in_use "$port" && break
  kill -0 "$server_pid" 2>/dev/null || { echo "server exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.05
done
echo "== rtmp-server pid $server_pid on 127.0.0.1:$port; ${seconds}s per scenario"

# The value of "key" in a one-line JSON object (numbers, true/false/null).
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }

summary=()
for players in $player_counts; do
  echo
  common=(--server "127.0.0.1:$port" --stream "fanout$players-" --publishers 1 --players "$players"
    --realtime --duration "$seconds" --bitrate-kbps 5000 --server-pid "$server_pid")
  json="$(target/release/rtmp-bench "${common[@]}" --json)" || true
  [ -n "$json" ] || { echo "rtmp-bench failed for $players players" >&2; exit 1; }
  echo "-- $players players: $json"
  kept="$(field "$json" all_kept_up)"
  rss_kb="$(field "$json" server_peak_rss_kb)"
  row="$(printf '%7s  %10s  %11s  %11s  %19s  %s/%s' "$players" \
    "$(field "$json" server_cpu_pct)" \
    "$(awk -v kb="$rss_kb" 'BEGIN { printf "%.1f", kb / 1024 }')" \
    "$([ "$kept" = true ] && echo yes || echo no)" \
    "$(field "$json" latency_p50_ms) / $(field "$json" latency_p99_ms)" \
    "$(field "$json" players_kept_up)" "$players")"
  summary+=("$row")
done

echo
echo "== fan-out: 1 publisher, 5 Mbit/s real time, ${seconds}s, loopback"
printf '%7s  %10s  %11s  %11s  %19s  %s\n' players "server CPU%" "peak RSS MB" "all kept up" "latency p50/p99 ms" "kept/players"
for row in "${summary[@]}"; do echo "$row"; done
if [ -s "$log" ]; then
  echo
  echo "== server warnings: $(wc -l <"$log") line(s) (e.g. players dropping frames); first 5:"
  head -n 5 "$log"
fi
rm -f "$log"
