#!/usr/bin/env bash
# Side-by-side benchmark of rtmp-server against nginx-rtmp (issue 8).
#
# Installs nginx + libnginx-mod-rtmp when missing (apt-get, without starting the packaged
# service), builds release, and runs the same scenarios against both servers on loopback, both
# recording every stream to disk with chunk size 4096 and fed the same synthetic media by
# rtmp-bench. Every run gets a fresh server process; runs alternate ours, nginx, ours, nginx...
# nginx runs one worker; its CPU and RSS are the worker's (the master only supervises).
#   (a) ingest+record at full speed, 1 and 8 publishers: server CPU-seconds per GB ingested
#   (b) fan-out at 5 Mbit/s real time, 1 publisher to 50 and 200 players: server CPU %,
#       whether every player kept up, server-added latency p50/p99
#   (c) RSS with no clients, with 1 publisher + 50 players (peak during (b) at 50 players)
#       and with idle TCP connections that never handshake (measured within our 10 s
#       handshake timeout)
#   (d) stripped binary size, and time from process start to the first accepted TCP connect
#   (e) every output at once, 1 publisher at full speed, our CPU-seconds per GB ingested as
#       each output is added: FLV; FLV+MP4 (--record-format flv --record-format mp4); + HLS
#       (--hls); + a push to a second rtmp-server (started once, not measured)
#   (f) coalesced fan-out (issue 19): (b) for ours with --play-coalesce at each window of
#       BENCH_COALESCE_CURVE (ms), against the same runs' nginx: CPU and p99 and their ratios
# Fan-out media has a keyframe every 0.5 s (480 ms at 25 fps) and inter frames between, so
# any holding back shows in the latency of every frame.
# Prints medians and ratios ours/nginx. Stops every process it started; removes its temp dir.
# Environment: BENCH_SECONDS (default 8), BENCH_RUNS (default 3), BENCH_IDLE_CONNECTIONS
# (default 1000, the server's connection limit), BENCH_STARTS (default 5), BENCH_VERBOSE
# (set: also print every run's rtmp-bench JSON), BENCH_COALESCE_CURVE (default "0 5 10 20
# 40"; empty skips (f)).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-8}"
runs="${BENCH_RUNS:-3}"
idle_connections="${BENCH_IDLE_CONNECTIONS:-1000}"
starts="${BENCH_STARTS:-5}"
coalesce_curve="${BENCH_COALESCE_CURVE-0 5 10 20 40}"
rtmp_module=/usr/lib/nginx/modules/ngx_rtmp_module.so
script_start=$(date +%s)

# ---------------------------------------------------------------- nginx-rtmp
nginx_bin="$(command -v nginx 2>/dev/null || true)"
[ -n "$nginx_bin" ] || [ ! -x /usr/sbin/nginx ] || nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ] || [ ! -f "$rtmp_module" ]; then
  echo "== installing nginx libnginx-mod-rtmp"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package's post-install from starting nginx on port 80 (policy-rc.d exit 101:
  # "action forbidden"); only when no policy is in place, and removed again afterwards.
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  install() { $SUDO apt-get install -y -qq --no-install-recommends nginx libnginx-mod-rtmp >/dev/null; }
  install_ok=1
  install 2>/dev/null || { $SUDO apt-get update -qq && install; } || install_ok=""
  [ -z "$own_policy" ] || $SUDO rm -f "$policy"
  [ -n "$install_ok" ] || { echo "installing nginx libnginx-mod-rtmp failed" >&2; exit 1; }
  nginx_bin="$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)"
fi
[ -x "$nginx_bin" ] && [ -f "$rtmp_module" ] || { echo "nginx or $rtmp_module missing" >&2; exit 1; }

echo "== cargo build --release"
cargo build --release --quiet --bins
ours_bin=target/release/rtmp-server
bench_bin=target/release/rtmp-bench

# Every player and idle connection is a socket in the bench and one (ours: two) in the server.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then
  ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

work="$(mktemp -d -t rtmp-bench-compare.XXXXXX)"
chmod 755 "$work" # nginx's worker may run as nobody and must reach its record dir
started=()        # PIDs of the processes this script started and has not yet reaped
forget() {
  local pid kept=()
  for pid in "${started[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  started=("${kept[@]}")
}
cleanup() {
  local pid
  for pid in "${started[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${started[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=lib/free-port.sh
. scripts/lib/free-port.sh
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }

# Server state set by start_server: port, main pid (the one we stop), measured pid.
srv_port=""
srv_pid=""
srv_measure=""
srv_rec=""
srv_recorded=0 # bytes the last stopped server left in its record dir

# nginx_conf DIR PORT RECORD_DIR: writes DIR/nginx.conf. publish_notify makes nginx tell its
# players NetStream.Play.UnpublishNotify at the publisher's end, as ours does, which is how
# rtmp-bench's players know they saw the whole stream.
nginx_conf() {
  cat >"$1/nginx.conf" <<EOF
load_module $rtmp_module;
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$2;
    chunk_size 4096;
    application live {
      live on;
      publish_notify on;
      record all;
      record_path $3;
      record_unique on;
    }
  }
}
EOF
}

# start_server ours|nginx: a fresh server on a free port, recording to its own dir (three
# tries, each on another port, in case another process takes the port first).
start_server() {
  local kind="$1" try
  for try in 1 2 3; do
    srv_port="$(free_port)"
    srv_rec="$work/rec-$kind-$srv_port"
    mkdir -p "$srv_rec"
    if [ "$kind" != nginx ]; then
      # ours: defaults; ours@N: --play-coalesce Nms; oursmp4, ourshls, ourspush: outputs added.
      local extra=(--http-listen off)
      case "$kind" in
        ours@*) extra+=(--play-coalesce "${kind#ours@}ms") ;;
        oursmp4) extra+=(--record-format flv --record-format mp4) ;;
        ourshls | ourspush)
          extra=(--http-listen "127.0.0.1:$(free_port)" --record-format flv --record-format mp4 --hls)
          [ "$kind" = ourshls ] || extra+=(--push "rtmp://127.0.0.1:$sink_port/{app}/{stream}")
          ;;
      esac
      "$ours_bin" --listen "127.0.0.1:$srv_port" --log-level warn \
        --record-all --record-dir "$srv_rec" --chunk-size 4096 "${extra[@]}" 2>>"$work/ours.log" &
      srv_pid=$!
    else
      chmod 1777 "$srv_rec"
      local dir="$work/nginx-$srv_port"
      mkdir -p "$dir"
      nginx_conf "$dir" "$srv_port" "$srv_rec"
      "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$work/nginx.log" &
      srv_pid=$!
    fi
    started+=("$srv_pid")
    for _ in $(seq 1 200); do
      port_in_use "$srv_port" && break
      kill -0 "$srv_pid" 2>/dev/null || break
      sleep 0.025
    done
    kill -0 "$srv_pid" 2>/dev/null && port_in_use "$srv_port" && break
    srv_measure=""
    stop_server
    [ "$try" -lt 3 ] || {
      echo "$kind did not start:" >&2
      tail -n 20 "$work/$kind.log" >&2 2>/dev/null || true
      exit 1
    }
  done
  srv_measure="$srv_pid"
  if [ "$kind" = nginx ]; then
    srv_measure=""
    for _ in $(seq 1 100); do
      srv_measure="$(pgrep -P "$srv_pid" | head -n 1 || true)"
      [ -n "$srv_measure" ] && break
      sleep 0.02
    done
    [ -n "$srv_measure" ] || { echo "nginx worker of $srv_pid not found" >&2; exit 1; }
  fi
}

stop_server() {
  kill -TERM "$srv_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  forget "$srv_pid"
  srv_recorded=0
  if [ -n "$srv_measure" ] && [ "$srv_measure" != "$srv_pid" ]; then
    # nginx's worker: its master stops it; only after a master that had to be killed
    # could it outlive it.
    local gone=""
    for _ in $(seq 1 100); do
      kill -0 "$srv_measure" 2>/dev/null || { gone=1; break; }
      sleep 0.05
    done
    [ -n "$gone" ] || kill -KILL "$srv_measure" 2>/dev/null || true
  fi
  srv_recorded="$(du -sb "$srv_rec" 2>/dev/null | cut -f1 || echo 0)"
  rm -rf "$srv_rec"
}

# The value of "key" in rtmp-bench's one-line JSON object (numbers, true/false/null).
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }

# Results: results[key|ours] and results[key|nginx] hold space-separated per-run values.
declare -A results
add() { results["$1|$2"]="${results["$1|$2"]:-} $3"; }
median() {
  tr ' ' '\n' <<<"${1:-}" | grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench KIND NAME ARGS...: one rtmp-bench run against the running server; prints its JSON.
bench() {
  local kind="$1" name="$2"
  shift 2
  local json
  json="$(timeout --signal=KILL $((${seconds%.*} + 60)) "$bench_bin" --server "127.0.0.1:$srv_port" \
    --stream "$name-" --timeout 5 --duration "$seconds" --server-pid "$srv_measure" --json "$@" \
    2>>"$work/bench.log")" || true
  echo "   $kind $name: ${json:-(no result)}" >>"$work/runs.log"
  printf '%s' "$json"
}

# The push target of `ourspush`: a second rtmp-server that records nothing (not measured).
sink_port="$(free_port)"
"$ours_bin" --listen "127.0.0.1:$sink_port" --http-listen off --log-level error 2>>"$work/sink.log" &
started+=("$!")
for _ in $(seq 1 200); do
  port_in_use "$sink_port" && break
  sleep 0.025
done

# ---------------------------------------------------------------- (a) + (b) + (c) idle
echo "== $runs runs per scenario, ${seconds}s each, alternating ours/nginx"
for scenario in ingest1 ingest8 fanout50 fanout200; do
  kinds="ours nginx"
  [ "$scenario" = ingest1 ] && kinds="ours oursmp4 ourshls ourspush nginx"
  if [ "${scenario#fanout}" != "$scenario" ]; then
    for window in $coalesce_curve; do kinds="$kinds ours@$window"; done
  fi
  for run in $(seq 1 "$runs"); do
    for kind in $kinds; do
      start_server "$kind"
      sleep 0.3
      add rss_idle "$kind" "$(rss_kb "$srv_measure")"
      [ "$kind" != nginx ] || add rss_idle_master "$kind" "$(rss_kb "$srv_pid")"
      case "$scenario" in
        ingest*)
          pubs="${scenario#ingest}"
          bytes=""
          json="$(bench "$kind" "$scenario" --publishers "$pubs" --players 0)"
          cpu="$(field "$json" server_cpu_s)"
          bytes="$(field "$json" bytes_published)"
          wall="$(field "$json" wall_s)"
          if [ -n "$cpu" ] && [ -n "$bytes" ] && [ "$bytes" != 0 ]; then
            add "$scenario-cpu-per-gb" "$kind" "$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { printf "%.3f", c / (b / 1e9) }')"
            add "$scenario-mbps" "$kind" "$(awk -v w="$wall" -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 / w }')"
          fi
          ;;
        fanout*)
          players="${scenario#fanout}"
          json="$(bench "$kind" "$scenario" --publishers 1 --players "$players" --realtime --bitrate-kbps 5000 \
            --keyframe-ms 500)"
          add "$scenario-cpu" "$kind" "$(field "$json" server_cpu_pct)"
          add "$scenario-p50" "$kind" "$(field "$json" latency_p50_ms)"
          add "$scenario-p99" "$kind" "$(field "$json" latency_p99_ms)"
          add "$scenario-key-p50" "$kind" "$(field "$json" keyframe_latency_p50_ms)"
          add "$scenario-inter-p99" "$kind" "$(field "$json" inter_latency_p99_ms)"
          add "$scenario-rss" "$kind" "$(field "$json" server_peak_rss_kb)"
          add "$scenario-keptup" "$kind" "$(field "$json" players_kept_up)"
          [ "$(field "$json" all_kept_up)" = true ] && add "$scenario-allkept" "$kind" 1 || add "$scenario-allkept" "$kind" 0
          ;;
      esac
      printf '   %-9s run %s %-5s done (%ss elapsed)\n' "$scenario" "$run" "$kind" $(($(date +%s) - script_start))
      stop_server
      if [ "${scenario#ingest}" != "$scenario" ] && [ -n "${bytes:-}" ] && [ "$bytes" != 0 ]; then
        add "$scenario-mb-in" "$kind" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')"
        add "$scenario-mb-disk" "$kind" "$(awk -v r="${srv_recorded:-0}" 'BEGIN { printf "%.1f", r / 1e6 }')"
        add "$scenario-recorded-pct" "$kind" "$(awk -v r="$srv_recorded" -v b="$bytes" 'BEGIN { printf "%.1f", r / b * 100 }')"
        [ "${srv_recorded:-0}" = 0 ] ||
          add "$scenario-cpu-per-gb-rec" "$kind" "$(awk -v c="$cpu" -v r="$srv_recorded" 'BEGIN { printf "%.3f", c / (r / 1e9) }')"
      fi
    done
  done
done

# ---------------------------------------------------------------- (c) idle connections
cat >"$work/idle.py" <<'EOF'
# Opens N TCP connections that never handshake, writes how many opened to READY, holds them
# until DONE exists (at most 20 s), then prints "opened N alive M open_s SECONDS".
# Connects in bursts of 100, 50 ms apart, so neither server's listen backlog overflows
# (a dropped SYN costs the client a 1 s retransmit).
import os, select, socket, sys, time
port, count, ready, done = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
t0 = time.monotonic()
for i in range(count):
    if i and i % 100 == 0:
        time.sleep(0.05)
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
open_s = time.monotonic() - t0
with open(ready + ".tmp", "w") as f:
    f.write(str(len(socks)))
os.rename(ready + ".tmp", ready)
end = time.monotonic() + 20
while not os.path.exists(done) and time.monotonic() < end:
    time.sleep(0.05)
alive = 0
for s in socks:
    readable, _, _ = select.select([s], [], [], 0)
    try:
        if not readable or s.recv(1, socket.MSG_PEEK):
            alive += 1
    except OSError:
        pass
print("opened", len(socks), "alive", alive, "open_s", "%.2f" % open_s)
EOF
echo "== $idle_connections idle connections"
for run in $(seq 1 "$runs"); do
  for kind in ours nginx; do
    start_server "$kind"
    sleep 0.3
    base="$(rss_kb "$srv_measure")"
    rm -f "$work/ready" "$work/done"
    python3 "$work/idle.py" "$srv_port" "$idle_connections" "$work/ready" "$work/done" >"$work/idle.out" &
    idle_pid=$!
    started+=("$idle_pid")
    opened_at=$(date +%s.%N)
    for _ in $(seq 1 300); do
      [ -e "$work/ready" ] && break
      sleep 0.05
    done
    # Let the server take in the last connects, then sample for a second (well within the
    # 10 s handshake timeout counted from each connect).
    sleep 1
    peak=0
    for _ in $(seq 1 10); do
      now="$(rss_kb "$srv_measure")"
      [ "$now" -gt "$peak" ] && peak="$now"
      sleep 0.1
    done
    held_s="$(awk -v a="$opened_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
    touch "$work/done"
    wait "$idle_pid" 2>/dev/null || true
    forget "$idle_pid"
    read -r _ opened _ alive _ open_s <"$work/idle.out" || { opened=0; alive=0; open_s=-; }
    add rss_conns "$kind" "$peak"
    add kb_per_conn "$kind" "$(awk -v p="$peak" -v b="$base" -v n="$alive" 'BEGIN { if (n > 0) printf "%.1f", (p - b) / n; else print "-" }')"
    add conns_alive "$kind" "$alive"
    printf '   idle run %s %-5s opened %s in %ss, %s still open %ss after the first connect\n' \
      "$run" "$kind" "$opened" "$open_s" "$alive" "$held_s"
    stop_server
  done
done

# ---------------------------------------------------------------- (d) size and start time
strip_copy="$work/rtmp-server.stripped"
cp "$ours_bin" "$strip_copy"
strip "$strip_copy"
size_ours=$(stat -c %s "$strip_copy")
size_nginx=$(($(stat -c %s "$(readlink -f "$nginx_bin")") + $(stat -c %s "$rtmp_module")))

cat >"$work/start.py" <<'EOF'
# Starts argv[2:], polls 127.0.0.1:argv[1] every 0.2 ms until a connect succeeds (at most
# 10 s), prints the milliseconds from just before the spawn, then stops the process.
import signal, socket, subprocess, sys, time
port, cmd = int(sys.argv[1]), sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(*_):
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def on_term(*_):
    stop()
    sys.exit(1)


signal.signal(signal.SIGTERM, on_term)
elapsed = None
while time.perf_counter() - t0 < 10 and p.poll() is None:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        elapsed = (time.perf_counter() - t0) * 1000
        break
    except OSError:
        time.sleep(0.0002)
    finally:
        s.close()
stop()
print("%.2f" % elapsed if elapsed is not None else "-")
EOF
echo "== time to first accepted connection, $starts starts each"
for _ in $(seq 1 "$starts"); do
  for kind in ours nginx; do
    port="$(free_port)"
    rec="$work/start-rec-$port"
    mkdir -p "$rec"
    if [ "$kind" = ours ]; then
      cmd=("$ours_bin" --listen "127.0.0.1:$port" --http-listen off --log-level warn
        --record-all --record-dir "$rec" --chunk-size 4096)
    else
      dir="$work/nginx-start-$port"
      mkdir -p "$dir"
      chmod 1777 "$rec"
      nginx_conf "$dir" "$port" "$rec"
      cmd=("$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log")
    fi
    python3 "$work/start.py" "$port" "${cmd[@]}" >"$work/start.out" &
    start_pid=$!
    started+=("$start_pid")
    wait "$start_pid" || true
    forget "$start_pid"
    add start_ms "$kind" "$(cat "$work/start.out")"
    rm -rf "$rec"
  done
done

# ---------------------------------------------------------------- table
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "-") print "-"; else printf "%.*f", d, v }'; }
# row LABEL KEY DECIMALS SCALE TARGET: medians of both, divided by SCALE, and their ratio.
row() {
  local label="$1" key="$2" decimals="$3" scale="$4" target="$5" a b
  a="$(median "${results["$key|ours"]:-}")"
  b="$(median "${results["$key|nginx"]:-}")"
  [ "$a" = - ] || a="$(awk -v v="$a" -v s="$scale" 'BEGIN { print v / s }')"
  [ "$b" = - ] || b="$(awk -v v="$b" -v s="$scale" 'BEGIN { print v / s }')"
  printf '%-44s %11s %11s %10s  %s\n' "$label" "$(fmt "$a" "$decimals")" "$(fmt "$b" "$decimals")" "$(ratio "$a" "$b")" "$target"
}
# count LABEL KEY: runs in which every player kept up, out of all runs.
count() {
  local label="$1" key="$2" a b
  a="$(tr ' ' '\n' <<<"${results["$key|ours"]:-}" | grep -c '^1$' || true)"
  b="$(tr ' ' '\n' <<<"${results["$key|nginx"]:-}" | grep -c '^1$' || true)"
  printf '%-44s %11s %11s %10s  %s\n' "$label" "$a/$runs" "$b/$runs" "" "${3:-}"
}
plain() { printf '%-44s %11s %11s %10s  %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "${4:-}"; }

echo
echo "== rtmp-server vs nginx-rtmp $(dpkg-query -W -f '${Version}' nginx 2>/dev/null || true) / mod-rtmp $(dpkg-query -W -f '${Version}' libnginx-mod-rtmp 2>/dev/null || true): medians of $runs runs, ${seconds}s each, loopback, $(nproc) cores"
printf '%-44s %11s %11s %10s  %s\n' metric ours nginx ours/nginx "target (issue 8)"
row "(a) CPU-s per GB ingested, 1 publisher" ingest1-cpu-per-gb 3 1 "ratio <= 0.5"
row "(a) CPU-s per GB ingested, 8 publishers" ingest8-cpu-per-gb 3 1 "ratio <= 0.5"
row "    ingest MB/s, 1 publisher" ingest1-mbps 0 1 ""
row "    ingest MB/s, 8 publishers" ingest8-mbps 0 1 ""
row "    MB ingested, 1 publisher" ingest1-mb-in 0 1 ""
row "    MB on disk, 1 publisher" ingest1-mb-disk 0 1 ""
row "    MB ingested, 8 publishers" ingest8-mb-in 0 1 ""
row "    MB on disk, 8 publishers" ingest8-mb-disk 0 1 ""
row "    % of ingested bytes on disk, 1 publisher" ingest1-recorded-pct 1 1 ""
row "    % of ingested bytes on disk, 8 publishers" ingest8-recorded-pct 1 1 ""
row "    CPU-s per GB on disk, 1 publisher" ingest1-cpu-per-gb-rec 3 1 ""
row "    CPU-s per GB on disk, 8 publishers" ingest8-cpu-per-gb-rec 3 1 ""
row "(b) server CPU %, 50 players" fanout50-cpu 1 1 "ratio <= 0.7 (issue 19)"
count "    runs with every player kept up, 50" fanout50-allkept
row "    latency p50 ms, 50 players" fanout50-p50 3 1 ""
row "    latency p99 ms, 50 players" fanout50-p99 3 1 "ratio <= 0.1 (issue 19)"
row "      keyframes only, p50 ms, 50 players" fanout50-key-p50 3 1 ""
row "      other frames only, p99 ms, 50 players" fanout50-inter-p99 3 1 ""
row "(b) server CPU %, 200 players" fanout200-cpu 1 1 "ratio <= 0.7"
count "    runs with every player kept up, 200" fanout200-allkept "all, ours"
row "    players kept up (median), 200" fanout200-keptup 0 1 ""
row "    latency p50 ms, 200 players" fanout200-p50 3 1 ""
row "    latency p99 ms, 200 players" fanout200-p99 3 1 ""
row "      keyframes only, p50 ms, 200 players" fanout200-key-p50 3 1 ""
row "      other frames only, p99 ms, 200 players" fanout200-inter-p99 3 1 ""
row "(c) RSS MB, no clients" rss_idle 2 1024 "ours < 5 MB"
row "    RSS MB, 1 publisher + 50 players (peak)" fanout50-rss 2 1024 ""
row "    RSS MB, $idle_connections idle connections" rss_conns 2 1024 ""
row "    KB per idle connection" kb_per_conn 1 1 "ours < 100 KB"
row "    idle connections still open (median)" conns_alive 0 1 ""
plain "(d) stripped binary size KB" "$((size_ours / 1024))" "$((size_nginx / 1024))" ""
row "    time to first accepted connect, ms" start_ms 1 1 ""
flv_only="$(median "${results["ingest1-cpu-per-gb|ours"]:-}")"
nginx_flv="$(median "${results["ingest1-cpu-per-gb|nginx"]:-}")"
echo
echo "(e) every output at once, 1 publisher: our CPU-s per GB ingested"
printf '%-44s %11s %11s %10s  %s\n' outputs ours "FLV alone" "/nginx FLV" "target"
for kind in ours oursmp4 ourshls ourspush; do
  case "$kind" in
    ours) label="FLV" target="ratio to nginx <= 0.5" ;;
    oursmp4) label="FLV + MP4" target="<= 1.3x FLV alone (issue 15)" ;;
    ourshls) label="FLV + MP4 + HLS" target="ratio to nginx FLV <= 1.0" ;;
    ourspush) label="FLV + MP4 + HLS + push" target="" ;;
  esac
  value="$(median "${results["ingest1-cpu-per-gb|$kind"]:-}")"
  printf '%-44s %11s %11s %10s  %s\n' "    $label" "$(fmt "$value" 3)" "$(ratio "$value" "$flv_only")x" \
    "$(ratio "$value" "$nginx_flv")" "$target"
done
if [ -n "$coalesce_curve" ]; then
  echo
  echo "(f) --play-coalesce: our CPU % and latency p99 ms per window, and ratios to nginx's (same runs)"
  printf '%-10s %7s %6s %8s %6s   %7s %6s %8s %6s\n' window "cpu50" "/nginx" "p99-50" "/nginx" "cpu200" "/nginx" "p99-200" "/nginx"
  for window in nginx $coalesce_curve; do
    kind="ours@$window"
    [ "$window" = nginx ] && kind=nginx
    line=""
    for players in 50 200; do
      cpu="$(median "${results["fanout$players-cpu|$kind"]:-}")"
      p99="$(median "${results["fanout$players-p99|$kind"]:-}")"
      line="$line$(printf '%7s %6s %8s %6s   ' "$(fmt "$cpu" 2)" \
        "$(ratio "$cpu" "$(median "${results["fanout$players-cpu|nginx"]:-}")")" "$(fmt "$p99" 2)" \
        "$(ratio "$p99" "$(median "${results["fanout$players-p99|nginx"]:-}")")")"
    done
    printf '%-10s %s\n' "$([ "$window" = nginx ] && echo nginx || echo "${window} ms")" "$line"
  done
  echo "targets: with the default window CPU <= 0.7x and p99 <= 0.1x nginx at 50 and 200; at 0 ms CPU <= 1.0x and p99 < 2 ms at 50"
fi
echo
echo "nginx figures are its one worker process; its master adds $(fmt "$(awk -v v="$(median "${results["rss_idle_master|nginx"]:-}")" 'BEGIN { print v / 1024 }')" 2) MB RSS idle."
echo "nginx size is the binary ($(readlink -f "$nginx_bin")) + ngx_rtmp_module.so, both dynamically linked."
if [ -n "${BENCH_VERBOSE:-}" ]; then
  echo "== per-run rtmp-bench JSON"
  cat "$work/runs.log"
fi
cat "$work"/nginx-*/error.log >>"$work/nginx.log" 2>/dev/null || true
# Warnings and errors of the servers and the bench, counted by message.
for log in ours.log nginx.log bench.log; do
  if [ -s "$work/$log" ]; then
    echo "== $log: $(wc -l <"$work/$log") line(s), by message:"
    sed -E 's/^[0-9TZ:.-]+ \[[A-Z]+\] //; s/^[0-9/]+ [0-9:]+ \[[a-z]+\] [0-9#]+: //; s/ [a-z_]+=.*//; s/[0-9]+/N/g' \
      "$work/$log" | sort | uniq -c | sort -rn | head -n 8
  fi
done
echo "== done in $(($(date +%s) - script_start)) s"
