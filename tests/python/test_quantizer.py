"""The int8 quantizer follows the data: an index created on an empty table fits its quantizer on
the first rows inserted; when later rows fall outside that range (clamped codes the graph walk
cannot tell apart), VACUUM — or autovacuum after enough inserts — rebuilds the sidecar with a
quantizer fitted on rows spread over the whole table. Recall is measured against exact search."""
import numpy as np

from vecmap_server import connect, fresh_database, vec


def recall(cur, queries, k=10):
    hit = 0
    for q in queries:
        cur.execute("SET enable_indexscan = off")
        truth = {r[0] for r in cur.execute(f"SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT {k}", (vec(q),))}
        cur.execute("SET enable_indexscan = on")
        got = [r[0] for r in cur.execute(f"SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT {k}", (vec(q),))]
        hit += len(truth & set(got))
    return hit / (k * len(queries))


def test_vacuum_refits_a_quantizer_fitted_on_unrepresentative_rows():
    rng = np.random.default_rng(21)
    dims = 64
    # First rows: a narrow cloud. Later rows: clusters twenty times wider.
    first = rng.normal(0, 0.05, (300, dims)).astype(np.float32)
    centres = rng.normal(0, 1, (30, dims))
    later = (centres[rng.integers(0, 30, 4000)] + rng.normal(0, 0.3, (4000, dims))).astype(np.float32)
    queries = (centres[rng.integers(0, 30, 40)] + rng.normal(0, 0.3, (40, dims))).astype(np.float32)
    with fresh_database("refit") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute(f"CREATE TABLE t (id int, embedding vector({dims}))")
        cur.execute("CREATE INDEX t_idx ON t USING vecmap (embedding vector_l2_ops)")
        for start, rows in ((0, first), (len(first), later)):
            with cur.copy("COPY t (id, embedding) FROM STDIN") as cp:
                for i, v in enumerate(rows, start=start):
                    cp.write_row((i, vec(v)))
        cur.execute("SET vecmap.ef_search = 40")
        before = recall(cur, queries)
        stats = "SELECT last_rebuilt, rows_indexed, quantization_error FROM vecmap_index_stats('t_idx')"
        built, _, err_before = cur.execute(stats).fetchone()
        cur.execute("VACUUM t")
        rebuilt, rows, err_after = cur.execute(stats).fetchone()
        after = recall(cur, queries)
        print(f"recall@10 at ef 40: {before:.3f} with the first rows' quantizer, {after:.3f} after VACUUM; "
              f"quantization error {err_before:.4f} -> {err_after:.4f}")
        assert rows == len(first) + len(later)
        assert rebuilt >= built and err_after < err_before / 4, "VACUUM refitted the quantizer"
        assert before < 0.9, f"the scenario clamps: recall {before}"
        assert after >= 0.95, f"recall after the refit {after}"
        # A second VACUUM finds the refitted quantizer in range and leaves the sidecar alone.
        cur.execute("VACUUM t")
        assert cur.execute("SELECT last_rebuilt FROM vecmap_index_stats('t_idx')").fetchone()[0] == rebuilt


def test_vacuum_walks_a_graph_too_large_for_the_per_batch_walk():
    """Over 65,536 nodes, batches only check their own nodes; VACUUM walks the whole graph
    (src/am/vacuum.rs relink_unreached). It runs under the writer lock beside inserts and leaves
    every row findable by its own vector."""
    rng = np.random.default_rng(5)
    dims, n = 8, 70_000
    data = rng.normal(0, 1, (n, dims)).astype(np.float32)
    with fresh_database("bigwalk") as name, connect(name) as c:
        cur = c.cursor()
        cur.execute(f"CREATE TABLE t (id int, embedding vector({dims})) WITH (autovacuum_enabled = false)")
        with cur.copy("COPY t (id, embedding) FROM STDIN") as cp:
            for i, v in enumerate(data):
                cp.write_row((i, vec(v)))
        cur.execute("CREATE INDEX t_idx ON t USING vecmap (embedding vector_l2_ops)")
        with cur.copy("COPY t (id, embedding) FROM STDIN") as cp:
            for i, v in enumerate(rng.normal(0, 1, (1000, dims)).astype(np.float32), start=n):
                cp.write_row((i, vec(v)))
        cur.execute("VACUUM t")
        assert cur.execute("SELECT rows_indexed FROM vecmap_index_stats('t_idx')").fetchone()[0] == n + 1000
        cur.execute("SET enable_seqscan = off")
        sample = rng.choice(n, 300, replace=False)
        hits = sum(cur.execute("SELECT id FROM t ORDER BY embedding <-> %s::vector LIMIT 1", (vec(data[i]),)).fetchone()[0] == i for i in sample)
        assert hits >= 0.99 * len(sample), hits
