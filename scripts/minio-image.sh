#!/usr/bin/env bash
# minio-image.sh builds the local MinIO test image strata's remote tests run
# against, unless it is already there.
#
# The image holds one file: MinIO's server, built from its Go module at the
# pinned version below with CGO_ENABLED=0, in an image FROM scratch (plus
# empty /data and /tmp). Nothing is pulled from a container registry, so it
# works where none is reachable; it needs only go and docker.
#
# Usage:
#   scripts/minio-image.sh          build if missing; print the image name
#   scripts/minio-image.sh --name   print the image name only, build nothing
#
# The image name is the only thing written to stdout, so a caller can do
#   export STRATA_MINIO_IMAGE="$(scripts/minio-image.sh)"
# Progress goes to stderr.
set -euo pipefail

# The one place the pinned MinIO version lives. Change it here and the image
# tag changes with it, so an old image is never mistaken for the new one.
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
IMAGE="strata-minio:${MINIO_VERSION}"

log() { printf 'minio-image: %s\n' "$*" >&2; }

if [[ "${1:-}" == "--name" ]]; then
	printf '%s\n' "$IMAGE"
	exit 0
fi
if [[ $# -gt 0 ]]; then
	log "unknown argument: $1 (usage: $0 [--name])"
	exit 2
fi

for tool in go docker; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		log "$tool not found in PATH; it is needed to build $IMAGE"
		exit 1
	fi
done

if ! docker info >/dev/null 2>&1; then
	log "docker is not reachable (docker info failed); start the Docker daemon"
	exit 1
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
	log "$IMAGE already present; nothing to do"
	printf '%s\n' "$IMAGE"
	exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/strata-minio-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

start=$SECONDS
log "building MinIO ${MINIO_MODULE}@${MINIO_VERSION} (CGO_ENABLED=0 go install; a few minutes on a cold module cache)"
# Built outside any module (cd to the temp dir) so the project's go.mod and
# GOFLAGS such as -mod=vendor do not interfere.
(cd "$work" && CGO_ENABLED=0 GOBIN="$work/bin" GOFLAGS=-buildvcs=false go install "${MINIO_MODULE}@${MINIO_VERSION}")
built=$SECONDS
log "go install took $((built - start))s"

ctx="$work/context"
mkdir -p "$ctx/rootfs/data" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
chmod 0750 "$ctx/rootfs/data"
mv "$work/bin/minio" "$ctx/minio"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
COPY minio /minio
LABEL org.opencontainers.image.title="strata-minio" \\
      org.opencontainers.image.description="MinIO server ${MINIO_MODULE}@${MINIO_VERSION} built with CGO_ENABLED=0, for strata's tests" \\
      org.opencontainers.image.version="${MINIO_VERSION}"
ENV MINIO_CI_CD=1
EXPOSE 9000
ENTRYPOINT ["/minio"]
CMD ["server", "/data"]
DOCKERFILE

# Without the buildx plugin, the CLI falls back to the legacy builder; say
# so explicitly rather than have it fail or warn.
if ! docker buildx version >/dev/null 2>&1; then
	export DOCKER_BUILDKIT=0
fi

log "docker build -t $IMAGE"
docker build --quiet -t "$IMAGE" "$ctx" >&2
log "built $IMAGE in $((SECONDS - start))s ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
printf '%s\n' "$IMAGE"
