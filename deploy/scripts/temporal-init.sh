#!/bin/sh
# One-shot job (temporalio/admin-tools image): waits for the server, creates the namespace and registers
# plasticity's search attributes (given as Name=Type arguments; they must match temporal/search-attributes.ts).
# Idempotent. Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default "default"), NAMESPACE_RETENTION (default 30d).
#   temporal-init.sh PlasticityExperiment=Keyword PlasticityStage=Keyword ...
set -eu
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must be set}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-30d}"
[ "$#" -gt 0 ] || { echo "temporal-init: expected search attributes as Name=Type arguments" >&2; exit 2; }

attempt=1
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  [ "$attempt" -lt 60 ] || { echo "temporal-init: server at $TEMPORAL_ADDRESS not healthy after $attempt attempts" >&2; exit 1; }
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "temporal-init: namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "temporal-init: created namespace $NAMESPACE (retention $RETENTION)"
fi

# A new namespace takes a few seconds to reach every frontend cache: retry the listing until it is known.
attempt=1
until existing="$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" 2>&1)"; do
  [ "$attempt" -lt 30 ] || { echo "temporal-init: cannot list search attributes of $NAMESPACE: $existing" >&2; exit 1; }
  attempt=$((attempt + 1))
  sleep 2
done
for pair in "$@"; do
  name="${pair%%=*}"
  type="${pair#*=}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "temporal-init: search attribute $name exists"
  else
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --name "$name" --type "$type"
    echo "temporal-init: registered search attribute $name ($type)"
  fi
done
