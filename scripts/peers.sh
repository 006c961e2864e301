#!/usr/bin/env bash
# Installs the extensions vecmap is tested beside, when the server lacks them, from the source
# archives in ../shared/vendor (never from the repository: their source and binaries are not ours
# to commit). Idempotent: an installed peer is left alone, so a warm run takes milliseconds.
#   scripts/peers.sh pgvector     pgvector 0.8.6 (`vector` extension), for the differential tests
# Where neither an installed copy nor the archive exists, prints one line saying what will be
# skipped and exits 0: the rest of the suite still runs.
# Env: PG_CONFIG, VECMAP_VENDOR (default ../shared/vendor beside the clone),
#      VECMAP_PEERS_BUILD (build directory, default target/peers).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
VENDOR=${VECMAP_VENDOR:-$ROOT/../shared/vendor}
BUILD=${VECMAP_PEERS_BUILD:-$ROOT/target/peers}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
EXT=$("$PG_CONFIG" --sharedir)/extension
LIB=$("$PG_CONFIG" --pkglibdir)

# A real pgvector's files: its control file names the `vector` module, and vector.so is
# pgvector's (vecmap installed under pgvector's names has no vector.so of its own).
pgvector_installed() {
  [ -f "$EXT/vector.control" ] && [ -f "$LIB/vector.so" ] && grep -q "module_pathname = '\$libdir/vector'" "$EXT/vector.control"
}

pgvector() {
  local archive="$VENDOR/pgvector-0.8.6.tar.gz"
  if pgvector_installed; then
    return 0
  fi
  if [ ! -f "$archive" ]; then
    echo "peers: pgvector is not installed and $archive is missing: the differential tests against pgvector are skipped"
    return 0
  fi
  echo "peers: building pgvector 0.8.6 from $archive"
  rm -rf "$BUILD/pgvector-0.8.6"
  mkdir -p "$BUILD"
  tar -xzf "$archive" -C "$BUILD"
  # pgvector's default OPTFLAGS (-march=native): it runs where it is built, and the benchmarks
  # compare against its fastest build.
  make -s -C "$BUILD/pgvector-0.8.6" PG_CONFIG="$PG_CONFIG" >/dev/null
  $SUDO make -s -C "$BUILD/pgvector-0.8.6" PG_CONFIG="$PG_CONFIG" install >/dev/null
  pgvector_installed || { echo "peers: pgvector install did not produce $EXT/vector.control and $LIB/vector.so" >&2; exit 1; }
  echo "peers: pgvector 0.8.6 installed into $LIB"
}

case "${1:-}" in
  pgvector) pgvector ;;
  *) echo "usage: $0 pgvector" >&2; exit 2 ;;
esac
