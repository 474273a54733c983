# Sourced by the bench and soak scripts: free_port prints a loopback TCP port nothing
# listens on (random in 20000..31999, below the ephemeral range 32768+ so no client socket
# of ours holds it; up to 50 tries) or fails.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local candidate
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 12000))
    if ! port_in_use "$candidate"; then echo "$candidate"; return 0; fi
  done
  echo "no free port found" >&2
  return 1
}
