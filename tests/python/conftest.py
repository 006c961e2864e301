"""Fixtures for client-compatibility tests against a running cluster with vecmap installed.

Start one with `VECMAP_PORT=55499 scripts/cluster.sh start` after `cargo pgrx install`;
the tests connect to 127.0.0.1:$VECMAP_PORT (default 55432) as `postgres`.
Each test module gets a fresh database with `CREATE EXTENSION vecmap`.
"""
import os
import re

import pytest

# psycopg and pgvector are imported where used, so that other tests collected from this
# directory (e.g. the embedder's) do not need the client packages installed.

PORT = int(os.environ.get("VECMAP_PORT", "55432"))
HOST = os.environ.get("VECMAP_HOST", "127.0.0.1")


def conninfo(dbname: str) -> str:
    return f"host={HOST} port={PORT} user=postgres dbname={dbname}"


def admin_connect():
    import psycopg

    try:
        return psycopg.connect(conninfo("postgres"), autocommit=True)
    except psycopg.OperationalError as e:
        pytest.fail(f"no PostgreSQL at {HOST}:{PORT} (start one with scripts/cluster.sh start): {e}")


def create_database(name: str) -> None:
    with admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def dbname(request):
    """A fresh database for this test module, with the vecmap extension in public."""
    import psycopg

    name = "vecmap_pytest_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])
    create_database(name)
    with psycopg.connect(conninfo(name), autocommit=True) as c:
        c.execute("CREATE EXTENSION vecmap")
    yield name
    drop_database(name)


@pytest.fixture
def conn(dbname):
    """An autocommit psycopg 3 connection with pgvector-python's adapters registered."""
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(conninfo(dbname), autocommit=True) as c:
        register_vector(c)
        yield c


@pytest.fixture
def engine_url(dbname):
    """SQLAlchemy URL (psycopg 3 driver) of this module's database."""
    return f"postgresql+psycopg://postgres@{HOST}:{PORT}/{dbname}"
