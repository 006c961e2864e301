#!/usr/bin/env bash
# SQL regression suite: runs pgrx-tests/sql/*.sql with pg_regress against a running cluster
# (scripts/cluster.sh start) that has vecmap installed (cargo pgrx install), and compares with
# pgrx-tests/expected/*.out. Exits non-zero and prints the diff on any difference.
#   scripts/regress.sh [test ...]        default: every pgrx-tests/sql/*.sql
# Env: VECMAP_PORT (default 55432), VECMAP_REGRESS_OUT (default: a fresh temp dir),
#      VECMAP_REGRESS_DB (default vecmap_regress).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${VECMAP_PORT:-55432}
DB=${VECMAP_REGRESS_DB:-vecmap_regress}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_REGRESS=${PG_REGRESS:-$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress}
PGBIN=${PGBIN:-$("$PG_CONFIG" --bindir)}
OUT=${VECMAP_REGRESS_OUT:-$(mktemp -d /tmp/vecmap-regress.XXXXXX)}
mkdir -p "$OUT"

if [ $# -gt 0 ]; then
  TESTS=("$@")
else
  TESTS=()
  for f in "$ROOT"/pgrx-tests/sql/*.sql; do TESTS+=("$(basename "$f" .sql)"); done
fi

# With --use-existing pg_regress neither drops nor creates the database: start from a fresh one
# with the settings pg_regress would give it.
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
  -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" \
  -c "ALTER DATABASE $DB SET lc_messages TO 'C'" \
  -c "ALTER DATABASE $DB SET lc_monetary TO 'C'" \
  -c "ALTER DATABASE $DB SET lc_numeric TO 'C'" \
  -c "ALTER DATABASE $DB SET lc_time TO 'C'" \
  -c "ALTER DATABASE $DB SET timezone_abbreviations TO 'Default'"

# Tests that use psql's \copy write their files relative to the working directory.
cd "$OUT"
status=0
"$PG_REGRESS" --use-existing --bindir="$PGBIN" --host=127.0.0.1 --port="$PORT" --user=postgres \
  --inputdir="$ROOT/pgrx-tests" --outputdir="$OUT" --dbname="$DB" "${TESTS[@]}" || status=$?

if [ "$status" -ne 0 ]; then
  [ -f "$OUT/regression.diffs" ] && cat "$OUT/regression.diffs"
  echo "regression suite FAILED (outputs in $OUT)" >&2
  exit "$status"
fi
echo "regression suite passed (${#TESTS[@]} tests; outputs in $OUT)"
