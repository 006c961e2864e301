"""`make demo`: semantic search over real text with a vecmap index.

Loads the committed MiniLM fixture (Debian package descriptions embedded with
all-MiniLM-L6-v2) into a table, builds a vecmap index, answers natural-language queries
(embedded with the same model), then measures recall@10 and latency against exact search
on the same rows, and against the fixture's committed ground truth. Exits non-zero when the
index is not used or its recall@10 is below --min-recall (0.9).
"""
import argparse
import os
import sys
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from vecmap_data.dataset import load_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vec(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=os.path.join(REPO, "fixtures", "minilm-debian"), help="dataset directory (see `python -m vecmap_data.dataset --help`)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("VECMAP_PORT", "55432")), help="server on 127.0.0.1 (default $VECMAP_PORT or 55432)")
    ap.add_argument("--db", default="vecmap_demo", help="database to (re)create (default vecmap_demo)")
    ap.add_argument("--query", action="append", default=[], help="extra natural-language query (needs the embedding model installed)")
    ap.add_argument("--ef-search", type=int, default=40)
    ap.add_argument("--min-recall", type=float, default=0.9, help="fail below this recall@10 against exact search (default 0.9)")
    args = ap.parse_args()
    failures = []

    ds = load_dataset(args.dataset)
    dsn = f"host=127.0.0.1 port={args.port} user=postgres"
    with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {args.db}")
    with psycopg.connect(f"{dsn} dbname={args.db}", autocommit=True) as c:
        cur = c.cursor()
        cur.execute("CREATE EXTENSION vecmap")
        cur.execute("CREATE TABLE docs (id int PRIMARY KEY, body text, embedding vector(%d))" % ds.base.shape[1])
        t0 = time.perf_counter()
        with cur.copy("COPY docs (id, body, embedding) FROM STDIN") as cp:
            for i, (text, v) in enumerate(zip(ds.texts, ds.base)):
                cp.write_row((i, text, vec(v)))
        print(f"loaded {len(ds.base)} rows of {ds.meta.get('source', 'real text')} ({ds.base.shape[1]}-d {ds.meta.get('model', '')}) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        cur.execute("CREATE INDEX docs_embedding_idx ON docs USING vecmap (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
        print(f"CREATE INDEX … USING vecmap: {time.perf_counter() - t0:.2f} s")
        cur.execute("ANALYZE docs")
        cur.execute(f"SET vecmap.ef_search = {args.ef_search}")

        queries = list(zip(ds.demo_texts, ds.demo_queries))
        if args.query:
            from vecmap_data.embed import Embedder

            emb = Embedder().encode(args.query)
            queries += list(zip(args.query, emb))
        sql = "SELECT body, embedding <=> %s::vector AS d FROM docs ORDER BY embedding <=> %s::vector LIMIT 3"
        plan = cur.execute("EXPLAIN " + sql, (vec(queries[0][1]), vec(queries[0][1]))).fetchall()
        print("plan:", " / ".join(r[0].strip() for r in plan[:2]))
        if not any("Index Scan using docs_embedding_idx" in r[0] for r in plan):
            failures.append("the query plan does not use the vecmap index")
        for text, q in queries:
            print(f"\n? {text}")
            for body, d in cur.execute(sql, (vec(q), vec(q))):
                print(f"  {d:.3f}  {body[:110]}")

        def run(index):
            # Own connection per mode: prepared plans are cached per session, so a SET after
            # the first execution would not change them.
            with psycopg.connect(f"{dsn} dbname={args.db}", autocommit=True) as cc:
                register_vector(cc)
                cc.execute("SET enable_indexscan = %s" % ("on" if index else "off"))
                cc.execute(f"SET vecmap.ef_search = {args.ef_search}")
                res, lat = [], []
                for rep in range(2):  # first pass warms caches; the second is measured
                    res, lat = [], []
                    for q in ds.queries:
                        t = time.perf_counter()
                        rows = cc.execute("SELECT id FROM docs ORDER BY embedding <=> %s LIMIT 10", (q,), prepare=True, binary=True).fetchall()
                        lat.append(time.perf_counter() - t)
                        res.append({r[0] for r in rows})
            return res, np.array(lat) * 1000

        exact, lat_exact = run(False)
        approx, lat_idx = run(True)
        rec = np.mean([len(a & e) / 10 for a, e in zip(approx, exact)])
        print(f"\nrecall@10 over {len(ds.queries)} held-out queries (vs exact search on the same rows): {rec:.3f}")
        if rec < args.min_recall:
            failures.append(f"recall@10 {rec:.3f} is below {args.min_recall}")
        gt = ds.gt.get("cosine")
        if gt is not None and len(gt) == len(ds.queries):
            # The exact search itself, against the neighbours computed when the fixture was made
            # (numpy; ties in the last place may order differently).
            truth = [set(int(i) for i in row[:10]) for row in gt]
            agree = np.mean([len(e & t) / 10 for e, t in zip(exact, truth)])
            print(f"exact search vs the fixture's ground truth: {agree:.3f}; vecmap index vs ground truth: "
                  f"{np.mean([len(a & t) / 10 for a, t in zip(approx, truth)]):.3f}")
            if agree < 0.98:
                failures.append(f"exact search agrees with the fixture's ground truth on only {agree:.3f} of the top 10")
        print("latency (prepared statement, binary parameters, one client):")
        print(f"  vecmap index: p50 {np.percentile(lat_idx, 50):.2f} ms  p99 {np.percentile(lat_idx, 99):.2f} ms")
        print(f"  exact scan:      p50 {np.percentile(lat_exact, 50):.2f} ms  p99 {np.percentile(lat_exact, 99):.2f} ms")
    print(f"\nconnect: psql -h 127.0.0.1 -p {args.port} -U postgres {args.db}")
    print("stop the server: make cluster-stop")
    if failures:
        for f in failures:
            print(f"demo FAILED: {f}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
