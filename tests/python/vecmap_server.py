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
