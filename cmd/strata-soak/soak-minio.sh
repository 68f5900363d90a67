#!/usr/bin/env bash
# soak-minio.sh: start a MinIO container on loopback from the locally built
# image ($STRATA_MINIO_IMAGE), run strata-soak against it with the arguments
# given (e.g. -duration 2m), and remove the container, whatever happens.
set -euo pipefail
image=${STRATA_MINIO_IMAGE:?set STRATA_MINIO_IMAGE (make soak does)}
user=soak
pass=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
cid=$(docker run -d --rm --label dev.strata.miniotest=soak -p 127.0.0.1::9000 \
	-e MINIO_ROOT_USER="$user" -e MINIO_ROOT_PASSWORD="$pass" "$image" server /data)
trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
port=$(docker port "$cid" 9000/tcp | grep -m1 '^127.0.0.1:' | cut -d: -f2)
dir=cmd/strata-soak  # run from the repository root, as make does
MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass \
	${GO:-go} run "./$dir" -remote "minio://127.0.0.1:$port/soak?secure=false&region=us-east-1&skip_prefix_check=true" -create-bucket "$@"
