#!/bin/sh
# SeaweedFS for the single-host compose: writes the S3 identity from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
# (the same pair the workers use) into a private file, then runs master + volume + filer + S3 (port 8333) in one
# process. Data lives in /data (a volume). Usage: seaweedfs-start.sh [extra `weed server` flags]
set -eu
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID must be set (deploy/.env)}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY must be set (deploy/.env)}"
case "$AWS_ACCESS_KEY_ID$AWS_SECRET_ACCESS_KEY" in
  *\"*|*\\*) echo "seaweedfs-start: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY must not contain \" or \\" >&2; exit 2 ;;
esac
DATA_DIR="${SEAWEEDFS_DATA_DIR:-/data}"
CONFIG_DIR="$(mktemp -d)"
umask 077
cat >"$CONFIG_DIR/s3.json" <<JSON
{"identities":[{"name":"plasticity","credentials":[{"accessKey":"$AWS_ACCESS_KEY_ID","secretKey":"$AWS_SECRET_ACCESS_KEY"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
mkdir -p "$DATA_DIR"
exec weed server -dir="$DATA_DIR" -ip.bind=0.0.0.0 -filer -s3 -s3.port="${SEAWEEDFS_S3_PORT:-8333}" -s3.config="$CONFIG_DIR/s3.json" "$@"
