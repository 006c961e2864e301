#!/usr/bin/env bash
# Start/stop a private PostgreSQL 15 cluster run by the `postgres` user (initdb refuses root).
#   scripts/cluster.sh start|stop|status|psql [args]|env
# Env: VECMAP_PORT (default 55432), VECMAP_PGDATA (default /tmp/vecmap-pg-$PORT),
#      VECMAP_INITDB_OPTS (e.g. "-k" for data checksums),
#      VECMAP_PG_OPTS (server options for this start, e.g. "-c shared_buffers=128MB").
set -euo pipefail
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
PORT=${VECMAP_PORT:-55432}
DATA=${VECMAP_PGDATA:-/tmp/vecmap-pg-$PORT}
SOCK=/tmp
LOG="$DATA.log"
# The data directory is the postgres user's (mode 0700): everything that touches it, or
# changes ownership, runs as postgres or through sudo (SUDO is empty for root).
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else sudo -u postgres "$@"; fi; }

case "${1:-}" in
  start)
    if ! as_pg test -f "$DATA/PG_VERSION"; then
      $SUDO mkdir -p "$DATA" && $SUDO chown postgres:postgres "$DATA" && $SUDO chmod 700 "$DATA"
      as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 ${VECMAP_INITDB_OPTS:-} >/dev/null
      as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
shared_buffers = 1GB
maintenance_work_mem = 1GB
max_parallel_maintenance_workers = 1
fsync = on
wal_level = replica
max_wal_senders = 4
CONF
    fi
    $SUDO touch "$LOG" && $SUDO chown postgres:postgres "$LOG"
    if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "${VECMAP_PG_OPTS:-}" start >/dev/null
    fi
    echo "PostgreSQL running: psql -h 127.0.0.1 -p $PORT -U postgres  (data $DATA, log $LOG)"
    ;;
  stop)
    if as_pg test -f "$DATA/postmaster.pid"; then as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true; fi
    ;;
  status) as_pg "$PGBIN/pg_ctl" -D "$DATA" status ;;
  psql) shift; exec psql -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@" ;;
  env) echo "PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres" ;;
  *) echo "usage: $0 start|stop|status|psql|env" >&2; exit 2 ;;
esac
