#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 60) with libFuzzer through
# cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1), seeded from fuzz/seeds (real FFmpeg
# and librtmp bytes); FUZZ_TARGETS="amf0 session" runs only those. Prints each target's executions; crashes are kept in fuzz/artifacts/
# and must become regression tests. Not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"
declare -A seed_dir=([amf3]=amf0 [command]=amf0)
summary=()
targets="${FUZZ_TARGETS:-handshake chunk_decoder amf0 amf3 command session flv_reader ts_demuxer}"
for target in $targets; do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  seeds="seeds/${seed_dir[$target]:-$target}"
  echo "== $target (${seconds}s)"
  log="$(mktemp)"
  if cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" "$seeds" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
  fi
  runs="$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)"
  cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)"
  summary+=("$target: $status, ${runs:-no run count}, ${cov:-}")
  [ "$status" = ok ] || tail -40 "$log"
  rm -f "$log"
done
printf '%s\n' "== summary" "${summary[@]}"
for line in "${summary[@]}"; do
  case "$line" in *CRASH*) exit 1 ;; esac
done
