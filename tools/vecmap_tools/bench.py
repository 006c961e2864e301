"""vecmap-bench: vecmap vs pgvector's HNSW on the same rows of a real dataset.

Loads the dataset into one database as two identical tables, `vecmap.items` and `pgv.items`
(id int primary key, embedding vector(D)), each typed by its own extension (vecmap in schema
`vecmap`, pgvector in schema `pgv`) from the same binary COPY stream. Each system runs with
search_path set to its schema, so both execute the same SQL text. For one system at a time:
inserts without a vector index (reference), CREATE INDEX ... WITH (m = 16, ef_construction = 64)
on cosine, size on disk, EXPLAIN checks, a server restart with the index files evicted from the
page cache, then per ef_search a recall@10 pass and closed-loop throughput runs (1 and N clients,
prepared statements, binary parameters) until per-second QPS is steady, the hot set left resident,
inserts into the indexed table, DROP INDEX. Only one vector index exists at any time.

Writes results/<dataset>-<date>.json, .md and .png (recall vs QPS).
"""
import argparse
import contextlib
import datetime
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from psycopg.rows import dict_row

from vecmap_data.dataset import cache_root, load_dataset
from vecmap_data.formats import exact_knn

from . import bench_pressure
from .bench_load import connect, run_point
from .bench_report import headline, markdown, plot
from .pagecache import drop, resident

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATASET = "minilm-debian-100k"
SYSTEMS = {  # name: (extension, schema, access method, ef_search setting)
    "vecmap": ("vecmap", "vecmap", "vecmap", "vecmap.ef_search"),
    "pgvector": ("vector", "pgv", "hnsw", "hnsw.ef_search"),
}
QUERY = "SELECT id FROM items ORDER BY embedding <=> %b LIMIT 10"
INDEX = "CREATE INDEX items_embedding_idx ON items USING {am} (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
HELD_OUT_ID = 100_000_000  # ids of inserted rows (above any dataset's row ids)
LOAD_CHUNK = 500_000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine_info():
    cpu = open("/proc/cpuinfo").read().split("\n\n")[0]
    cpu = dict(map(str.strip, line.split(":", 1)) for line in cpu.splitlines() if ":" in line)
    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    flags = cpu.get("flags", "").split()
    git = lambda *a: subprocess.run(["git", "-C", REPO, *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    return dict(cpu=cpu.get("model name", "?"), nproc=len(os.sched_getaffinity(0)),
                mem_gb=mem / 2**20, kernel=os.uname().release,
                simd=[f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vnni") if f in flags],
                commit=git("rev-parse", "--short", "HEAD") + ("-dirty" if git("status", "--porcelain") else ""))


def library(path):
    """Identity of the installed vecmap.so (a reinstall during the run would mix builds)."""
    st = path.stat()
    return dict(path=str(path), bytes=st.st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest()[:16],
                mtime=datetime.datetime.fromtimestamp(st.st_mtime).isoformat(timespec="seconds"))


def cpu_busy():
    """(busy, total) jiffies of all cores, from /proc/stat."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


class PeakMemory:
    """Samples, every 0.1 s while active, the anonymous and shared-memory RSS (RssAnon + RssShmem
    of /proc/<pid>/status: what the OOM killer and maintenance_work_mem are about; file-backed
    pages such as the mapped sidecar are page cache and excluded) summed over the backend and
    its parallel workers; `peak` is the largest sum seen."""

    def __init__(self, backend_pid):
        self.pid, self.peak, self.stop = backend_pid, 0, threading.Event()
        self.ppid = int(open(f"/proc/{backend_pid}/stat").read().rsplit(")", 1)[1].split()[1])

    def _pids(self):
        out = [self.pid]
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    st = (d / "stat").read_text()
                    if int(st.rsplit(")", 1)[1].split()[1]) == self.ppid and "parallel worker" in (d / "cmdline").read_text():
                        out.append(int(d.name))
                except (OSError, ValueError, IndexError):
                    pass
        return out

    def _sample(self):
        total = 0
        for pid in self._pids():
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith(("RssAnon:", "RssShmem:")):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        self.peak = max(self.peak, total)

    def _run(self):
        while not self.stop.wait(0.1):
            self._sample()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def copy_payload(ids, vecs):
    """COPY ... (FORMAT binary) stream of (int4 id, vector): pgvector's wire form, which vecmap shares."""
    n, d = vecs.shape
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("dim", ">i2"),
                    ("unused", ">i2"), ("v", ">f4", (d,))])
    rows = np.zeros(n, row)
    rows["nf"], rows["l1"], rows["id"], rows["l2"], rows["dim"], rows["v"] = 2, 4, ids, 4 + 4 * d, d, vecs
    return b"PGCOPY\n\xff\r\n\x00" + bytes(8) + rows.tobytes() + b"\xff\xff"


def copy_pieces(vecs, chunk=LOAD_CHUNK, piece=1 << 23):
    """copy_payload(ids 0.., vecs) as pieces of at most `piece` bytes, built `chunk` rows at a time
    (10M rows then need one chunk's memory, not the whole stream's)."""
    for lo in range(0, len(vecs), chunk):
        part = copy_payload(np.arange(lo, min(lo + chunk, len(vecs))), vecs[lo:lo + chunk])
        body = memoryview(part)[19 if lo else 0:len(part) - 2]  # one header, one trailer in all
        for i in range(0, len(body), piece):
            yield body[i:i + piece]
    if not len(vecs):
        yield memoryview(copy_payload(np.arange(0), vecs))[:-2]
    yield b"\xff\xff"


def copy_in(conn, payload):
    with conn.cursor().copy("COPY items (id, embedding) FROM STDIN (FORMAT binary)") as cp:
        for i in range(0, len(payload), 1 << 23):
            cp.write(payload[i:i + (1 << 23)])


def inserts(conn, held, probe=None):
    """Rows/s of COPY, of single-row prepared INSERTs in autocommit (each commit waits for its WAL
    flush) and in one transaction; with `probe`, the latency of the next two queries (vecmap folds
    inserted rows into its graph lazily); then the DELETE + VACUUM time."""
    n, cur, res = len(held) // 3, conn.cursor(), {}
    ids = np.arange(3 * n) + HELD_OUT_ID
    t = time.perf_counter()
    copy_in(conn, copy_payload(ids[:n], held[:n]))
    res["copy_rows_s"] = n / (time.perf_counter() - t)
    for key, lo, txn in (("insert_rows_s", n, False), ("insert_1txn_rows_s", 2 * n, True)):
        t = time.perf_counter()
        with conn.transaction() if txn else contextlib.nullcontext():
            for i, v in zip(ids[lo:lo + n].tolist(), held[lo:lo + n]):
                cur.execute("INSERT INTO items (id, embedding) VALUES (%b, %b)", (i, v), prepare=True)
        res[key] = n / (time.perf_counter() - t)
    if probe is not None:
        for key in ("first_query_ms", "second_query_ms"):
            t = time.perf_counter()
            conn.cursor(binary=True).execute(QUERY, (probe,), prepare=True).fetchall()
            res[key] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    conn.execute("DELETE FROM items WHERE id >= %s", (HELD_OUT_ID,))
    conn.execute("VACUUM items")
    return dict(rows=n, vacuum_s=time.perf_counter() - t, **res)


def vec_text(v):
    return "[" + ",".join(f"{x:.9g}" for x in v) + "]"


def check_plans(conn, q):
    """EXPLAIN the query as a prepared statement, custom and generic plan: both must scan the index."""
    conn.execute("PREPARE bench_q(vector) AS " + QUERY.replace("%b", "$1"))
    plans = {}
    for mode in ("force_custom_plan", "force_generic_plan"):
        conn.execute(f"SET plan_cache_mode = {mode}")
        plans[mode] = "\n".join(r[0] for r in conn.execute(f"EXPLAIN EXECUTE bench_q('{vec_text(q)}')"))
        if "Index Scan using items_embedding_idx" not in plans[mode]:
            sys.exit(f"{mode} does not use the index:\n{plans[mode]}")
    conn.execute("RESET plan_cache_mode")
    conn.execute("DEALLOCATE bench_q")
    return plans


def index_files(conn, datadir, name):
    """Index relation segment files and (vecmap) the sidecar path."""
    rel, spc, db, node = conn.execute(
        "SELECT pg_relation_filepath(c.oid), coalesce(nullif(c.reltablespace, 0), d.dattablespace), d.oid, "
        "pg_relation_filenode(c.oid) FROM pg_class c, pg_database d "
        "WHERE c.oid = 'items_embedding_idx'::regclass AND d.datname = current_database()").fetchone()
    segs = [datadir / rel] + sorted(datadir.glob(rel + ".[0-9]*"), key=lambda p: int(p.suffix[1:]))
    sidecar = datadir / "vecmap" / f"{spc}_{db}_{node}.vmap" if name == "vecmap" else None
    return segs, sidecar


def arenas(conn):
    """vecmap's sidecar arenas, allocated and resident (vecmap_index_stats, vecmap >= 0.2), else None."""
    if not conn.execute("SELECT to_regproc('vecmap_index_stats')").fetchone()[0]:
        return None
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT int8_bytes, graph_bytes, f32_bytes, resident_int8_graph_bytes, resident_f32_bytes "
        "FROM vecmap_index_stats('items_embedding_idx')").fetchone()


def restart_evicted(args, datadir, bindir, files):
    """Restart the server with its own binaries (empty shared_buffers); drop `files` from the page cache."""
    env = dict(os.environ, VECMAP_PORT=str(args.port), VECMAP_PGDATA=str(datadir), PGBIN=bindir)
    subprocess.run([REPO / "scripts" / "cluster.sh", "stop"], env=env, check=True)
    for f in files:
        drop(f)
    subprocess.run([REPO / "scripts" / "cluster.sh", "start"], env=env, check=True, stdout=subprocess.DEVNULL)


def recall(conn, queries, gt10):
    """Mean recall@10 of the prepared query over all queries (also warms the index)."""
    cur, hits = conn.cursor(binary=True), 0
    for q, g in zip(queries, gt10):
        hits += len({r[0] for r in cur.execute(QUERY, (q,), prepare=True).fetchall()} & set(g.tolist()))
    return hits / gt10.size


def bench_system(args, name, dsn, datadir, queries, gt10, held, notices):
    _, schema, am, guc = SYSTEMS[name]
    res = {}
    conn = connect(dsn, schema)
    conn.add_notice_handler(lambda d: notices.append(f"{name}: {d.severity}: {d.message_primary}"))
    kept = args.reuse_db and conn.execute("SELECT to_regclass('items_embedding_idx')").fetchone()[0]
    if not kept and not args.no_inserts:
        log(f"{name}: inserts without a vector index")
    res["inserts"] = {"none": None if kept or args.no_inserts else inserts(conn, held)}

    workers = args.nproc - 1  # plus the leader, which also builds: one process per core
    conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
    if args.maintenance_work_mem:
        conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    log(f"{name}: CREATE INDEX USING {am} (max_parallel_maintenance_workers = {workers})")
    if kept:  # --reuse-db: the index another run built (its build time is that run's)
        log(f"{name}: reusing items_embedding_idx (--reuse-db): no build measured, the index is kept")
        res["build"] = None
    else:
        b0, t = cpu_busy(), time.perf_counter()
        with PeakMemory(conn.info.backend_pid) as mem:
            conn.execute(INDEX.format(am=am))
        secs, b1 = time.perf_counter() - t, cpu_busy()
        res["build"] = dict(seconds=secs, max_parallel_maintenance_workers=workers,
                            cores_busy=args.nproc * (b1[0] - b0[0]) / max(b1[1] - b0[1], 1),
                            peak_anon_shmem_bytes=mem.peak,
                            maintenance_work_mem=conn.execute("SHOW maintenance_work_mem").fetchone()[0])
    segs, sidecar = index_files(conn, datadir, name)
    files = segs + ([sidecar] if sidecar else [])
    rel = conn.execute("SELECT pg_relation_size('items_embedding_idx')").fetchone()[0]
    side = sidecar.stat().st_size if sidecar else None
    res["size"] = dict(relation=rel, sidecar=side, total=rel + (side or 0),
                       sidecar_allocated=sidecar.stat().st_blocks * 512 if sidecar else None,
                       sidecar_path=str(sidecar) if sidecar else None)
    log(f"{name}: {'built in ' + format(res['build']['seconds'], '.1f') + ' s, ' if res['build'] else ''}"
        f"{res['size']['total'] / 2**20:.1f} MB on disk")
    res["plans"] = check_plans(conn, queries[0])
    bindir = conn.execute("SELECT setting FROM pg_config WHERE name = 'BINDIR'").fetchone()[0]
    conn.close()
    res["cold_start"] = not args.no_restart
    if not args.no_restart:
        log(f"{name}: restarting the server, evicting {len(files)} index file(s) from the page cache")
        restart_evicted(args, datadir, bindir, files)

    conn = connect(dsn, schema)
    conn.add_notice_handler(lambda d: notices.append(f"{name}: {d.severity}: {d.message_primary}"))
    t = time.perf_counter()
    conn.cursor(binary=True).execute(QUERY, (queries[0],)).fetchall()
    res["first_query_ms"] = (time.perf_counter() - t) * 1000  # new backend, after the restart if any
    res["points"] = []
    for ef in args.ef:
        conn.execute(f"SET {guc} = {ef}")
        t = time.perf_counter()
        r = recall(conn, queries, gt10)
        log(f"{name} ef={ef}: recall@10 {r:.4f} ({len(queries) / (time.perf_counter() - t):,.0f} q/s sequential)")
        pts = [run_point(f"{name} ef={ef} {c}c", dsn, schema, [f"SET {guc} = {ef}"], QUERY, [(q,) for q in queries],
                         c, args.min_seconds, args.max_seconds, not args.no_pin) for c in args.clients]
        notices.extend(f"{name} ef={ef}: {n}" for p in pts for n in p.pop("notices"))
        page = resident(files)[0]  # cumulative: evicted before the first ef
        split = arenas(conn) if name == "vecmap" else None
        res["points"] += [dict(ef=ef, recall=r, resident=page, arenas=split, **p) for p in pts]

    page, size = resident(files)
    res["hot_set"] = dict(page_cache=page, file_bytes=size, shared_buffers=None,
                          sidecar_page_cache=resident([sidecar])[0] if sidecar else None,
                          arenas=arenas(conn) if name == "vecmap" else None)
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_buffercache'").fetchone():
        res["hot_set"]["shared_buffers"] = conn.execute(
            "SELECT count(*) * current_setting('block_size')::bigint FROM public.pg_buffercache "
            "WHERE reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND relfilenode = pg_relation_filenode('items_embedding_idx')").fetchone()[0]
    log(f"{name}: resident after the sweep: {page / 2**20:.1f} of {size / 2**20:.1f} MB in the page cache")

    conn.execute(f"RESET {guc}")
    if not args.no_inserts:
        log(f"{name}: inserts into the indexed table")
        res["inserts"]["indexed"] = inserts(conn, held, probe=queries[0])
    if not kept:
        conn.execute("DROP INDEX items_embedding_idx")
    conn.close()
    return res


def split(ds, n_queries, insert_rows):
    """(table rows, queries, held-out rows to insert, exact top-10 ids, ground-truth source)."""
    queries = ds.queries[:n_queries]
    spare = ds.queries[n_queries:]
    if len(spare) >= 3 * insert_rows:
        base, held = ds.base, spare[:3 * insert_rows]
    else:  # too few spare queries: hold out the tail of base
        h = min(3 * insert_rows, len(ds.base) // 10)
        base, held = ds.base[:-h], ds.base[-h:]
    gt = ds.gt.get("cosine")
    if gt is not None and len(base) == len(ds.base) and gt.shape[1] >= 10:
        return base, queries, held, gt[:n_queries, :10], "dataset"
    if gt is not None:  # held out from base: the dataset's top-k without the held-out rows, if 10 remain
        kept = [row[row < len(base)][:10] for row in gt[:n_queries]]
        if all(len(r) == 10 for r in kept):
            return base, queries, held, np.stack(kept), "dataset (held-out rows removed)"
    return base, queries, held, exact_knn(base, queries, k=10, metric="cosine")[0], "numpy (exact)"


def reusable(admin, db, rows):
    """Whether `db` holds the tables with `rows` rows each (for --reuse-db; indexes are kept if there)."""
    with connect(admin + " dbname=postgres") as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            return False
    with connect(f"{admin} dbname={db}") as c:
        have = c.execute("SELECT c.reltuples::bigint FROM pg_class c WHERE c.relname = 'items'").fetchall()
    return bool(have) and all(n == rows for n, in have)


def load(conn, systems, base, buffercache):
    """Both tables from one binary COPY stream."""
    if buffercache:
        conn.execute("CREATE EXTENSION pg_buffercache")
    for s in systems:
        ext, schema, _, _ = SYSTEMS[s]
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE EXTENSION {ext} SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.items (id int PRIMARY KEY, embedding {schema}.vector({base.shape[1]}))")
        conn.execute(f"SET search_path = {schema}")
        t = time.perf_counter()
        with conn.cursor().copy("COPY items (id, embedding) FROM STDIN (FORMAT binary)") as cp:
            for piece in copy_pieces(base):
                cp.write(piece)
        conn.execute("ANALYZE items")
        log(f"{s}: loaded {len(base):,} rows into {schema}.items in {time.perf_counter() - t:.1f} s")
    conn.execute("RESET search_path")


def pressure_main(args, res, name, systems, dsn, datadir, queries, gt10):
    """--memory-limit / --cold-start: build the indexes that are missing (timed, all cores), then
    the memory-limit table and the cold-start figures; writes results/<dataset>-pressure-<date>.*"""
    conn = connect(dsn)
    bindir = conn.execute("SELECT setting FROM pg_config WHERE name = 'BINDIR'").fetchone()[0]
    conn.close()
    chosen = {s: SYSTEMS[s] for s in systems}
    res["build"] = {}
    for s, (_, schema, am, _) in chosen.items():
        conn = connect(dsn, schema)
        if not conn.execute("SELECT to_regclass('items_embedding_idx')").fetchone()[0]:
            conn.execute(f"SET max_parallel_maintenance_workers = {args.nproc - 1}")
            if args.maintenance_work_mem:
                conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
            log(f"{s}: CREATE INDEX USING {am}")
            t = time.perf_counter()
            conn.execute(INDEX.format(am=am))
            res["build"][s] = time.perf_counter() - t
            log(f"{s}: built in {res['build'][s]:.1f} s")
        conn.close()
    stem = Path(args.out) / f"{name}-pressure-{datetime.datetime.now():%Y-%m-%d-%H%M}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    if args.memory_limit:
        res["pressure"] = bench_pressure.pressure(args, chosen, dsn, datadir, bindir, queries, gt10, QUERY, log)
        stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    if args.cold_start:
        efs = {s: v["ef"] for s, v in res.get("pressure", {}).get("systems", {}).items()}
        for s, (_, schema, _, guc) in chosen.items():
            if s not in efs:
                with connect(dsn, schema) as conn:
                    efs[s], _ = bench_pressure.pick_ef(conn, guc, args.pressure_ef, args.target_recall, QUERY,
                                                       queries[:args.calibration_queries],
                                                       gt10[:args.calibration_queries], log)
        res["cold_start"] = bench_pressure.cold_start(args, chosen, dsn, datadir, bindir, queries, gt10, QUERY, efs, log)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    m, d = res["machine"], res["dataset"]
    md = (f"### {d['name']}: {d['rows']:,} rows × {d['dims']} (source {d.get('source')}), cosine, k = 10\n\n"
          f"{m['cpu']}, {m['nproc']} cores, {m['mem_gb']:.0f} GB RAM, kernel {m['kernel']}; "
          f"{res['postgres']['version']}; commit {m['commit']}; {res['date']}\n\n"
          f"Command: `{res['config']['command']}`\n\n"
          + "".join(f"{s} CREATE INDEX: {t:.1f} s\n\n" for s, t in res["build"].items())
          + bench_pressure.markdown(res))
    stem.with_suffix(".md").write_text(md)
    print("\n" + md)
    log(f"wrote {stem}.json, .md")


def parse_args(argv):
    nproc = len(os.sched_getaffinity(0))
    default = cache_root() / DEFAULT_DATASET
    ap = argparse.ArgumentParser(prog="vecmap-bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(default) if (default / "base.fvecs").is_file() else str(REPO / "fixtures" / "minilm-debian"),
                    help=f"dataset dir or cached name (default: {DEFAULT_DATASET} if cached, else the 4k fixture)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("VECMAP_PORT", "55432")))
    ap.add_argument("--db", default="vecmap_bench", help="database to (re)create")
    ap.add_argument("--no-pgvector", action="store_true", help="benchmark vecmap alone")
    ap.add_argument("--clients", default=f"1,{nproc}", help="client counts (default: 1,nproc)")
    ap.add_argument("--ef", help="ef_search sweep (default 10,20,30,40,60,80,120,200)")
    ap.add_argument("--queries", type=int, help="queries used, for recall and load (default 1000)")
    ap.add_argument("--insert-rows", type=int,
                    help="rows for each of COPY, autocommit INSERTs, INSERTs in one transaction (default 1000)")
    ap.add_argument("--min-seconds", type=float, help="steady-state window per point (default 5)")
    ap.add_argument("--max-seconds", type=float, help="time cap per point (default 20)")
    ap.add_argument("--no-pin", action="store_true",
                    help="don't pin each client and its backend to one core (client i on core i mod nproc)")
    ap.add_argument("--no-restart", action="store_true",
                    help="don't restart the server (scripts/cluster.sh) and evict the index from the page "
                         "cache before each sweep; the hot set then includes what the build left cached")
    ap.add_argument("--no-inserts", action="store_true",
                    help="skip the COPY/INSERT/DELETE+VACUUM measurements (slow for pgvector at 1M rows)")
    ap.add_argument("--out", default=str(REPO / "results"))
    g = ap.add_argument_group("memory pressure and cold start (instead of the sweep; root; see bench_pressure.py)")
    g.add_argument("--memory-limit", help="run each system's operating point without and with this cgroup memory "
                   "limit (e.g. 1G): below the f32 data, above vecmap's int8 rows + graph")
    g.add_argument("--cold-start", action="store_true",
                   help="time to first answer and QPS over the first --cold-queries after a restart with an "
                        "empty page cache, with and without prewarm")
    g.add_argument("--reuse-db", action="store_true",
                   help="keep --db if it already holds the dataset and both indexes (skips load and build)")
    ap.add_argument("--maintenance-work-mem",
                    help="SET maintenance_work_mem for CREATE INDEX (e.g. 4GB: pgvector builds on disk, far "
                         "slower, once its graph outgrows it); default: the server's setting")
    g.add_argument("--shared-buffers", default="128MB", help="shared_buffers for these runs (default 128MB)")
    g.add_argument("--target-recall", type=float, default=0.95, help="recall@10 the operating point must reach")
    g.add_argument("--pressure-ef", default="20,30,40,60,80,120,160,200,300,400",
                   help="ef_search candidates for the operating point")
    g.add_argument("--calibration-queries", type=int, default=300, help="queries for picking ef")
    g.add_argument("--pressure-warmup", type=float, default=20, help="seconds of queries before measuring")
    g.add_argument("--pressure-seconds", type=float, default=60, help="seconds measured per point")
    g.add_argument("--cold-queries", type=int, default=1000, help="queries timed after a cold start")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test defaults: ef 10,40,120, 200 queries, 200 insert rows, 2-4 s per point")
    args = ap.parse_args(argv)
    defaults = (("10,40,120", 200, 200, 2, 4) if args.quick else ("10,20,30,40,60,80,120,200", 1000, 1000, 5, 20))
    for key, value in zip(("ef", "queries", "insert_rows", "min_seconds", "max_seconds"), defaults):
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.ef = [int(x) for x in str(args.ef).split(",")]
    args.clients = [int(x) for x in str(args.clients).split(",")]
    args.pressure_ef = [int(x) for x in str(args.pressure_ef).split(",")]
    args.nproc = nproc
    return args


def main(argv=None):
    args = parse_args(argv)
    ds = load_dataset(args.dataset)
    base, queries, held, gt10, gt_source = split(ds, args.queries, args.insert_rows)
    name = ds.meta.get("name") or Path(args.dataset).name
    log(f"dataset {name}: {len(base):,} rows × {base.shape[1]}, {len(queries):,} queries, "
        f"{len(held):,} held-out rows, ground truth: {gt_source}")

    admin = f"host=127.0.0.1 port={args.port} user=postgres"
    dsn = f"{admin} dbname={args.db}"
    reuse = args.reuse_db and reusable(admin, args.db, len(base))
    if not reuse:
        with connect(admin + " dbname=postgres") as c:
            c.execute(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {args.db}")
    conn = connect(dsn)
    avail = dict(conn.execute("SELECT name, default_version FROM pg_available_extensions "
                              "WHERE name IN ('vecmap', 'vector', 'pg_buffercache')").fetchall())
    systems = ["vecmap"] + (["pgvector"] if "vector" in avail and not args.no_pgvector else [])
    datadir = Path(conn.execute("SHOW data_directory").fetchone()[0])
    if reuse:
        log(f"reusing database {args.db} (--reuse-db)")
    else:
        load(conn, systems, base, "pg_buffercache" in avail)
    conn.execute("RESET search_path")
    if len(systems) == 2:
        diff = conn.execute("SELECT count(*) FROM vecmap.items a FULL JOIN pgv.items b USING (id) "
                            "WHERE a.embedding::real[] IS DISTINCT FROM b.embedding::real[]").fetchone()[0]
        if diff:
            sys.exit(f"{diff} rows differ between vecmap.items and pgv.items")
    so = Path(conn.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]) / "vecmap.so"
    pg = dict(version=conn.execute("SELECT version()").fetchone()[0].split(" on ")[0],
              vecmap_so=library(so),
              vecmap=avail.get("vecmap"), pgvector=avail.get("vector") if "pgvector" in systems else None,
              settings=dict(conn.execute("SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                                         "('shared_buffers', 'maintenance_work_mem', 'work_mem', 'fsync', "
                                         "'synchronous_commit', 'max_parallel_workers', 'jit')").fetchall()))
    conn.close()

    res = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), loadavg=os.getloadavg(),
               machine=machine_info(), postgres=pg,
               dataset=dict(name=name, path=str(ds.path), rows=len(base), dims=int(base.shape[1]),
                            queries=len(queries), held_out=len(held), ground_truth=gt_source,
                            model=ds.meta.get("model"), source=ds.meta.get("source"), n_base=len(ds.base),
                            synthetic=bool(ds.meta.get("synthetic"))),
               config=dict(vars(args), command=" ".join(sys.argv)), select1=[], systems={}, notices=[])
    if args.memory_limit or args.cold_start:
        return pressure_main(args, res, name, systems, dsn, datadir, queries, gt10)
    log("SELECT 1 ceiling")
    for c in args.clients:
        p = run_point(f"SELECT 1 {c}c", dsn, None, [], "SELECT 1", [], c, args.min_seconds, args.max_seconds,
                      not args.no_pin)
        res["notices"] += p.pop("notices")
        res["select1"].append(p)
    for s in systems:
        res["systems"][s] = bench_system(args, s, dsn, datadir, queries, gt10, held, res["notices"])
    res["headline"] = headline(res)
    if library(so) != pg["vecmap_so"]:
        res["notices"].append(f"WARNING: {so} was replaced during the run; results mix builds")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{name}-{datetime.datetime.now():%Y-%m-%d-%H%M}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    md = markdown(res)
    stem.with_suffix(".md").write_text(md)
    plot(res, stem.with_suffix(".png"))
    print("\n" + md)
    for n in res["notices"]:
        print(n)
    log(f"wrote {stem}.json, .md, .png")


if __name__ == "__main__":
    main()
