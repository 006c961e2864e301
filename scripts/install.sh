#!/usr/bin/env bash
# Build the extension (release) and install it into the system PostgreSQL 15. Files are
# replaced by unlink + create, never overwritten in place: a running backend that has
# vecmap.so mapped keeps its old copy instead of dying with SIGBUS.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
cargo pgrx package -c "$PG_CONFIG" >/dev/null
stage=$(find target/release -maxdepth 1 -type d -name 'vecmap-pg15' | head -1)
[ -n "$stage" ] || { echo "install: no package in target/release" >&2; exit 1; }
(cd "$stage" && find . -type f) | while read -r f; do
  dest="/${f#./}"
  $SUDO mkdir -p "$(dirname "$dest")"
  $SUDO cp --remove-destination "$stage/$f" "$dest"
done
echo "install: vecmap installed into $($PG_CONFIG --pkglibdir) and $($PG_CONFIG --sharedir)/extension"
