#!/usr/bin/env bash
# Builds Ballast's image with podman (or buildah): scripts/build-image.sh [tag] (default ballast:0.1.0).
#
# Environment:
#   NODE_IMAGE           the base image (default docker.io/library/node:20-bookworm-slim)
#   NODE_EXTRA_CA_CERTS  a CA bundle for a TLS-intercepting proxy; mounted into the build so
#                        that npm trusts it (the image itself does not keep it)
#   BUILD_FLAGS          more flags for `podman build`, e.g. on a host without CAP_SYS_RESOURCE
#                        and with cgroups v1: "--runtime runc --ulimit nofile=20000:20000
#                        --ulimit nproc=8192:8192" (the container's limits at the host's or below)
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-ballast:0.1.0}"
args=(--format docker --tag "$tag" --file Dockerfile)
[ -n "${NODE_IMAGE:-}" ] && args+=(--build-arg "NODE_IMAGE=$NODE_IMAGE")
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  args+=(--volume "$NODE_EXTRA_CA_CERTS:/run/ballast-build/extra-ca.crt:ro")
  args+=(--build-arg "NODE_EXTRA_CA_CERTS=/run/ballast-build/extra-ca.crt")
fi
# shellcheck disable=SC2206 # BUILD_FLAGS is a list of words on purpose
[ -n "${BUILD_FLAGS:-}" ] && args+=(${BUILD_FLAGS})

if command -v podman >/dev/null 2>&1; then
  exec podman build "${args[@]}" .
elif command -v buildah >/dev/null 2>&1; then
  exec buildah bud "${args[@]}" .
else
  echo "build-image: neither podman nor buildah is installed (docker build -t $tag . works too)" >&2
  exit 1
fi
