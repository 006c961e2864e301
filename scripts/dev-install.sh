#!/usr/bin/env bash
# Fast developer install: build the extension (release) and copy it into the system PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"  # rustup's, as setup.sh installs it
sudo=(); [ "$(id -u)" = 0 ] || sudo=(--sudo)  # the PostgreSQL directories are root's
cargo pgrx install --release "${sudo[@]}" -c "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" "$@"
