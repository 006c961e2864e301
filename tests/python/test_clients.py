"""pgvector clients work unchanged against vecmap's `vector`: psycopg 3 with pgvector-python
(text and binary protocols, COPY BINARY) and SQLAlchemy 2 with pgvector.sqlalchemy."""
import struct

import numpy as np
import psycopg
import pytest
from pgvector import Vector
from pgvector.psycopg import register_vector
from psycopg.adapt import Dumper
from psycopg.pq import Format
from pgvector.sqlalchemy import Vector as SAVector, avg as sa_avg, sum as sa_sum
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from conftest import admin_connect, conninfo, create_database, drop_database

RNG = np.random.default_rng(20240611)

# Bit patterns that must survive every path unchanged: signed zero, subnormals, extremes.
EDGE = np.array([0.0, -0.0, 1e-45, -1e-45, 1.1754944e-38, 3.4028235e38, -3.4028235e38, 0.1, 1 / 3],
                dtype=np.float32)


def bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).view(np.uint32)


@pytest.fixture
def table(conn):
    conn.execute("DROP TABLE IF EXISTS items")
    conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector, e3 vector(3))")
    yield "items"
    conn.execute("DROP TABLE items")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_numpy_round_trip(conn, table, binary):
    rows = [(i, RNG.standard_normal(dim).astype(np.float32)) for i, dim in enumerate([1, 3, 384, 1536, 16000])]
    rows.append((len(rows), EDGE))
    placeholder = "%b" if binary else "%t"
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO items (id, embedding) VALUES (%s, {placeholder})", rows)
        cur.execute("SELECT id, embedding FROM items ORDER BY id", binary=binary)
        got = cur.fetchall()
    assert [r[0] for r in got] == [r[0] for r in rows]
    for (_, want), (_, vec) in zip(rows, got):
        assert isinstance(vec, Vector)
        assert np.array_equal(bits(vec.to_numpy()), bits(want))


def test_server_text_and_bytes_are_pgvectors(conn):
    """Text output is float4out's; binary output is int16 dim, int16 0, big-endian float4s."""
    arr = np.array([1e-7, 123456789, 0.1, -0.0], dtype=np.float32)
    with conn.cursor() as cur:
        cur.execute("SELECT %b::text, vector_send(%b)", (arr, arr))
        text, sent = cur.fetchone()
    assert text == "[1e-07,1.2345679e+08,0.1,-0]"
    assert sent == struct.pack(">HH", 4, 0) + arr.astype(">f4").tobytes()
    assert sent == Vector(arr).to_binary()


def test_binary_results_of_expressions(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT %b + %b, %b <-> %b", (np.array([1, 2], np.float32), np.array([3, 4], np.float32),
                                                 np.array([0, 0], np.float32), np.array([3, 4], np.float32)),
                    binary=True)
        total, dist = cur.fetchone()
    assert total.to_list() == [4.0, 6.0]
    assert dist == 5.0


class RawBytes(bytes):
    """Sent as-is as a binary `vector` parameter."""


def test_binary_parameters_are_validated(conn, table):
    oid = psycopg.types.TypeInfo.fetch(conn, "vector").oid
    conn.adapters.register_dumper(RawBytes, type("", (Dumper,), {"format": Format.BINARY, "oid": oid,
                                                                  "dump": lambda self, obj: bytes(obj)}))
    cases = [
        (struct.pack(">HH", 1, 1) + struct.pack(">f", 1), "22000", "expected unused to be 0, not 1"),
        (struct.pack(">HH", 0, 0), "22000", "vector must have at least 1 dimension"),
        (struct.pack(">HH", 16001, 0), "54000", "vector cannot have more than 16000 dimensions"),
        (struct.pack(">HH", 1, 0) + struct.pack(">f", float("nan")), "22000", "NaN not allowed in vector"),
        (struct.pack(">HH", 1, 0) + struct.pack(">f", float("inf")), "22000", "infinite value not allowed in vector"),
        (struct.pack(">HH", 2, 0) + struct.pack(">f", 1), "08P01", "insufficient data left in message"),
        (struct.pack(">HH", 1, 0) + struct.pack(">ff", 1, 2), "22P03", "incorrect binary data format"),
    ]
    for payload, sqlstate, message in cases:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT %b::text", [RawBytes(payload)])
        assert err.value.sqlstate == sqlstate, payload
        assert message in str(err.value), payload
    # a typmod on the target column is enforced for binary parameters too
    with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2"):
        conn.execute("INSERT INTO items (id, e3) VALUES (1, %b)", [np.array([1, 2], np.float32)])
    conn.execute("INSERT INTO items (id, e3) VALUES (1, %b)", [RawBytes(Vector([1, 2, 3]).to_binary())])
    assert conn.execute("SELECT e3::text FROM items").fetchone()[0] == "[1,2,3]"


def test_text_parameters_are_validated(conn):
    for literal, sqlstate in [("[1,2", "22P02"), ("[1e39]", "22003"), ("[NaN]", "22000"), ("[]", "22000")]:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT %s::vector", [literal])
        assert err.value.sqlstate == sqlstate, literal


def test_copy_binary(conn, table):
    rows = [(i, RNG.standard_normal(64).astype(np.float32)) for i in range(200)]
    rows.append((200, EDGE))
    with conn.cursor() as cur:
        with cur.copy("COPY items (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for row in rows:
                copy.write_row(row)
        with cur.copy("COPY (SELECT id, embedding FROM items ORDER BY id) TO STDOUT WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            got = list(copy.rows())
        # and the server computes on what it received
        cur.execute("SELECT embedding::text FROM items WHERE id = 200")
        assert cur.fetchone()[0] == "[0,-0,1e-45,-1e-45,1.1754944e-38,3.4028235e+38,-3.4028235e+38,0.1,0.33333334]"
    assert [r[0] for r in got] == [r[0] for r in rows]
    for (_, want), (_, vec) in zip(rows, got):
        assert np.array_equal(bits(vec.to_numpy()), bits(want))


def test_copy_binary_typmod_checked(conn):
    conn.execute("CREATE TEMP TABLE v3 (v vector(3))")
    with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2"):
        with conn.cursor().copy("COPY v3 FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["vector"])
            copy.write_row([np.array([1, 2], np.float32)])


# --- SQLAlchemy 2 ORM with pgvector.sqlalchemy ---------------------------------------------

DIM = 16


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "orm_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    embedding = mapped_column(SAVector(DIM))


@pytest.fixture
def orm(engine_url):
    engine = create_engine(engine_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    data = RNG.standard_normal((500, DIM)).astype(np.float32)
    with Session(engine) as s:
        s.add_all([Item(id=i, embedding=data[i]) for i in range(len(data))])
        s.commit()
    yield engine, data
    Base.metadata.drop_all(engine)
    engine.dispose()


def test_sqlalchemy_schema_and_round_trip(orm):
    engine, data = orm
    with engine.connect() as c:
        coltype = c.exec_driver_sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'orm_items'::regclass AND attname = 'embedding'").scalar()
    assert coltype == f"vector({DIM})"
    with Session(engine) as s:
        item = s.get(Item, 7)
        assert np.array_equal(bits(item.embedding), bits(data[7]))


@pytest.mark.parametrize("metric", ["l2_distance", "cosine_distance", "max_inner_product", "l1_distance"])
def test_sqlalchemy_nearest_neighbours(orm, metric):
    engine, data = orm
    d = data.astype(np.float64)
    for q in RNG.standard_normal((5, DIM)).astype(np.float32):
        qd = q.astype(np.float64)
        score = {
            "l2_distance": np.linalg.norm(d - qd, axis=1),
            "cosine_distance": 1 - d @ qd / (np.linalg.norm(d, axis=1) * np.linalg.norm(qd)),
            "max_inner_product": -(d @ qd),
            "l1_distance": np.abs(d - qd).sum(axis=1),
        }[metric]
        want = list(np.argsort(score, kind="stable")[:5])
        with Session(engine) as s:
            got = s.scalars(select(Item).order_by(getattr(Item.embedding, metric)(q)).limit(5)).all()
            dists = s.scalars(select(getattr(Item.embedding, metric)(q)).order_by(Item.id)).all()
        assert [i.id for i in got] == want
        assert np.allclose(dists, score, rtol=1e-5, atol=1e-5)


def test_sqlalchemy_aggregates(orm):
    engine, data = orm
    with Session(engine) as s:
        mean = s.scalar(select(sa_avg(Item.embedding)))
        total = s.scalar(select(sa_sum(Item.embedding)))
        n = s.scalar(select(func.count()).select_from(Item))
    assert n == len(data)
    assert np.allclose(mean, data.astype(np.float64).mean(axis=0), atol=1e-6)
    assert np.allclose(total, data.astype(np.float64).sum(axis=0), atol=1e-3)


# --- Beside pgvector -------------------------------------------------------------------------

def test_beside_pgvector():
    """With pgvector's `vector` in public and vecmap in schema vecmap, both work in one session
    and agree byte for byte. Skipped when pgvector is not installed on the server."""
    with admin_connect() as admin:
        if admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is None:
            pytest.skip("pgvector is not installed on this server")
    name = "vecmap_pytest_beside_pgvector"
    create_database(name)
    try:
        with psycopg.connect(conninfo(name), autocommit=True) as c:
            c.execute("CREATE EXTENSION vector")
            c.execute("CREATE SCHEMA vecmap")
            c.execute("CREATE EXTENSION vecmap SCHEMA vecmap")
            register_vector(c)  # pgvector's type, found through the search_path
            ours = psycopg.types.TypeInfo.fetch(c, "vecmap.vector")
            assert ours.oid != psycopg.types.TypeInfo.fetch(c, "vector").oid
            c.execute("CREATE TABLE t (id int, a vector(8), b vecmap.vector(8))")
            data = RNG.standard_normal((50, 8)).astype(np.float32)
            with c.cursor() as cur:
                cur.executemany("INSERT INTO t VALUES (%s, %b, %b::text::vecmap.vector)",
                                [(i, v, v) for i, v in enumerate(data)])
                cur.execute("SELECT count(*) FROM t WHERE a::text <> b::text "
                            "OR vector_send(a) <> vecmap.vector_send(b)")
                assert cur.fetchone()[0] == 0
                q = data[0]
                cur.execute("SELECT id FROM t ORDER BY a <=> %b, id LIMIT 5", [q])
                theirs = [r[0] for r in cur.fetchall()]
                cur.execute("SELECT id FROM t ORDER BY b OPERATOR(vecmap.<=>) %b::text::vecmap.vector, id LIMIT 5", [q])
                assert [r[0] for r in cur.fetchall()] == theirs
    finally:
        drop_database(name)
