"""The vecmap index access method against a real server, on real embeddings (the committed
MiniLM fixture). Recall is always measured against exact search on the same rows: the same
query with index scans disabled."""
import os
import threading
import time

import numpy as np
import psycopg
import pytest

from vecmap_server import REPO, connect, data_directory, fresh_database, server_listdir, server_readable, vec

FIXTURE = os.path.join(REPO, "fixtures", "minilm-debian")
OPS = {"vector_l2_ops": "<->", "vector_ip_ops": "<#>", "vector_cosine_ops": "<=>"}


@pytest.fixture(scope="module")
def ds():
    from vecmap_data.dataset import load_dataset

    return load_dataset(FIXTURE)


@pytest.fixture(scope="module")
def db(ds):
    with fresh_database("idx") as name:
        with connect(name) as c:
            c.execute("CREATE TABLE items (id int PRIMARY KEY, category int, embedding vector(384))")
            with c.cursor().copy("COPY items (id, category, embedding) FROM STDIN") as cp:
                for i, v in enumerate(ds.base):
                    cp.write_row((i, i % 100, vec(v)))
            c.execute("ANALYZE items")
        yield name


def topk(cur, op, q, k=10, where="", index=True):
    cur.execute("SET enable_indexscan = %s" % ("on" if index else "off"))
    cur.execute(f"SELECT id FROM items {where} ORDER BY embedding {op} %s::vector LIMIT {k}", (vec(q),))
    return [r[0] for r in cur.fetchall()]


def recall(cur, op, queries, k=10):
    hit = 0
    for q in queries:
        truth = topk(cur, op, q, k, index=False)
        got = topk(cur, op, q, k, index=True)
        assert len(got) == k
        hit += len(set(truth) & set(got))
    return hit / (k * len(queries))


def assert_uses_index(cur, sql, params, index):
    """EXPLAIN of `sql` shows an Index Scan using `index` (not a seq scan plus sort)."""
    plan = "\n".join(r[0] for r in cur.execute("EXPLAIN " + sql, params))
    assert f"Index Scan using {index} " in plan, plan


def sidecar_file(cur, index):
    """Path of an index's sidecar: $PGDATA/vecmap/<spc>_<db>_<relfilenode>.vmap (for reading;
    a snapshot of it when the data directory is not ours, see vecmap_server)."""
    spc, db, rel = cur.execute(
        "SELECT CASE WHEN c.reltablespace = 0 THEN (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default') ELSE c.reltablespace END,"
        " (SELECT oid FROM pg_database WHERE datname = current_database()), pg_relation_filenode(c.oid)"
        " FROM pg_class c WHERE c.relname = %s", (index,)).fetchone()
    return server_readable(os.path.join(data_directory(), "vecmap", f"{spc}_{db}_{rel}.vmap"))


def sidecars(prefix=""):
    return sorted(f for f in server_listdir(os.path.join(data_directory(), "vecmap")) if f.startswith(prefix))


@pytest.mark.parametrize("opclass", list(OPS))
def test_recall_at_10_with_defaults(db, ds, opclass):
    op = OPS[opclass]
    with connect(db) as c:
        cur = c.cursor()
        cur.execute(f"CREATE INDEX items_emb ON items USING vecmap (embedding {opclass})")
        try:
            plan = "\n".join(r[0] for r in cur.execute(f"EXPLAIN SELECT id FROM items ORDER BY embedding {op} %s::vector LIMIT 10", (vec(ds.queries[0]),)))
            assert "Index Scan using items_emb" in plan, plan
            r = recall(cur, op, ds.queries)
            print(f"{opclass}: recall@10 = {r:.3f}")
            assert r >= 0.95, f"{opclass} recall@10 {r:.3f}"
        finally:
            cur.execute("DROP INDEX items_emb")


@pytest.mark.parametrize("opclass", list(OPS))
def test_recall_after_inserting_half_again(ds, opclass):
    op = OPS[opclass]
    n0 = len(ds.base) * 2 // 3
    with fresh_database("ins") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(384))")
        cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(ds.base[:n0])])
        cur.execute(f"CREATE INDEX items_emb ON items USING vecmap (embedding {opclass})")
        # Half as many rows again, single-row INSERTs after the build.
        cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(ds.base[n0:], start=n0)])
        cur.execute("ANALYZE items")
        assert_uses_index(cur, f"SELECT id FROM items ORDER BY embedding {op} %s::vector LIMIT 10", (vec(ds.queries[0]),), "items_emb")
        r = recall(cur, op, ds.queries)
        print(f"{opclass} after inserts: recall@10 = {r:.3f}")
        assert r >= 0.95, f"{opclass} recall@10 after inserts {r:.3f}"
        # The inserting backends folded the log into the graph in batches of 128: at most
        # one batch is left for scans to read exactly. (State.node_count is at byte 520.)
        with open(sidecar_file(cur, "items_emb"), "rb") as f:
            f.seek(520)
            nodes = int.from_bytes(f.read(8), "little")
        assert len(ds.base) - 128 <= nodes <= len(ds.base), nodes


def test_filtered_query_returns_k_rows(db, ds):
    with connect(db) as c:
        cur = c.cursor()
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops)")
        try:
            for q in ds.queries[:20]:
                got = topk(cur, "<=>", q, 10, where="WHERE category = 7")
                truth = topk(cur, "<=>", q, 10, where="WHERE category = 7", index=False)
                assert len(got) == 10, "1% selectivity must still give k rows"
                assert len(set(got) & set(truth)) >= 8
                assert all(i % 100 == 7 for i in got)
        finally:
            cur.execute("DROP INDEX items_emb")


def test_same_transaction_sees_its_insert(db, ds):
    with connect(db) as c:
        cur = c.cursor()
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_l2_ops)")
        try:
            cur.execute("SET enable_seqscan = off")
            with c.transaction(force_rollback=True):
                v = np.full(384, 0.9, dtype=np.float32)
                cur.execute("INSERT INTO items VALUES (-1, 0, %s)", (vec(v),))
                assert_uses_index(cur, "SELECT id FROM items ORDER BY embedding <-> %s::vector LIMIT 1", (vec(v),), "items_emb")
                assert topk(cur, "<->", v, 1) == [-1]
            assert topk(cur, "<->", v, 1) != [-1], "rolled-back row is not returned"
        finally:
            cur.execute("RESET enable_seqscan")
            cur.execute("DROP INDEX items_emb")


def test_empty_table_then_inserts(ds):
    with fresh_database("empty") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE t (id int, embedding vector(384))")
        cur.execute("CREATE INDEX t_idx ON t USING vecmap (embedding vector_l2_ops)")
        base = ds.base[:600]
        for i, v in enumerate(base):
            cur.execute("INSERT INTO t VALUES (%s, %s)", (i, vec(v)))
        cur.execute("SET enable_seqscan = off")
        assert_uses_index(cur, "SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT 1", (vec(base[0]),), "t_idx")
        for i in (0, 137, 599):
            cur.execute("SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT 1", (vec(base[i]),))
            assert cur.fetchone()[0] == i
        cur.execute("SELECT count(*) FROM (SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT 1000) s", (vec(base[0]),))
        assert cur.fetchone()[0] == 600, "every row reachable"


def test_nulls_zero_vectors_and_dimension_errors():
    with fresh_database("edge") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE t (id int, embedding vector)")
        cur.execute("INSERT INTO t VALUES (1, '[1,0,0]'), (2, NULL), (3, '[0,0,0]'), (4, '[0,1,0]')")
        cur.execute("CREATE INDEX t_cos ON t USING vecmap (embedding vector_cosine_ops)")
        cur.execute("SET enable_seqscan = off")
        ids = [r[0] for r in cur.execute("SELECT id FROM t ORDER BY embedding <=> '[1,1,0]' LIMIT 10")]
        assert sorted(ids) == [1, 4], "NULL and, under cosine, zero vectors are not indexed"
        with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2"):
            cur.execute("INSERT INTO t VALUES (5, '[1,2]')")
        with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2"):
            cur.execute("SELECT id FROM t ORDER BY embedding <=> '[1,2]' LIMIT 1")
        # Zero query under cosine: no distance is defined, no rows.
        assert cur.execute("SELECT id FROM t ORDER BY embedding <=> '[0,0,0]' LIMIT 3").fetchall() == []


def test_options_and_gucs():
    with fresh_database("opt") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE t (embedding vector(3))")
        for bad, msg in [("m = 1", "m"), ("m = 101", "m"), ("ef_construction = 3", "ef_construction"),
                         ("m = 16, ef_construction = 20", "ef_construction must be greater than or equal to 2 \\* m")]:
            with pytest.raises(psycopg.errors.InvalidParameterValue, match=msg):
                cur.execute(f"CREATE INDEX ON t USING vecmap (embedding) WITH ({bad})")
        cur.execute("CREATE INDEX ON t USING vecmap (embedding) WITH (m = 8, ef_construction = 32)")
        assert cur.execute("SHOW vecmap.ef_search").fetchone()[0] == "40"
        cur.execute("SET vecmap.ef_search = 100")
        assert cur.execute("SHOW vecmap.ef_search").fetchone()[0] == "100"
        with c.transaction():
            cur.execute("SET LOCAL vecmap.ef_search = 7")
            assert cur.execute("SHOW vecmap.ef_search").fetchone()[0] == "7"
        assert cur.execute("SHOW vecmap.ef_search").fetchone()[0] == "100"
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            cur.execute("SET vecmap.ef_search = 1001")
        assert cur.execute("SHOW vecmap.max_scan_tuples").fetchone()[0] == "20000"


def test_planner_uses_index_only_for_distance_order():
    with fresh_database("plan") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE t (id int, embedding vector(3))")
        cur.execute("INSERT INTO t SELECT i, ARRAY[random(), random(), random()]::real[]::vector FROM generate_series(1, 5000) i")
        cur.execute("CREATE INDEX t_idx ON t USING vecmap (embedding)")
        cur.execute("ANALYZE t")
        plan = "\n".join(r[0] for r in cur.execute("EXPLAIN SELECT * FROM t ORDER BY embedding <-> '[1,2,3]' LIMIT 5"))
        assert "Index Scan using t_idx" in plan
        plan = "\n".join(r[0] for r in cur.execute("EXPLAIN SELECT * FROM t WHERE embedding = '[1,2,3]'"))
        assert "t_idx" not in plan


def self_hits(cur, data, rows):
    """Each of `rows` finds itself first through the index."""
    cur.execute("SET enable_seqscan = off")
    assert_uses_index(cur, "SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT 1", (vec(data[0]),), "t_idx")
    for i in rows:
        cur.execute("SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT 1", (vec(data[i]),))
        assert cur.fetchone()[0] == i


def test_3072_dimensions():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((400, 3072)).astype(np.float32)
    with fresh_database("wide") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE t (id int, embedding vector(3072))")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(data)])
        cur.execute("CREATE INDEX t_idx ON t USING vecmap (embedding vector_l2_ops)")
        self_hits(cur, data, (0, 99, 399))


def test_16000_dimensions():
    """The type's limit: log entries of 64 kB span pages; the sidecar has no page limit."""
    rng = np.random.default_rng(16)
    data = rng.standard_normal((50, 16000)).astype(np.float32)
    with fresh_database("widest") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE t (id int, embedding vector(16000))")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(data[:40])])
        cur.execute("CREATE INDEX t_idx ON t USING vecmap (embedding vector_l2_ops)")
        # And after the build: rows that go through the log tail.
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(data[40:], start=40)])
        assert cur.execute("SELECT dimensions, rows_indexed FROM vecmap_index_stats('t_idx')").fetchone() == (16000, 50)
        self_hits(cur, data, range(50))


def test_concurrent_inserts_and_queries(ds):
    base = ds.base[:1600]
    with fresh_database("conc") as name:
        with connect(name) as c:
            c.execute("CREATE TABLE t (id int PRIMARY KEY, embedding vector(384))")
            c.execute("CREATE INDEX t_idx ON t USING vecmap (embedding vector_cosine_ops)")
        errors = []

        def writer(k):
            try:
                with connect(name) as c:
                    for i in range(k, len(base), 4):
                        c.execute("INSERT INTO t VALUES (%s, %s)", (i, vec(base[i])))
            except Exception as e:  # noqa: BLE001 — reported below
                errors.append(e)

        def reader():
            try:
                with connect(name) as c:
                    for q in ds.queries[:60]:
                        c.execute("SELECT id FROM t ORDER BY embedding <=> %s::vector LIMIT 10", (vec(q),)).fetchall()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)] + [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        with connect(name) as c:
            c.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN SELECT id FROM t ORDER BY embedding <=> %s::vector LIMIT 5000", (vec(base[0]),)))
            assert "Index Scan using t_idx" in plan
            # Every committed row comes back from an index scan, exactly once.
            ids = [r[0] for r in c.execute("SELECT id FROM t ORDER BY embedding <=> %s::vector LIMIT 5000", (vec(base[0]),))]
            assert sorted(ids) == list(range(len(base)))
            # And the graph built from concurrent batches is good: a row is its own nearest hit.
            hits = sum(c.execute("SELECT id FROM t ORDER BY embedding <=> %s::vector LIMIT 1", (vec(v),)).fetchone()[0] == i for i, v in enumerate(base))
            assert hits >= 0.99 * len(base), f"self-hit rate {hits / len(base):.4f}"


def test_cancelled_build_leaves_no_sidecar():
    rng = np.random.default_rng(5)
    with fresh_database("cancel") as name:
        with connect(name) as c:
            c.execute("CREATE TABLE t (embedding vector(256))")
            with c.cursor().copy("COPY t (embedding) FROM STDIN") as cp:
                for v in rng.standard_normal((30000, 256)).astype(np.float32):
                    cp.write_row((vec(v),))
            before = set(sidecars())
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            result = {}

            def build():
                try:
                    c.execute("CREATE INDEX t_idx ON t USING vecmap (embedding) WITH (m = 32, ef_construction = 400)")
                    result["ok"] = True
                except psycopg.errors.QueryCanceled as e:
                    result["cancelled"] = e

            th = threading.Thread(target=build)
            th.start()
            with connect(name) as mon:
                # Progress: the graph phase knows its total and counts linked rows up from 0
                # (the main thread reports every 100 ms while the workers link).
                deadline = time.monotonic() + 120
                row = None
                while time.monotonic() < deadline and th.is_alive():
                    row = mon.execute("SELECT phase, tuples_total, tuples_done FROM pg_stat_progress_create_index WHERE pid = %s", (pid,)).fetchone()
                    if row and row[0].endswith("building graph") and row[2] > 0:
                        break
                assert row and row[0].endswith("building graph") and row[2] > 0, f"no graph progress seen: {row}"
                assert row[1] == 30000 and row[2] < 30000, row
                t0 = time.monotonic()
                mon.execute("SELECT pg_cancel_backend(%s)", (pid,))
                th.join(timeout=30)
                elapsed = time.monotonic() - t0
            print(f"cancel took {elapsed:.3f}s")
            assert "cancelled" in result, result
            # Issue #3: a cancel stops the build within a second.
            assert elapsed < 1.0, f"cancel took {elapsed:.2f}s"
            assert set(sidecars()) == before, "no sidecar (or temp file) left behind"
