#!/usr/bin/env bash
# Fast developer install: build the extension (release) and copy it into the system PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo pgrx install --release -c "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" "$@"
