#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed with `cargo install` when missing, at
# the version below): the release binary at /usr/bin/rtmp-server, the systemd units, the
# example config as the conffile /etc/rtmp-server/rtmp-server.toml, README and LICENSE, and a
# postinst that creates the rtmp-server user (see [package.metadata.deb] in Cargo.toml).
# Uses cargo's target dir (CARGO_TARGET_DIR when set), so an earlier release build is reused.
# Prints the .deb's path as its last line. Nothing is installed on this machine:
#   dpkg-deb -I/-c FILE.deb   to look inside;   sudo apt install ./FILE.deb   to install.
#
# Usage: scripts/package-deb.sh [cargo-deb options...]   (e.g. --fast, --deb-revision 2)
set -euo pipefail
CARGO_DEB_VERSION=3.8.0
# A relative CARGO_TARGET_DIR is relative to where the script was started, as for cargo.
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ "${CARGO_TARGET_DIR#/}" = "$CARGO_TARGET_DIR" ]; then
  export CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR"
fi
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked >&2
fi

OUT_DIR=$TARGET_DIR/debian
mkdir -p "$OUT_DIR"
# cargo-deb builds target/release/rtmp-server (an up-to-date build is reused) and packs it.
deb=$(CARGO_TARGET_DIR="$TARGET_DIR" cargo deb --locked --output "$OUT_DIR" "$@" | tail -n 1)
[ -f "$deb" ] || { echo "package-deb.sh: cargo deb made no package ($deb)" >&2; exit 1; }
echo "== built $deb" >&2
echo "$deb"
