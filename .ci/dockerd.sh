#!/usr/bin/env bash
# Starts a private Docker engine for the testcontainers tests, unless one already answers, and
# writes `export DOCKER_HOST=…` to .ci/.work/docker.env. It needs no image registry: tests use
# locally built images. Installs Debian's docker.io if dockerd is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .work
work="$(pwd)/.work"
sock="$work/docker.sock"
env_file="$work/docker.env"

if [ -n "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then
  echo "export DOCKER_HOST=$DOCKER_HOST" > "$env_file"
  exit 0
fi
if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
  echo "export DOCKER_HOST=unix://$sock" > "$env_file"
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi
root="$(mktemp -d /tmp/strata-dockerd.XXXXXX)"
nohup dockerd --iptables=false --ip6tables=false --bridge=none \
  --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/docker.pid" \
  --host "unix://$sock" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 1 100); do
  if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
    echo "export DOCKER_HOST=unix://$sock" > "$env_file"
    exit 0
  fi
  sleep 0.2
done
echo "dockerd did not start; its log:" >&2
tail -30 "$work/dockerd.log" >&2
exit 1
