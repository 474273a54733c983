#!/usr/bin/env bash
# Installs rtmp-server as a systemd service; safe to run again (upgrades keep the config,
# keys and recordings). Builds the release binary (as the invoking user under sudo), then as
# root: creates the rtmp-server system user, /var/lib/rtmp-server/recordings and
# /etc/rtmp-server (rtmp-server.toml: scripts/rtmp-server.toml plus the install's settings;
# an empty extra-flags file; a publish key file with a random key; each only when missing),
# checks the config with check-config, installs the binary and the .service/.socket units,
# enables the socket and (re)starts the service. The key itself is never printed: read
# /etc/rtmp-server/publish.keys.
#
# Environment: PREFIX (default /usr/local), UNIT_DIR (default /etc/systemd/system),
# CARGO_TARGET_DIR (cargo's; the binary is taken from $CARGO_TARGET_DIR/release, default
# target/release), SKIP_BUILD=1 to install an already built binary.
#
# With socket activation (rtmp-server.socket, enabled here) the RTMP port is the socket unit's
# ListenStream=, not the config file's listen: change it with systemctl edit rtmp-server.socket.
set -euo pipefail
# A relative CARGO_TARGET_DIR is relative to where the script was started, as for cargo.
TARGET_DIR=${CARGO_TARGET_DIR:-}
if [ -n "$TARGET_DIR" ] && [ "${TARGET_DIR#/}" = "$TARGET_DIR" ]; then
  TARGET_DIR="$PWD/$TARGET_DIR"
fi
cd "$(dirname "$0")/.."
TARGET_DIR=${TARGET_DIR:-$PWD/target}

PREFIX=${PREFIX:-/usr/local}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
USER_NAME=rtmp-server
STATE_DIR=/var/lib/rtmp-server
RECORD_DIR=$STATE_DIR/recordings
CONFIG_DIR=/etc/rtmp-server
BINARY=$TARGET_DIR/release/rtmp-server

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building $BINARY"
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ]; then
    # A login shell finds the user's toolchain (~/.cargo/env); sudo's PATH would not.
    # sudo drops CARGO_TARGET_DIR: it is passed on explicitly.
    sudo -u "$SUDO_USER" -H bash -lc 'cd "$1" && CARGO_TARGET_DIR="$2" cargo build --release --locked' \
      _ "$PWD" "$TARGET_DIR"
  else
    CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked
  fi
fi
[ -x "$BINARY" ] || { echo "install.sh: $BINARY missing; build it first" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: the install steps need root; run: sudo $0" >&2
  exit 1
fi

echo "== user $USER_NAME"
getent group "$USER_NAME" >/dev/null || groupadd --system "$USER_NAME"
id -u "$USER_NAME" >/dev/null 2>&1 ||
  useradd --system --gid "$USER_NAME" --home-dir "$STATE_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "rtmp-server" "$USER_NAME"

echo "== directories"
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR" "$RECORD_DIR"
install -d -m 0750 -o root -g "$USER_NAME" "$CONFIG_DIR"

if [ ! -e "$CONFIG_DIR/publish.keys" ]; then
  echo "== $CONFIG_DIR/publish.keys (new random key for live/*)"
  key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  (
    umask 0037
    printf '# app/stream secret  or  app/* secret; publish to rtmp://HOST/app/stream?key=SECRET\n' \
      >"$CONFIG_DIR/publish.keys"
    printf 'live/* %s\n' "$key" >>"$CONFIG_DIR/publish.keys"
  )
  chown root:"$USER_NAME" "$CONFIG_DIR/publish.keys"
fi
if [ ! -e "$CONFIG_DIR/rtmp-server.toml" ]; then
  echo "== $CONFIG_DIR/rtmp-server.toml (every key documented; the install's settings at the end)"
  {
    cat scripts/rtmp-server.toml
    printf '\n# Set by install.sh. A record_dir elsewhere also needs ReadWritePaths= for it:\n'
    printf '# systemctl edit rtmp-server\n'
    printf '# The RTMP port lives in the socket unit (rtmp-server.socket, ListenStream=1935), which\n'
    printf '# install.sh enables: while it is active, listen below is not used. Change the port with\n'
    printf '# systemctl edit rtmp-server.socket, then stop rtmp-server and the socket and start both.\n'
    printf 'listen = "0.0.0.0:1935"\nrecord_all = true\nrecord_dir = "%s"\n' "$RECORD_DIR"
    printf 'publish_keys = "%s"\n' "$CONFIG_DIR/publish.keys"
  } >"$CONFIG_DIR/rtmp-server.toml"
  chmod 0640 "$CONFIG_DIR/rtmp-server.toml"
  chown root:"$USER_NAME" "$CONFIG_DIR/rtmp-server.toml"
fi
"$BINARY" check-config "$CONFIG_DIR/rtmp-server.toml"
if [ ! -e "$CONFIG_DIR/rtmp-server.env" ]; then
  echo "== $CONFIG_DIR/rtmp-server.env (extra flags, empty)"
  cat >"$CONFIG_DIR/rtmp-server.env" <<ENV
# Extra flags for rtmp-server, after --config $CONFIG_DIR/rtmp-server.toml (they override its
# keys). Settings belong in that file; apply with: systemctl restart rtmp-server
# The RTMP port lives in the socket unit (rtmp-server.socket, ListenStream=1935): with it
# active --listen is not used; change the port with: systemctl edit rtmp-server.socket
RTMP_SERVER_ARGS=
ENV
  chmod 0640 "$CONFIG_DIR/rtmp-server.env"
  chown root:"$USER_NAME" "$CONFIG_DIR/rtmp-server.env"
fi

echo "== binary and units"
install -D -m 0755 "$BINARY" "$PREFIX/bin/rtmp-server"
install -d -m 0755 "$UNIT_DIR"
# The unit names the Debian package's /usr/bin/rtmp-server; this install's path replaces it.
sed "s|^ExecStart=/usr/bin/rtmp-server |ExecStart=$PREFIX/bin/rtmp-server |" scripts/rtmp-server.service \
  >"$UNIT_DIR/rtmp-server.service"
install -m 0644 scripts/rtmp-server.socket "$UNIT_DIR/rtmp-server.socket"
chmod 0644 "$UNIT_DIR/rtmp-server.service"

if [ -d /run/systemd/system ]; then
  echo "== systemctl"
  systemctl daemon-reload
  systemctl enable --now rtmp-server.socket
  systemctl enable rtmp-server.service
  systemctl restart rtmp-server.service
  systemctl --no-pager --lines=0 status rtmp-server.service || true
else
  echo "== systemd is not running here: units installed, not started"
fi
echo "== done"
