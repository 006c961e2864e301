"""Throw-away PostgreSQL clusters for durability tests: initdb, start, kill -9, base backups,
standbys. Each runs on its own loopback port and data directory, as the `postgres` user when
the tests run as root (initdb refuses root), otherwise as the user running the tests (e.g. one
with sudo): the tests open, damage and delete sidecars, stop and kill -9 their servers, and
need no privileges for that when the servers are their own."""
import os
import shutil
import signal
import subprocess
import time

import psycopg

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")


def as_postgres(*args, check=True):
    """Runs a command as the clusters' OS user: `postgres` for root, else ourselves."""
    cmd = list(args) if os.geteuid() != 0 else ["sudo", "-u", "postgres", *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Cluster:
    def __init__(self, name, port):
        self.port = port
        self.data = f"/tmp/vecmap-dur-{name}-{port}"
        self.log = self.data + ".log"

    # -- lifecycle --
    def init(self, checksums=False):
        self.destroy()
        os.makedirs(self.data)
        _own(self.data)
        opts = ["-k"] if checksums else []
        as_postgres(f"{PGBIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", *opts)
        self.configure()
        return self

    def configure(self):
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '/tmp'\n"
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = on\n"
                "shared_buffers = 128MB\nmax_parallel_maintenance_workers = 1\n"
            )

    def start(self):
        """Runs the postmaster as our child (through sudo), so that after a kill -9 it is reaped
        here: this sandbox's PID 1 does not reap orphans, and a zombie postmaster would keep
        its postmaster.pid looking alive."""
        log = open(self.log, "a")
        cmd = [f"{PGBIN}/postgres", "-D", self.data]
        if os.geteuid() == 0:
            cmd = ["sudo", "-u", "postgres", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.wait_ready()
        return self

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            as_postgres(f"{PGBIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)
        if getattr(self, "proc", None):
            self.proc.wait(timeout=120)
            self.proc = None

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def kill9(self):
        """SIGKILL the postmaster and every process it started: the server just stops."""
        pm = self.postmaster_pid()
        kids = [p for p in _pids() if _ppid(p) == pm]
        for p in [pm, *kids]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in [pm, *kids]:
            _wait_gone(p)
        if getattr(self, "proc", None):
            self.proc.wait(timeout=60)
            self.proc = None

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.data, ignore_errors=True)
        if os.path.exists(self.log):
            os.remove(self.log)

    def log_tail(self, lines=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return f"(no log: {e})"

    # -- clients --
    def connect(self, db="postgres", **kw):
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={db}", autocommit=True, **kw)

    def wait_ready(self, timeout=120):
        """Waits until the server accepts connections (after an automatic crash restart)."""
        deadline = time.monotonic() + timeout
        while True:
            if getattr(self, "proc", None) and self.proc.poll() is not None:
                raise RuntimeError(f"postmaster exited; last lines of {self.log}:\n{self.log_tail()}")
            r = subprocess.run([f"{PGBIN}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "5"], capture_output=True)
            if r.returncode == 0:
                try:
                    with self.connect() as c:
                        c.execute("SELECT 1")
                    return
                except psycopg.OperationalError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.port} not ready; last lines of {self.log}:\n{self.log_tail()}")
            time.sleep(0.05)  # poll interval while checking a condition

    # -- replication --
    def base_backup(self, target, extra=()):
        target.destroy()
        os.makedirs(target.data)
        _own(target.data)
        as_postgres(f"{PGBIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-D", target.data, "-c", "fast", "-X", "stream", *extra)
        # The copy carries our port; point it at its own.
        with open(os.path.join(target.data, "postgresql.conf"), "a") as f:
            f.write(f"\nport = {target.port}\n")
        return target

    def wait_replayed(self, standby, timeout=120, flushed=False):
        """Waits until `standby` has replayed everything this primary has written so far.
        By default up to the insert position: WAL of work without a transaction id (VACUUM)
        is flushed by the WAL writer, not by a commit. `flushed`: only what is flushed now."""
        with self.connect() as c:
            lsn = c.execute(f"SELECT pg_current_wal_{'flush' if flushed else 'insert'}_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with standby.connect() as s:
            while not s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(lsn),)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError("standby did not catch up")
                s.execute("SELECT pg_sleep(0.05)")  # poll interval of a condition check, not a synchronisation

    def sidecars(self, suffix=".vmap"):
        d = os.path.join(self.data, "vecmap")
        return sorted(f for f in os.listdir(d) if f.endswith(suffix)) if os.path.isdir(d) else []

    def sidecar_path(self, db, index):
        with self.connect(db) as c:
            spc, dbo, rel = c.execute(
                "SELECT coalesce(nullif(c.reltablespace, 0), (SELECT oid FROM pg_tablespace WHERE spcname='pg_default')),"
                " (SELECT oid FROM pg_database WHERE datname = current_database()), pg_relation_filenode(c.oid)"
                " FROM pg_class c WHERE relname = %s", (index,)).fetchone()
        return os.path.join(self.data, "vecmap", f"{spc}_{dbo}_{rel}.vmap")


def _own(path):
    """Makes a new data directory the clusters' OS user's, mode 0700."""
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    os.chmod(path, 0o700)


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return -1


def _wait_gone(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and _ppid(pid) != -1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except FileNotFoundError:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} did not exit")
        time.sleep(0.01)  # poll interval while checking a condition
