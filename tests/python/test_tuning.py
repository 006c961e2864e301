"""Issue #7 — ask for recall, not ef; see inside the index. Against a real server, on the
committed MiniLM fixture: vecmap_tune + vecmap.target_recall, vecmap_index_stats,
vecmap_prewarm, EXPLAIN (ANALYZE) counters, and the build/vacuum summaries.

Recall is always measured against exact search on the same rows (the same query with index
scans disabled), on the fixture's held-out queries: texts that were never indexed."""
import json
import os
import threading
import time

import psycopg
import pytest
from psycopg.rows import dict_row, tuple_row

from vecmap_tools import pagecache
from vecmap_server import REPO, as_server_user, connect, fresh_database, server_lstat, server_remove, vec

FIXTURE = os.path.join(REPO, "fixtures", "minilm-debian")
K = 10


@pytest.fixture(scope="module")
def ds():
    from vecmap_data.dataset import load_dataset

    return load_dataset(FIXTURE)


def load(c, ds, n=None, table="items"):
    # No autovacuum: tests that count deleted rows run VACUUM themselves.
    c.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, category int, embedding vector(384)) WITH (autovacuum_enabled = false)")
    rows = ds.base if n is None else ds.base[:n]
    with c.cursor().copy(f"COPY {table} (id, category, embedding) FROM STDIN") as cp:
        for i, v in enumerate(rows):
            cp.write_row((i, i % 100, vec(v)))
    c.execute(f"ANALYZE {table}")


@pytest.fixture(scope="module")
def db(ds):
    """The fixture's 4,000 rows with a cosine vecmap index, items_emb."""
    with fresh_database("tune") as name:
        with connect(name) as c:
            load(c, ds)
            c.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops)")
        yield name


def connect_unprepared(name):
    """A connection on which psycopg never prepares statements."""
    c = connect(name)
    c.prepare_threshold = None
    return c


class Notices:
    """Collects a connection's notices (severity, text)."""

    def __init__(self, conn):
        self.items = []
        self.event = threading.Event()
        conn.add_notice_handler(self)

    def __call__(self, diag):
        self.items.append((diag.severity_nonlocalized, diag.message_primary))
        self.event.set()

    def matching(self, text):
        return [m for _, m in self.items if text in m]


def exact_topk(cur, queries, k=K):
    # Distinct text from index_recall's, and no prepared statements (see `connect_unprepared`):
    # a cached generic plan would keep the plan of whichever enable_* setting planned it.
    cur.execute("SET enable_indexscan = off")
    out = []
    for q in queries:
        out.append({r[0] for r in cur.execute(f"SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT {k} /* exact */", (vec(q),))})
    cur.execute("RESET enable_indexscan")
    return out


def index_recall(cur, queries, truth, k=K):
    cur.execute("SET enable_seqscan = off")
    hit = 0
    for q, t in zip(queries, truth):
        got = [r[0] for r in cur.execute(f"SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT {k}", (vec(q),))]
        assert len(got) == k
        hit += len(set(got) & t)
    cur.execute("RESET enable_seqscan")
    return hit / (k * len(queries))


def explain(cur, sql, params=(), fmt="TEXT"):
    rows = cur.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT {fmt}) {sql}", params).fetchall()
    return rows[0][0] if fmt == "JSON" else "\n".join(r[0] for r in rows)


def vecmap_line(plan):
    lines = [ln.strip() for ln in plan.splitlines() if ln.strip().startswith("Vecmap:")]
    assert len(lines) == 1, plan
    fields = {}
    for tok in lines[0].split():
        if "=" in tok:
            key, val = tok.split("=", 1)
            fields[key] = val
    return lines[0], fields


# ---------------------------------------------------------------- recall targets

def test_tuned_ef_meets_the_target_on_held_out_queries(db, ds):
    """The acceptance test: after vecmap_tune, SET vecmap.target_recall = t makes index scans
    reach recall@10 ≥ t on queries that were never in the index, for several t."""
    with connect_unprepared(db) as c:
        cur = c.cursor()
        notices = Notices(c)
        rows = cur.execute("SELECT ef, recall, recall_low, latency_ms, distances, chosen FROM vecmap_tune('items_emb', target_recall => 0.95)").fetchall()
        efs = [r[0] for r in rows]
        assert efs == sorted(efs) and len(efs) >= 3, rows
        assert [r[1] for r in rows] == sorted(r[1] for r in rows), "Pareto: recall rises with ef"
        assert all(0 <= r[2] <= r[1] <= 1 and r[3] > 0 and r[4] > 0 for r in rows), rows
        chosen = [r for r in rows if r[5]]
        assert len(chosen) == 1 and chosen[0][2] >= 0.95, rows
        # The smallest ef whose lower bound meets the target.
        assert all(r[2] < 0.95 for r in rows if r[0] < chosen[0][0]), rows
        # Progress: the ground truth, then one NOTICE per ef measured.
        assert notices.matching("vecmap_tune: exact top-10 of 200 queries")
        assert len(notices.matching("vecmap_tune: ef ")) >= len(rows)
        # Stored with the index, as returned.
        stored = cur.execute("SELECT ef, recall FROM vecmap_calibration('items_emb')").fetchall()
        assert [s[0] for s in stored] == efs
        assert all(abs(s[1] - r[1]) < 1e-6 for s, r in zip(stored, rows))
        # The user's queries: 100 held-out texts of the fixture.
        truth = exact_topk(cur, ds.queries)
        chosen_ef = {}
        for target in (0.9, 0.95, 0.98):
            cur.execute(f"SET vecmap.target_recall = {target}")
            _, f = vecmap_line(explain(cur, "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10", (vec(ds.queries[0]),)))
            chosen_ef[target] = int(f["ef"])
            r = index_recall(cur, ds.queries, truth)
            print(f"target {target}: ef {chosen_ef[target]}, held-out recall@10 {r:.3f}")
            assert r >= target, f"target {target}: ef {chosen_ef[target]} gave recall {r:.3f}"
        assert chosen_ef[0.9] <= chosen_ef[0.95] <= chosen_ef[0.98]
        # Tuning pays: fewer candidates than the untuned default curve (ef 100 for 0.95).
        assert chosen_ef[0.95] < 100, chosen_ef
        cur.execute("RESET vecmap.target_recall")
        assert cur.execute("SELECT tuned_k, tuned_rows, tuned_at > now() - interval '10 minutes' FROM vecmap_index_stats('items_emb')").fetchone() == (10, 4000, True)


def test_tune_with_a_query_table_and_rebuilds_forget_the_curve(ds):
    with fresh_database("tuneq") as name, connect(name) as c:
        cur = c.cursor()
        load(c, ds, n=2000)
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_l2_ops)")
        cur.execute("CREATE TABLE questions (label text, q vector(384))")
        cur.executemany("INSERT INTO questions VALUES (%s, %s)", [(str(i), vec(v)) for i, v in enumerate(ds.queries)])
        rows = cur.execute("SELECT ef, recall, chosen FROM vecmap_tune('items_emb', 0.9, k => 5, queries => 'questions')").fetchall()
        assert rows and sum(r[2] for r in rows) == 1 and rows[0][0] == 5, rows
        assert cur.execute("SELECT tuned_k FROM vecmap_index_stats('items_emb')").fetchone()[0] == 5
        with pytest.raises(psycopg.errors.UndefinedColumn, match="no column of the index's vector type"):
            cur.execute("SELECT * FROM vecmap_tune('items_emb', queries => 'pg_class')")
        for bad, msg in [("target_recall => 0", "target_recall"), ("target_recall => 1.5", "target_recall"), ("k => 0", "k must be"), ("sample_size => 5", "sample_size")]:
            with pytest.raises(psycopg.errors.InvalidParameterValue, match=msg):
                cur.execute(f"SELECT * FROM vecmap_tune('items_emb', {bad})")
        # A new build of the index (REINDEX) starts uncalibrated; see also
        # test_compaction_and_sidecar_rebuilds_keep_the_calibration.
        cur.execute("REINDEX INDEX items_emb")
        assert cur.execute("SELECT count(*) FROM vecmap_calibration('items_emb')").fetchone()[0] == 0
        assert cur.execute("SELECT tuned_at FROM vecmap_index_stats('items_emb')").fetchone()[0] is None
        # Not on an empty index, nor in a read-only transaction.
        cur.execute("CREATE TABLE empty (e vector(3))")
        cur.execute("CREATE INDEX empty_e ON empty USING vecmap (e)")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="is empty"):
            cur.execute("SELECT * FROM vecmap_tune('empty_e')")
        with c.transaction(force_rollback=True):
            cur.execute("SET TRANSACTION READ ONLY")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                cur.execute("SELECT * FROM vecmap_tune('items_emb')")


def test_untuned_index_uses_the_default_curve_and_says_so_once(ds):
    with fresh_database("untuned") as name, connect(name) as c:
        cur = c.cursor()
        load(c, ds, n=1000)
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops)")
        notices = Notices(c)
        q = (vec(ds.queries[1]),)
        sql = "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10"
        _, f = vecmap_line(explain(cur, sql, q))
        assert f["ef"] == "40" and notices.items == [], "target_recall is off by default"
        cur.execute("SET vecmap.target_recall = 0.95")
        line, f = vecmap_line(explain(cur, sql, q))
        assert f["ef"] == "100" and "untuned default" in line, line
        for _ in range(3):
            cur.execute("SET enable_seqscan = off")
            cur.execute(sql, q).fetchall()
        said = notices.matching("has not been tuned")
        assert len(said) == 1 and "vecmap_tune('items_emb')" in said[0], notices.items
        # target_recall takes precedence over ef_search; 0 turns it off again.
        cur.execute("SET vecmap.ef_search = 77")
        assert vecmap_line(explain(cur, sql, q))[1]["ef"] == "100"
        cur.execute("SET vecmap.target_recall = 0")
        assert vecmap_line(explain(cur, sql, q))[1]["ef"] == "77"
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            cur.execute("SET vecmap.target_recall = 1.1")


def test_notices_for_an_unreachable_target_and_a_grown_index(ds):
    with fresh_database("tunenotice") as name, connect_unprepared(name) as c:
        cur = c.cursor()
        load(c, ds)
        # m = 2: a sparse graph whose recall stops well short of 0.99 at every ef. (All 4,000
        # rows: a graph no larger than ef is searched exactly, so 1,000 rows would reach 1.0.)
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops) WITH (m = 2, ef_construction = 4)")
        rows = cur.execute("SELECT ef, recall, recall_low FROM vecmap_tune('items_emb', target_recall => 0.5, sample_size => 100)").fetchall()
        best = max(rows, key=lambda r: (r[1], -r[0]))
        assert best[2] < 0.99, rows
        notices = Notices(c)
        sql = "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10"
        cur.execute("SET enable_seqscan = off")  # ef 1000 on 4,000 rows: the planner would rather sort
        cur.execute("SET vecmap.target_recall = 0.99")
        line, f = vecmap_line(explain(cur, sql, (vec(ds.queries[0]),)))
        assert int(f["ef"]) == best[0] and "target_recall 0.99 not reached, best tuned ef" in line, (line, rows)
        said = notices.matching("did not reach recall 0.99 at any measured ef")
        assert len(said) == 1 and f"using ef = {best[0]}" in said[0], notices.items
        cur.execute(sql, (vec(ds.queries[1]),)).fetchall()
        assert len(notices.matching("did not reach recall")) == 1, "once per session"
        assert not notices.matching("run vecmap_tune"), notices.items
        # More than twice the rows it was tuned at (and 1,000 more): the curve may be stale.
        with cur.copy("COPY items (id, category, embedding) FROM STDIN") as cp:
            for i in range(4000, 9100):
                cp.write_row((i, 0, vec(ds.base[i % 4000])))
        cur.execute("SET vecmap.target_recall = 0.5")
        cur.execute(sql, (vec(ds.queries[2]),)).fetchall()
        grown = notices.matching("was tuned at 4000 rows and now holds about 9100; run vecmap_tune('items_emb') again")
        assert len(grown) == 1, notices.items
        cur.execute(sql, (vec(ds.queries[3]),)).fetchall()
        assert len(notices.matching("was tuned at")) == 1, "once per session"


def test_compaction_and_sidecar_rebuilds_keep_the_calibration(ds):
    """Same rows and parameters, so the curve still describes the graph: VACUUM's compaction
    and a sidecar rebuilt from the log keep it; REINDEX (a new index build) does not."""
    with fresh_database("tunekeep") as name:
        sql = "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10"

        def check(c, what):
            cur = c.cursor()
            assert cur.execute("SELECT * FROM vecmap_calibration('items_emb')").fetchall() == curve, what
            assert cur.execute("SELECT tuned_at FROM vecmap_index_stats('items_emb')").fetchone()[0] == tuned_at, what
            cur.execute("SET vecmap.target_recall = 0.9")
            line, f = vecmap_line(explain(cur, sql, (vec(ds.queries[0]),)))
            assert "(target_recall 0.9, tuned)" in line and int(f["ef"]) == chosen, (what, line)

        with connect_unprepared(name) as c:
            cur = c.cursor()
            load(c, ds, n=2000)
            cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops)")
            chosen = next(r[0] for r in cur.execute("SELECT ef, chosen FROM vecmap_tune('items_emb', target_recall => 0.9, sample_size => 100)") if r[1])
            curve = cur.execute("SELECT * FROM vecmap_calibration('items_emb')").fetchall()
            path, tuned_at = cur.execute("SELECT sidecar_path, tuned_at FROM vecmap_index_stats('items_emb')").fetchone()
            inode = server_lstat(path)[0].st_ino
            cur.execute("DELETE FROM items WHERE id % 3 = 0")
            cur.execute("VACUUM (INDEX_CLEANUP ON) items")
            assert server_lstat(path)[0].st_ino != inode, "past 20% tombstones VACUUM rebuilt the graph"
            check(c, "compaction")
        server_remove(path)
        with connect_unprepared(name) as c:
            notices = Notices(c)
            check(c, "rebuild")
            assert notices.matching("rebuilding its sidecar"), notices.items
            c.execute("REINDEX INDEX items_emb")
            assert c.execute("SELECT count(*) FROM vecmap_calibration('items_emb')").fetchone()[0] == 0


def test_tune_is_cancellable_and_stores_nothing_when_cancelled(ds):
    with fresh_database("tunecancel") as name, connect(name) as c:
        load(c, ds)
        c.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops)")
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        notices = Notices(c)
        result = {}

        def tune():
            try:
                # Thousands of queries: seconds of work after the first progress NOTICE.
                c.execute("SELECT * FROM vecmap_tune('items_emb', sample_size => 3000)").fetchall()
                result["ok"] = True
            except psycopg.errors.QueryCanceled as e:
                result["cancelled"] = e

        th = threading.Thread(target=tune)
        th.start()
        assert notices.event.wait(120), "no progress reported"
        with connect(name) as mon:
            t0 = time.monotonic()
            mon.execute("SELECT pg_cancel_backend(%s)", (pid,))
            th.join(60)
            elapsed = time.monotonic() - t0
            assert "cancelled" in result, result
            assert elapsed < 2.0, f"cancel took {elapsed:.2f}s"
            assert mon.execute("SELECT count(*) FROM vecmap_calibration('items_emb')").fetchone()[0] == 0


# ---------------------------------------------------------------- observability

def test_index_stats_follow_inserts_deletes_and_vacuum(ds):
    with fresh_database("stats") as name, connect(name) as c:
        cur = c.cursor()
        load(c, ds, n=2000)
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_cosine_ops) WITH (m = 12, ef_construction = 48)")
        cur.row_factory = dict_row
        s = cur.execute("SELECT * FROM vecmap_index_stats('items_emb')").fetchone()
        assert (s["rows_indexed"], s["rows_deleted"], s["dimensions"], s["metric"], s["m"], s["ef_construction"]) == (2000, 0, 384, "cosine", 12, 48)
        layers = s["nodes_per_layer"]
        assert s["layers"] == len(layers) >= 2 and layers[0] == 2000
        assert all(a >= b for a, b in zip(layers, layers[1:])) and layers[-1] >= 1
        # P(level ≥ 1) = 1/m.
        assert 2000 / 12 * 0.6 < layers[1] < 2000 / 12 * 1.4, layers
        assert 1 <= s["l0_degree_min"] <= s["l0_degree_mean"] <= s["l0_degree_max"] <= 24
        assert 0 <= s["entry_point"] < 2000
        assert s["sidecar_path"].startswith(os.path.join(s["sidecar_path"].split("/vecmap/")[0], "vecmap/")), "superuser sees the full path"
        assert server_lstat(s["sidecar_path"])[0].st_size == s["sidecar_bytes"]
        assert 0 < s["int8_bytes"] < s["f32_bytes"], "384-d int8 rows are a quarter of f32 rows"
        assert s["f32_bytes"] >= 2000 * 384 * 4 and s["graph_bytes"] >= 2000 * 24 * 4
        assert s["int8_bytes"] + s["f32_bytes"] + s["graph_bytes"] <= s["sidecar_bytes"]
        assert s["resident_bytes"] == s["resident_int8_graph_bytes"] + s["resident_f32_bytes"]
        assert s["log_entries_written"] == s["log_entries_applied"] == 2000
        assert 0 < s["quantization_error"] < 0.05
        assert (s["format_version"], s["metapage_version"]) == (2, 1)  # sidecar format 2: row meta first
        assert s["tuned_at"] is None and s["tuned_k"] is None
        built = cur.execute("SELECT now() - last_rebuilt < interval '10 minutes' FROM vecmap_index_stats('items_emb')").fetchone()
        assert list(built.values()) == [True]

        # 300 single-row inserts: appended to the log, folded in batches of 128.
        cur.row_factory = tuple_row
        cur.executemany("INSERT INTO items VALUES (%s, 0, %s)", [(i, vec(v)) for i, v in enumerate(ds.base[2000:2300], start=2000)])
        cur.row_factory = dict_row
        s = cur.execute("SELECT * FROM vecmap_index_stats('items_emb')").fetchone()
        assert s["rows_indexed"] == 2300 and s["log_entries_written"] == 2300
        assert 2300 - 128 <= s["log_entries_applied"] <= 2300
        assert s["nodes_per_layer"][0] == s["log_entries_applied"]

        # Delete 100 rows and vacuum: tombstones, and one delete mark in the log.
        cur.execute("DELETE FROM items WHERE id % 23 = 0 AND id < 2300")
        deleted = cur.rowcount
        cur.execute("VACUUM (INDEX_CLEANUP ON) items")
        s = cur.execute("SELECT * FROM vecmap_index_stats('items_emb')").fetchone()
        assert (s["rows_indexed"], s["rows_deleted"]) == (2300 - deleted, deleted), s
        assert s["log_entries_written"] == s["log_entries_applied"] == 2301
        assert s["nodes_per_layer"][0] == 2300 - deleted, "layers count live nodes"

        # Only the owner (or a superuser) may look; owners see paths relative to $PGDATA.
        cur.execute("CREATE ROLE tune_alice LOGIN")
        try:
            cur.execute("GRANT SELECT ON items TO tune_alice")
            cur.execute("SET ROLE tune_alice")
            for fn in ("vecmap_index_stats('items_emb')", "vecmap_prewarm('items_emb')", "vecmap_tune('items_emb')", "vecmap_calibration('items_emb')"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner of index items_emb"):
                    cur.execute(f"SELECT * FROM {fn}")
            cur.execute("RESET ROLE")
            cur.execute("ALTER TABLE items OWNER TO tune_alice")
            cur.execute("SET ROLE tune_alice")
            path = cur.execute("SELECT sidecar_path FROM vecmap_index_stats('items_emb')").fetchone()["sidecar_path"]
            assert path.startswith("vecmap/") and path.endswith(".vmap"), path
            cur.execute("RESET ROLE")
        finally:
            cur.execute("RESET ROLE")
            cur.execute("DROP TABLE items")
            cur.execute("DROP ROLE tune_alice")
        cur.execute("CREATE TABLE t (id int PRIMARY KEY)")
        with pytest.raises(psycopg.errors.WrongObjectType, match="is not a vecmap index"):
            cur.execute("SELECT * FROM vecmap_index_stats('t_pkey')")


def backend_mapped(pid, path):
    """Bytes of `path` the backend `pid` has mapped (see pagecache.mapped_rss)."""
    smaps = f"/proc/{pid}/smaps"
    text = open(smaps).read() if os.access(smaps, os.R_OK) else as_server_user("cat", smaps).decode()
    return pagecache.mapped_rss(text, path)


def test_prewarm_makes_the_index_resident_for_every_backend(ds):
    """vecmap_prewarm reads every page of the traversal regions through the backend's mapping
    (and the f32 rows with with_vectors), so they are in the page cache for every backend.
    What it read is measured by the backend's own mapped pages (smaps), which does not depend
    on what the page cache held before: the kernel may keep a file's pages after DONTNEED, and
    with MADV_HUGEPAGE one fault reads a 2 MiB folio, so a "cold" reading is not repeatable."""
    with fresh_database("prewarm") as name:
        with connect(name) as c:
            load(c, ds)
            c.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_l2_ops)")
            path, hot, f32 = c.execute("SELECT sidecar_path, int8_bytes + graph_bytes, f32_bytes FROM vecmap_index_stats('items_emb')").fetchone()
        stats = "SELECT resident_int8_graph_bytes, resident_f32_bytes FROM vecmap_index_stats('items_emb')"
        with connect(name) as c:
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            # Nothing of the index is mapped by a new backend before it reads it.
            assert backend_mapped(pid, path) == 0
            touched = c.execute("SELECT vecmap_prewarm('items_emb')").fetchone()[0]
            assert hot <= touched < hot + 64 * 1024, (touched, hot)
            mapped = backend_mapped(pid, path)
            assert mapped >= hot, f"prewarm mapped {mapped} of {hot} traversal bytes"
            assert c.execute(stats).fetchone()[0] >= 0.99 * hot
        # The page cache is not the backend's: a new session finds the index warm.
        with connect(name) as c:
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            assert c.execute(stats).fetchone()[0] >= 0.99 * hot
            both = c.execute("SELECT vecmap_prewarm('items_emb', with_vectors => true)").fetchone()[0]
            assert both >= touched + f32
            assert backend_mapped(pid, path) >= hot + f32, "every f32 row was read too"
            assert c.execute(stats).fetchone()[1] >= 0.99 * f32


def test_explain_analyze_shows_what_the_search_did(db, ds):
    q = (vec(ds.queries[2]),)
    with connect(db) as c:
        cur = c.cursor()
        cur.execute("SET enable_seqscan = off")
        cur.execute("SET vecmap.ef_search = 40")
        plan = explain(cur, "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10", q)
        line, f = vecmap_line(plan)
        lines = plan.splitlines()
        order_by = next(i for i, ln in enumerate(lines) if "Order By:" in ln)
        assert lines[order_by + 1].strip() == line and lines[order_by + 1].index("V") == lines[order_by].index("O"), plan
        assert f["ef"] == "40" and "(vecmap.ef_search)" in line
        visited, distances, reranked = int(f["visited"]), int(f["distances"]), int(f["reranked"])
        assert 10 <= visited and visited < distances and 10 <= reranked <= 40, line
        assert (f["tail"], f["batches"], f["continued"]) == ("0", "1", "no"), line
        # A filter that keeps 1% of rows: the search continues past its first beam.
        _, f = vecmap_line(explain(cur, "SELECT id FROM items WHERE category = 7 ORDER BY embedding <=> %s::vector LIMIT 10", q))
        assert f["continued"] == "yes" and int(f["batches"]) > 1 and int(f["reranked"]) > 40, f
        # Uncommitted rows are searched exactly from the log tail.
        with c.transaction(force_rollback=True):
            cur.executemany("INSERT INTO items VALUES (%s, 0, %s)", [(-i, vec(ds.queries[i])) for i in range(1, 6)])
            _, f = vecmap_line(explain(cur, "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10", q))
            assert f["tail"] == "5", f
        # Rescans add up.
        line, f = vecmap_line(explain(cur, "SELECT n.id FROM (SELECT embedding FROM items WHERE id < 3) s, LATERAL (SELECT id FROM items i ORDER BY i.embedding <=> s.embedding LIMIT 2) n"))
        assert "scans=3" in line and int(f["batches"]) == 3, line
        # Structured formats carry the same numbers as properties of the node.
        doc = explain(cur, "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10", q, fmt="JSON")
        doc = json.loads(doc) if isinstance(doc, str) else doc
        node = doc[0]["Plan"]["Plans"][0]
        assert node["Index Name"] == "items_emb" and node["Vecmap Ef"] == 40 and node["Vecmap Continued"] is False
        assert node["Vecmap Distances"] > node["Vecmap Visited"] > 0 and node["Vecmap Ef Source"] == "vecmap.ef_search"
        yaml = explain(cur, "SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10", q, fmt="YAML")
        assert "Vecmap Ef: 40" in yaml
        # Plain EXPLAIN runs nothing and adds nothing.
        plain = "\n".join(r[0] for r in cur.execute("EXPLAIN SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT 10", q))
        assert "Index Scan using items_emb" in plain and "Vecmap" not in plain


def test_build_and_vacuum_log_one_line_summaries(ds):
    with fresh_database("logs") as name, connect(name) as c:
        cur = c.cursor()
        load(c, ds, n=1500)
        notices = Notices(c)
        cur.execute("SET client_min_messages = log")
        cur.execute("CREATE INDEX items_emb ON items USING vecmap (embedding vector_l2_ops)")
        built = notices.matching('vecmap: built index "items_emb": 1500 rows in ')
        assert len(built) == 1 and " threads; index " in built[0] and " MB, sidecar " in built[0], notices.items
        assert [s for s, m in notices.items if m == built[0]] == ["LOG"]
        # Rows on every page, and INDEX_CLEANUP ON: VACUUM must not bypass index vacuuming.
        cur.execute("DELETE FROM items WHERE id % 10 = 0")
        cur.execute("SET client_min_messages = debug1")
        cur.execute("VACUUM (INDEX_CLEANUP ON) items")
        vac = notices.matching('vecmap: vacuumed index "items_emb": 150 rows removed, 1350 remain in ')
        assert len(vac) == 1 and " threads; index " in vac[0] and " MB, sidecar " in vac[0], notices.items
        assert [s for s, m in notices.items if m == vac[0]] == ["DEBUG"]
        # Not at the default client_min_messages.
        cur.execute("RESET client_min_messages")
        cur.execute("DELETE FROM items WHERE id % 10 = 1")
        cur.execute("VACUUM (INDEX_CLEANUP ON) items")
        assert not notices.matching("150 rows removed, 1200 remain"), notices.items
