"""pgvector-python's integrations round-trip halfvec, sparsevec, bit and typed arrays through
vecmap exactly: psycopg 3 (text and binary), psycopg2 (text), asyncpg (binary codecs) and
SQLAlchemy (psycopg and psycopg2 drivers), including numpy arrays and `vector[]` columns."""
import asyncio
import struct

import numpy as np
import pytest
from pgvector import Bit, HalfVector, SparseVector, Vector

from conftest import HOST, PORT, conninfo

RNG = np.random.default_rng(8)

# binary16 values that must survive unchanged: signed zero, smallest subnormal, extremes, inexact.
HALF_EDGE = np.array([0.0, -0.0, 6e-8, -6e-8, 6.1e-5, 65504, -65504, 0.1, 1 / 3], dtype=np.float16)
SPARSE_EDGE = SparseVector({0: 1e-45, 7: -3.4028235e38, 999_999_999: 0.1}, 1_000_000_000)


def half_bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float16).view(np.uint16)


def same_sparse(a: SparseVector, b: SparseVector) -> bool:
    """Equal as stored: dims, indices and the float4 bit patterns of the values."""
    f4 = lambda v: np.asarray(v.values(), np.float32).view(np.uint32).tolist()
    return a.dimensions() == b.dimensions() and a.indices() == b.indices() and f4(a) == f4(b)


def as_list(x) -> list:
    """A vector as a list, whatever wrapper a client returns (Vector/HalfVector, ndarray, list)."""
    return x.to_list() if hasattr(x, "to_list") else list(np.asarray(x).tolist())


def halves():
    rows = [RNG.standard_normal(dim).astype(np.float16) for dim in (1, 3, 384, 3072, 16000)]
    return rows + [HALF_EDGE]


def sparses():
    dense = RNG.standard_normal(1000).astype(np.float32)
    dense[RNG.random(1000) < 0.9] = 0
    return [SparseVector({0: 1.5, 4: -2}, 5), SparseVector({}, 3), SparseVector(dense), SPARSE_EDGE,
            SparseVector({i: 1.0 + i for i in range(16000)}, 20000)]


def bits():
    return [Bit("1"), Bit("10110"), Bit("0" * 64), Bit(RNG.random(3072) > 0.5), Bit(RNG.random(16000) > 0.5)]


@pytest.fixture
def tables(conn):
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, h halfvec, s sparsevec, b bit varying, "
                 "va vector[], ha halfvec[], sa sparsevec[])")
    yield
    conn.execute("DROP TABLE t")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_round_trip(conn, tables, binary):
    hs, ss, bs = halves(), sparses(), bits()
    n = max(len(hs), len(ss), len(bs))
    rows = [(i, HalfVector(hs[i]) if i < len(hs) else None, ss[i] if i < len(ss) else None,
             bs[i] if i < len(bs) else None) for i in range(n)]
    p = "%b" if binary else "%t"
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO t (id, h, s, b) VALUES (%s, {p}, {p}, {p})", rows)
        cur.execute("SELECT id, h, s, b FROM t ORDER BY id", binary=binary)
        got = cur.fetchall()
    for (i, h, s, b), (gi, gh, gs, gb) in zip(rows, got):
        assert gi == i
        if h is None:
            assert gh is None
        else:
            assert isinstance(gh, HalfVector)
            assert np.array_equal(half_bits(gh.to_numpy()), half_bits(h.to_numpy())), i
        assert (gs is None and s is None) or same_sparse(gs, s), i
        if b is not None:
            # psycopg has no loader for varbit: text form as str, binary form as the wire bytes
            assert (Bit.from_binary(gb) if binary else Bit(gb)) == b, i


def test_server_bytes_are_pgvectors(conn):
    """What the server sends is byte for byte what pgvector-python builds client-side."""
    h = HalfVector(HALF_EDGE)
    with conn.cursor() as cur:
        cur.execute("SELECT halfvec_send(%b), sparsevec_send(%b), %b::text, %b::text", (h, SPARSE_EDGE, h, SPARSE_EDGE))
        hsent, ssent, htext, stext = cur.fetchone()
    assert hsent == h.to_binary() == struct.pack(">HH", 9, 0) + HALF_EDGE.astype(">f2").tobytes()
    assert ssent == SPARSE_EDGE.to_binary()
    assert htext == "[0,-0,5.9604645e-08,-5.9604645e-08,6.097555e-05,65504,-65504,0.099975586,0.33325195]"
    assert stext == "{1:1e-45,8:-3.4028235e+38,1000000000:0.1}/1000000000"
    assert SparseVector.from_text(stext) == SPARSE_EDGE


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_typed_arrays(conn, tables, binary):
    va = [np.array([1, 2, 3], np.float32), np.array([-0.0, 1e-45, 3.4028235e38], np.float32)]
    ha = [HalfVector([1.5, 2]), HalfVector(HALF_EDGE[:2])]
    sa = [SparseVector({1: 2.5}, 4), SparseVector({}, 4)]
    p = "%b" if binary else "%t"
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO t (id, va, ha, sa) VALUES (1, {p}, {p}, {p})",
                    ([Vector(v) for v in va], ha, sa))
        cur.execute("SELECT va, ha, sa, va[2]::text FROM t", binary=binary)
        gva, gha, gsa, second = cur.fetchone()
    assert [v.to_numpy().view(np.uint32).tolist() for v in gva] == [v.view(np.uint32).tolist() for v in va]
    assert [half_bits(h.to_numpy()).tolist() for h in gha] == [half_bits(h.to_numpy()).tolist() for h in ha]
    assert gsa == sa
    assert second == "[-0,1e-45,3.4028235e+38]"


def test_psycopg_distances_and_functions(conn):
    a, b = np.array([1, 2, 3], np.float16), np.array([3, 2, 1], np.float16)
    with conn.cursor() as cur:
        cur.execute("SELECT %s <-> %s, %s <#> %s, %s <=> %s, %s <+> %s, l2_norm(%s), binary_quantize(%s)::text",
                    (HalfVector(a), HalfVector(b)) * 4 + (HalfVector(a), HalfVector(a - 2)))
        l2, ip, cos, l1, norm, bq = cur.fetchone()
        af, bf = a.astype(np.float64), b.astype(np.float64)
        assert l2 == pytest.approx(np.linalg.norm(af - bf))
        assert ip == pytest.approx(-af @ bf)
        assert cos == pytest.approx(1 - af @ bf / np.linalg.norm(af) / np.linalg.norm(bf))
        assert l1 == pytest.approx(np.abs(af - bf).sum())
        assert norm == pytest.approx(np.linalg.norm(af))
        assert bq == "001"
        s1, s2 = SparseVector({0: 1, 2: 3}, 4), SparseVector({2: 1, 3: 2}, 4)
        cur.execute("SELECT %s <-> %s, %s <#> %s, %s <+> %s", (s1, s2) * 3)
        assert cur.fetchone() == (pytest.approx(np.sqrt(1 + 4 + 4)), -3.0, 5.0)
        cur.execute("SELECT %s <~> %s, %s <%%> %s", (Bit("1100"), Bit("1010")) * 2)
        assert cur.fetchone() == (2.0, pytest.approx(1 - 1 / 3))


def test_psycopg2(dbname):
    psycopg2 = pytest.importorskip("psycopg2")
    from pgvector.psycopg2 import register_vector

    conn = psycopg2.connect(conninfo(dbname))
    try:
        conn.autocommit = True
        register_vector(conn)
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS p2")
        cur.execute("CREATE TABLE p2 (id int, v vector(3), h halfvec(3), s sparsevec(5), b bit(4), va vector[])")
        v = np.array([1.5, -0.0, 1e-45], np.float32)
        h = HalfVector(np.array([0.1, 65504, -6e-8], np.float16))
        s = SparseVector({0: 1.5, 4: -2}, 5)
        cur.execute("INSERT INTO p2 VALUES (1, %s, %s, %s, %s, %s::vector[])",
                    (v, h, s, "1010", [np.array([1, 2, 3], np.float32), np.array([4, 5, 6], np.float32)]))
        cur.execute("SELECT v, h, s, b, va, h <-> %s, s <=> %s, b <~> %s FROM p2", (h, s, "1001"))
        gv, gh, gs, gb, gva, dh, ds, db = cur.fetchone()
        assert np.array_equal(np.asarray(as_list(gv), np.float32).view(np.uint32), v.view(np.uint32))
        assert np.array_equal(half_bits(gh.to_numpy()), half_bits(h.to_numpy()))
        assert gs == s and gb == "1010"
        assert [as_list(x) for x in gva] == [[1, 2, 3], [4, 5, 6]]
        assert (dh, ds, db) == (0.0, 0.0, 2.0)
        cur.execute("SELECT %s::halfvec[], %s::sparsevec[]", ([h, h], [s]))
        gha, gsa = cur.fetchone()
        assert [half_bits(x.to_numpy()).tolist() for x in gha] == [half_bits(h.to_numpy()).tolist()] * 2
        assert gsa == [s]
        cur.execute("DROP TABLE p2")
    finally:
        conn.close()


def test_asyncpg(dbname):
    asyncpg = pytest.importorskip("asyncpg")
    from pgvector.asyncpg import register_vector

    async def run():
        conn = await asyncpg.connect(host=HOST, port=PORT, user="postgres", database=dbname)
        try:
            await register_vector(conn)
            await conn.execute("DROP TABLE IF EXISTS ap")
            await conn.execute("CREATE TABLE ap (id int, v vector, h halfvec, s sparsevec, b bit(5), va vector[])")
            rows = [(i, RNG.standard_normal(d).astype(np.float32), HalfVector(hv), s,
                     asyncpg.BitString("10110"), [Vector([1, 2]), Vector([3, 4])])
                    for i, (d, hv, s) in enumerate(zip([1, 384, 16000], halves(), sparses()))]
            await conn.executemany("INSERT INTO ap VALUES ($1, $2, $3, $4, $5, $6)", rows)
            got = await conn.fetch("SELECT id, v, h, s, b, va FROM ap ORDER BY id")
            for want, row in zip(rows, got):
                assert np.array_equal(row["v"].to_numpy().view(np.uint32), want[1].view(np.uint32))
                assert np.array_equal(half_bits(row["h"].to_numpy()), half_bits(want[2].to_numpy()))
                assert same_sparse(row["s"], want[3])
                assert row["b"] == want[4]
                assert [x.to_list() for x in row["va"]] == [[1, 2], [3, 4]]
            ip = await conn.fetchval("SELECT s <#> $1 FROM ap WHERE id = 0", sparses()[0])
            assert ip == -6.25
            dist = await conn.fetchval("SELECT b <~> $1 FROM ap LIMIT 1", asyncpg.BitString("00000"))
            assert dist == 3.0
            await conn.execute("DROP TABLE ap")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_sqlalchemy(dbname, driver):
    pytest.importorskip(driver)
    from pgvector.sqlalchemy import BIT, HALFVEC, SPARSEVEC, VECTOR, avg
    from sqlalchemy import ARRAY, Integer, create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = f"sa_items_{driver}"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        embedding = mapped_column(VECTOR(3))
        half = mapped_column(HALFVEC(3))
        sparse = mapped_column(SPARSEVEC(5))
        binary = mapped_column(BIT(4))
        many = mapped_column(ARRAY(VECTOR(2)))

    engine = create_engine(f"postgresql+{driver}://postgres@{HOST}:{PORT}/{dbname}")
    # pgvector-python's documented setup for array columns: register the types per connection.
    from sqlalchemy import event

    if driver == "psycopg2":
        from pgvector.psycopg2 import register_vector
    else:
        from pgvector.psycopg import register_vector
    event.listen(engine, "connect", lambda c, _: register_vector(c))
    try:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([
                Item(id=1, embedding=[1, 1, 1], half=np.array([1, 1, 1], np.float16),
                     sparse=SparseVector({0: 1}, 5), binary="1100", many=[np.array([1, 2]), np.array([3, 4])]),
                Item(id=2, embedding=[2, 2, 2], half=[2, 2, 2], sparse=SparseVector({1: 2, 4: 1}, 5),
                     binary="1010", many=[]),
                Item(id=3, embedding=[1, 1, 2], half=HalfVector([1, 1, 2]), sparse=SparseVector({}, 5),
                     binary="0011", many=None),
            ])
            session.commit()
            item = session.get(Item, 1)
            assert as_list(item.half) == [1, 1, 1]
            assert item.sparse == SparseVector({0: 1}, 5)
            assert item.binary == "1100"
            assert [as_list(v) for v in item.many] == [[1, 2], [3, 4]]
            by = lambda expr: [i.id for i in session.scalars(select(Item).order_by(expr, Item.id))]
            assert by(Item.half.l2_distance([1, 1, 1])) == [1, 3, 2]
            assert by(Item.half.max_inner_product([1, 1, 1])) == [2, 3, 1]
            assert by(Item.half.cosine_distance([1, 1, 1])) == [1, 2, 3]
            assert by(Item.half.l1_distance([2, 2, 2])) == [2, 3, 1]
            assert by(Item.sparse.l2_distance(SparseVector({0: 1}, 5))) == [1, 3, 2]
            assert by(Item.sparse.max_inner_product(SparseVector({1: 1}, 5))) == [2, 1, 3]
            assert by(Item.binary.hamming_distance("1110")) == [1, 2, 3]
            assert by(Item.binary.jaccard_distance("0011")) == [3, 2, 1]
            mean = session.scalar(select(avg(Item.half)))
            assert as_list(mean) == pytest.approx([4 / 3, 4 / 3, 5 / 3], rel=1e-3)
        Base.metadata.drop_all(engine)
    finally:
        engine.dispose()
