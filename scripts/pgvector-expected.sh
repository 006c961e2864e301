#!/usr/bin/env bash
# Regenerates pgrx-tests/expected/<test>.out from pgvector itself: runs pgrx-tests/sql/<test>.sql
# with `CREATE EXTENSION IF NOT EXISTS vector` in place of vecmap on a running cluster that has
# pgvector installed, then writes the output back with the vecmap line. Review the diff after.
#   scripts/pgvector-expected.sh test ...
# Env: VECMAP_PORT (default 55432), PG_CONFIG.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${VECMAP_PORT:-55432}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_REGRESS=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
DB=vecmap_pgvector_expected
[ $# -gt 0 ] || { echo "usage: $0 test ..." >&2; exit 2; }
tmp=$(mktemp -d /tmp/pgvector-expected.XXXXXX)
mkdir -p "$tmp/sql" "$tmp/expected"
for t in "$@"; do
  sed 's/^CREATE EXTENSION IF NOT EXISTS vecmap;$/CREATE EXTENSION IF NOT EXISTS vector;/' "$ROOT/pgrx-tests/sql/$t.sql" > "$tmp/sql/$t.sql"
  touch "$tmp/expected/$t.out"
done
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
  -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" \
  -c "ALTER DATABASE $DB SET lc_messages TO 'C'" -c "ALTER DATABASE $DB SET lc_numeric TO 'C'"
cd "$tmp"
"$PG_REGRESS" --use-existing --bindir="$("$PG_CONFIG" --bindir)" --host=127.0.0.1 --port="$PORT" --user=postgres \
  --inputdir="$tmp" --outputdir="$tmp" --dbname="$DB" "$@" >/dev/null || true  # outputs differ from the empty expected
for t in "$@"; do
  sed 's/^CREATE EXTENSION IF NOT EXISTS vector;$/CREATE EXTENSION IF NOT EXISTS vecmap;/' "$tmp/results/$t.out" > "$ROOT/pgrx-tests/expected/$t.out"
  echo "pgrx-tests/expected/$t.out regenerated from pgvector"
done
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
