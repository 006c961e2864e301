#!/usr/bin/env bash
# Build the extension (release) and install it into the system PostgreSQL 15. Files are
# replaced by unlink + create, never overwritten in place: a running backend that has
# vecmap.so mapped keeps its old copy instead of dying with SIGBUS.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
[ -x "$HOME/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"  # rustup's, as setup.sh installs it
out="${CARGO_TARGET_DIR:-target}/release"
rm -rf "$out/vecmap-pg15"  # pgrx package does not clear files of earlier versions
cargo pgrx package -c "$PG_CONFIG" >/dev/null
stage=$(find "$out" -maxdepth 1 -type d -name 'vecmap-pg15' | head -1)
[ -n "$stage" ] || { echo "install: no package in $out" >&2; exit 1; }
(cd "$stage" && find . -type f) | while read -r f; do
  dest="/${f#./}"
  $SUDO mkdir -p "$(dirname "$dest")"
  $SUDO cp --remove-destination "$stage/$f" "$dest"
done
# Frozen install scripts of earlier versions (update scripts come with the package).
for f in sql/vecmap--[0-9]*.sql; do
  case "$f" in *--*--*) continue ;; esac
  # The current version's script is the generated one.
  [ -n "$(find "$stage" -name "$(basename "$f")" | head -1)" ] && continue
  [ -e "$f" ] && $SUDO cp --remove-destination "$f" "$($PG_CONFIG --sharedir)/extension/"
done
echo "install: vecmap installed into $($PG_CONFIG --pkglibdir) and $($PG_CONFIG --sharedir)/extension"
