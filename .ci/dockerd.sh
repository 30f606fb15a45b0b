#!/usr/bin/env bash
# Makes a Docker engine available to the testcontainers tests and writes
# `export DOCKER_HOST=...` to .ci/.work/docker.env (also printed) for the caller to source.
#
# Reuses, in order: a working $DOCKER_HOST, then the private engine this script started
# before (on any checkout of the repo). Otherwise starts that private engine: dockerd with
# its own socket, data and exec roots under $STRATA_DOCKERD_DIR (default /tmp/strata-dockerd),
# no iptables and no bridge network (containers use the host's network), which works where
# the host's firewall and network namespaces are not ours to change. It needs root; Debian's
# docker.io is installed first if dockerd is missing. Nothing here pulls an image.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .work
env_file="$(pwd)/.work/docker.env"
dir="${STRATA_DOCKERD_DIR:-/tmp/strata-dockerd}"
sock="unix://$dir/docker.sock"

use() {
  echo "export DOCKER_HOST=$1" >"$env_file"
  echo "DOCKER_HOST=$1"
  exit 0
}
answers() { DOCKER_HOST="$1" timeout 10 docker info >/dev/null 2>&1; }

if [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null && answers "$DOCKER_HOST"; then
  use "$DOCKER_HOST"
fi

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9 # one starter at a time; the others then find its engine answering
if command -v docker >/dev/null && answers "$sock"; then
  use "$sock"
fi

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "dockerd.sh: Docker is not installed; install docker.io (Debian) as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

# An engine from an earlier run that is still starting is waited for, not started again.
if ! { pid="$(cat "$dir/docker.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; }; then
  # setsid: the engine outlives this script and the caller's process group; 9>&-: and does
  # not hold the lock.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    --host "$sock" </dev/null >"$dir/dockerd.log" 2>&1 9>&- &
fi
for _ in $(seq 1 150); do
  if answers "$sock"; then
    use "$sock"
  fi
  sleep 0.2
done
echo "dockerd.sh: dockerd did not answer on $sock within 30 s; its log:" >&2
tail -30 "$dir/dockerd.log" >&2
exit 1
