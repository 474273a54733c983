#!/usr/bin/env bash
# Contention-independent cost of one fixed scenario: runs the release rtmp-server under
# valgrind --tool=callgrind (user-space instructions, all threads summed) while the release
# rtmp-bench drives it, then prints instructions per MB moved. With MODE=perf the server runs
# natively under `perf stat` instead and context switches (the kernel-side cost of waking
# threads) and the server's peak RSS are reported. Both figures stay comparable on a loaded box, unlike CPU seconds.
# Usage: scripts/bench-callgrind.sh fanout|ingest   (fanout: 1 publisher, 5 Mbit/s real time,
# BENCH_PLAYERS players (default 50), no recording; ingest: BENCH_PUBLISHERS (default 1) at
# full speed, recording to a temp dir). BENCH_SECONDS (default 6). Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario="${1:-fanout}"
seconds="${BENCH_SECONDS:-6}"
players="${BENCH_PLAYERS:-50}"
publishers="${BENCH_PUBLISHERS:-1}"
mode="${MODE:-callgrind}"

cargo build --release --quiet --bins
work="$(mktemp -d -t rtmp-callgrind.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/free-port.sh
. scripts/lib/free-port.sh
port="$(free_port)"

server_args=(--listen "127.0.0.1:$port" --http-listen off --log-level warn --chunk-size 4096)
bench_args=(--server "127.0.0.1:$port" --json --duration "$seconds" --timeout 60)
case "$scenario" in
  fanout) bench_args+=(--publishers 1 --players "$players" --realtime --bitrate-kbps 5000) ;;
  ingest)
    server_args+=(--record-all --record-dir "$work/rec")
    bench_args+=(--publishers "$publishers" --players 0)
    ;;
  *) echo "usage: $0 fanout|ingest" >&2; exit 2 ;;
esac

case "$mode" in
  callgrind)
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
      target/release/rtmp-server "${server_args[@]}" 2>"$work/server.log" &
    ;;
  perf) target/release/rtmp-server "${server_args[@]}" 2>"$work/server.log" & ;;
  *) echo "MODE must be callgrind or perf" >&2; exit 2 ;;
esac
server_pid=$!
for _ in $(seq 1 600); do
  port_in_use "$port" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

perf_pid=""
if [ "$mode" = perf ]; then
  bench_args+=(--server-pid "$server_pid") # natively: the bench also reads its peak RSS
  perf stat -x, -e context-switches,task-clock -p "$server_pid" -o "$work/perf.out" &
  perf_pid=$!
fi
json="$(target/release/rtmp-bench "${bench_args[@]}")" || true
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" 2>/dev/null || true
fi
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
[ -n "$json" ] || { echo "rtmp-bench failed" >&2; exit 1; }
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
published="$(field "$json" bytes_published)"
received="$(field "$json" bytes_received)"
moved=$((published + ${received:-0}))
recorded=0
[ ! -d "$work/rec" ] || recorded="$(du -sb "$work/rec" | cut -f1)"
echo "scenario=$scenario players=$players publishers=$publishers seconds=$seconds"
echo "server_peak_rss_kb=$(field "$json" server_peak_rss_kb) bytes_published=$published bytes_received=${received:-0} bytes_on_disk=$recorded all_kept_up=$(field "$json" all_kept_up) latency_p99_ms=$(field "$json" latency_p99_ms)"
if [ "$mode" = callgrind ]; then
  [ -z "${CALLGRIND_OUT:-}" ] || cp "$work/callgrind.out" "$CALLGRIND_OUT"
  ir="$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$work/callgrind.out")"
  echo "Ir=$ir Ir_per_MB_moved=$(awk -v i="$ir" -v b="$moved" 'BEGIN { printf "%.0f", i / (b / 1e6) }')"
else
  cs="$(awk -F, '/context-switches/ { print $1 }' "$work/perf.out")"
  echo "context_switches=$cs per_MB_moved=$(awk -v c="$cs" -v b="$moved" 'BEGIN { printf "%.1f", c / (b / 1e6) }')"
fi
