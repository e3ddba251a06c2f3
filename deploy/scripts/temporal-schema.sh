#!/bin/sh
# One-shot job (temporalio/admin-tools image): creates or upgrades Temporal's two PostgreSQL databases
# (temporal, temporal_visibility). Safe to re-run: existing databases are kept and only missing schema versions are
# applied. Env: POSTGRES_SEEDS, POSTGRES_USER, SQL_PASSWORD; DB_PORT (default 5432).
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS must be set}"
: "${POSTGRES_USER:?POSTGRES_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"
PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do
  echo "temporal-schema: waiting for PostgreSQL at $POSTGRES_SEEDS:$PORT"
  sleep 2
done

for db in temporal temporal_visibility; do
  case "$db" in temporal) dir="$SCHEMA_DIR/temporal/versioned" ;; *) dir="$SCHEMA_DIR/visibility/versioned" ;; esac
  tool="temporal-sql-tool --plugin postgres12 --ep $POSTGRES_SEEDS -p $PORT -u $POSTGRES_USER --db $db"
  $tool create 2>/dev/null || echo "temporal-schema: database $db exists"
  $tool setup-schema -v 0.0
  $tool update-schema -d "$dir"
  echo "temporal-schema: $db is up to date"
done
