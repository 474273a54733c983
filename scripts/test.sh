#!/usr/bin/env bash
# Runs every check of the project: installs what the tests need (ffmpeg, ffprobe, rtmpdump,
# flvmeta, systemd-analyze for the unit check, mkfs.ext4 and losetup for fault tests, python3
# for the README's webhook receiver, dpkg-dev and cargo-deb for the Debian package test,
# chromium and a venv with playwright for the dashboard test) when missing, and Garage (the
# S3-compatible store the upload tests run against; built once with cargo install, cached in
# ~/.cargo/bin; 10 to 20 minutes on 2 cores, once), then cargo fmt --check, clippy -D
# warnings and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in ffmpeg ffprobe; do
  command -v "$tool" >/dev/null 2>&1 || need+=(ffmpeg)
done
command -v flvmeta >/dev/null 2>&1 || need+=(flvmeta)
command -v rtmpdump >/dev/null 2>&1 || need+=(rtmpdump)
# Only the package's files are needed (systemd-analyze verify); it is not started.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# Fault tests mount a loop-device ext4 image and a tmpfs.
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need+=(mount)
# The README's webhook receiver example is run by tests/hooks_readme.rs.
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The Debian package test: cargo-deb reads the binary's dependencies with dpkg-shlibdeps.
command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
# tests/dashboard_chromium.rs: Debian's Chromium driven by Playwright from a venv (below).
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi

# tests/dashboard_chromium.rs: the playwright package (its driver only: the browser is
# Debian's chromium, never `playwright install`) in a venv the test finds at this path.
playwright_version=1.65.2
playwright_venv="${RTMP_TEST_VENV:-$HOME/.cache/rtmp-server-test-venv}"
if ! "$playwright_venv/bin/python" -c "import playwright, sys; from importlib.metadata import version; sys.exit(version('playwright') != '$playwright_version')" >/dev/null 2>&1; then
  echo "== installing playwright $playwright_version into $playwright_venv"
  /usr/bin/python3 -m venv "$playwright_venv"
  "$playwright_venv/bin/pip" install --quiet "playwright==$playwright_version"
fi
export PLAYWRIGHT_PYTHON="$playwright_venv/bin/python"

# tests/package_deb.rs builds the .deb with scripts/package-deb.sh, at its pinned cargo-deb.
if ! cargo deb --version >/dev/null 2>&1; then
  cargo_deb_version=$(sed -n 's/^CARGO_DEB_VERSION=//p' scripts/package-deb.sh)
  echo "== installing cargo-deb $cargo_deb_version"
  cargo install cargo-deb --version "$cargo_deb_version" --locked --quiet
fi
# Garage for tests/upload_s3.rs: built from crates.io once, then cached in ~/.cargo/bin.
# Optimised lightly (no LTO, opt-level 1): a test store, built in minutes rather than tens.
GARAGE_VERSION=2.5.0
if ! command -v garage >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/garage" ]; then
  echo "== installing garage $GARAGE_VERSION (cargo install, once)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_TARGET_DIR="${TMPDIR:-/tmp}/garage-build" \
    cargo install garage --locked --version "$GARAGE_VERSION" --quiet
  rm -rf "${TMPDIR:-/tmp}/garage-build"
fi
export PATH="$PATH:$HOME/.cargo/bin"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
# Integration tests start servers and FFmpeg processes; two at a time suits a 2-core box.
cargo test --quiet -- --test-threads="${RTMP_TEST_THREADS:-2}"
