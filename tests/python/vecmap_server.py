"""Connections to the test cluster (scripts/cluster.sh) and a fresh database per test module."""
import os
import uuid
from contextlib import contextmanager

import psycopg

PORT = int(os.environ.get("VECMAP_PORT", "55432"))
DSN = f"host=127.0.0.1 port={PORT} user=postgres"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def connect(dbname="postgres", **kw):
    return psycopg.connect(f"{DSN} dbname={dbname}", autocommit=True, **kw)


@contextmanager
def fresh_database(prefix="t"):
    """Creates a database with the extension; drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with connect() as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        with connect(name) as c:
            c.execute("CREATE EXTENSION vecmap")
        yield name
    finally:
        with connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def data_directory():
    with connect() as c:
        return c.execute("SHOW data_directory").fetchone()[0]


def vec(v):
    """Text form of a vector for SQL parameters."""
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


# ---- files in the server's data directory --------------------------------------------------
# The server runs as `postgres` and keeps its data directory (and $PGDATA/vecmap) mode 0700.
# Tests run as root read and write those files directly; run as another user (one with sudo)
# they go through SQL as superuser (listings, bytes, sizes) or `sudo -n -u <server user>`
# (modes and owners, writes). Each helper takes an absolute path under the data directory.

def _ours(path, mode=os.R_OK):
    """Whether this process may touch `path` itself: root, or the server's own OS user."""
    return os.access(path, mode)


def server_user():
    import pwd

    return pwd.getpwuid(os.stat(data_directory()).st_uid).pw_name


def as_server_user(*argv, input=None):
    """Runs a command as the server's OS user (sudo without a prompt); returns its stdout."""
    import subprocess

    r = subprocess.run(["sudo", "-n", "-u", server_user(), *argv], input=input, capture_output=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} as {server_user()} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout


def server_listdir(d):
    """Names in directory `d` (pg_ls_dir when it is not ours; [] when it does not exist)."""
    if _ours(d, os.R_OK | os.X_OK):
        return os.listdir(d)
    with connect() as c:
        return [r[0] for r in c.execute("SELECT pg_ls_dir(%s, true, false)", (d,))]


def server_read(path, length=None):
    """The bytes of a file, or its first `length` (pg_read_binary_file when it is not ours)."""
    if _ours(path):
        with open(path, "rb") as f:
            return f.read(-1 if length is None else length)
    with connect() as c:
        if length is None:
            return bytes(c.execute("SELECT pg_read_binary_file(%s)", (path,)).fetchone()[0])
        return bytes(c.execute("SELECT pg_read_binary_file(%s, 0, %s)", (path, length)).fetchone()[0])


def server_readable(path):
    """`path` itself when we may read it, else a private snapshot of its bytes (a temporary
    file, removed at exit) for code that opens a path."""
    if _ours(path):
        return path
    import atexit
    import tempfile

    fd, copy = tempfile.mkstemp(prefix="vecmap-snapshot-", suffix="-" + os.path.basename(path))
    atexit.register(lambda: os.path.exists(copy) and os.remove(copy))
    with os.fdopen(fd, "wb") as f:
        f.write(server_read(path))
    return copy


def server_write(path, offset, data):
    """Overwrites bytes of a file in place (no truncation, same inode)."""
    if _ours(path, os.W_OK):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(data)
        return
    as_server_user("dd", f"of={path}", "conv=notrunc,fsync", "oflag=seek_bytes", f"seek={offset}", "status=none", input=bytes(data))


def server_remove(path):
    """Deletes a file."""
    if _ours(os.path.dirname(path), os.W_OK | os.X_OK):
        os.remove(path)
    else:
        as_server_user("rm", "--", path)


_STAT = "import json, os, sys; st = os.{}(sys.argv[1]); print(json.dumps([tuple(st)[:10], os.path.realpath(sys.argv[1])]))"


def server_lstat(path, follow=False):
    """(os.stat_result, realpath) of `path`, as the server's user when it is not ours."""
    if _ours(os.path.dirname(path), os.X_OK):
        return (os.stat(path) if follow else os.lstat(path)), os.path.realpath(path)
    import json

    st, real = json.loads(as_server_user("/usr/bin/python3", "-c", _STAT.format("stat" if follow else "lstat"), path))
    return os.stat_result(st), real
