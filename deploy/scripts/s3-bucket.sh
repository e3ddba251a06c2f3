#!/bin/sh
# One-shot job of the single-host compose: creates the artifact-store bucket in SeaweedFS (idempotent), retrying
# until SeaweedFS answers. Env: S3_BUCKET; SEAWEEDFS_MASTER (default seaweedfs:9333), SEAWEEDFS_FILER (seaweedfs:8888).
set -eu
: "${S3_BUCKET:?S3_BUCKET must be set (deploy/.env)}"
MASTER="${SEAWEEDFS_MASTER:-seaweedfs:9333}"
FILER="${SEAWEEDFS_FILER:-seaweedfs:8888}"
attempt=1
while :; do
  out="$(echo "s3.bucket.create -name $S3_BUCKET" | weed shell -master="$MASTER" -filer="$FILER" 2>&1 || true)"
  case "$out" in
    *"created bucket"*) echo "s3-bucket: created $S3_BUCKET"; exit 0 ;;
    *"already exists"*) echo "s3-bucket: $S3_BUCKET already exists"; exit 0 ;;
  esac
  if [ "$attempt" -ge 60 ]; then
    echo "s3-bucket: could not create bucket $S3_BUCKET via $MASTER / $FILER after $attempt attempts:" >&2
    echo "$out" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done
