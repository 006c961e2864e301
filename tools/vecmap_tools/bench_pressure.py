"""Memory pressure and cold start for `vecmap_tools.bench` (`--memory-limit`, `--cold-start`).

Memory pressure: the server is restarted inside a memory cgroup (v1 `memory.limit_in_bytes` or
v2 `memory.max`) whose limit counts its processes, shared buffers and the page cache of every
file it reads, with the page cache dropped first so nothing cached before counts. The limit is
meant to lie between vecmap's hot set (int8 rows + graph) and the f32 data. Each system is then
measured at the ef_search that reaches the target recall without a limit, once without and once
with the limit: recall@10, QPS and p50/p99 of one client running queries back to back, and the
bytes the backend read from storage per query (`read_bytes` of /proc/<backend>/io: page-cache
hits are not counted, readahead is).

Cold start: the server restarted with an empty page cache, then (with and without each system's
prewarm: `vecmap_prewarm`, also with its f32 rows, and pgvector's index with contrib's
`pg_prewarm`) the time to the first answer (connection and prewarm included) and the QPS over
the first queries.

Both need root (cgroups, /proc/sys/vm/drop_caches) and stop and start the benchmark's server with
scripts/cluster.sh, with `shared_buffers` = --shared-buffers (what a server sized for its
memory would have, instead of the dev cluster's 1 GB).
"""
import os
import subprocess
import time
from pathlib import Path

import numpy as np
from psycopg.rows import dict_row

from .bench_load import connect

REPO = Path(__file__).resolve().parents[2]
CGROUP_NAME = "vecmap-bench"


def parse_bytes(s):
    """'1G', '1536M', '800000000' -> bytes."""
    s = str(s).strip().upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


class MemoryCgroup:
    """A memory cgroup with a limit; `enter` is a preexec_fn that moves the child into it."""

    def __init__(self, limit):
        v1 = Path("/sys/fs/cgroup/memory")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "memory.limit_in_bytes").exists():
            self.path, self.limit_file, self.peak_file = v1 / CGROUP_NAME, "memory.limit_in_bytes", "memory.max_usage_in_bytes"
        elif (v2 / "cgroup.controllers").exists() and "memory" in (v2 / "cgroup.controllers").read_text():
            self.path, self.limit_file, self.peak_file = v2 / CGROUP_NAME, "memory.max", "memory.peak"
        else:
            raise SystemExit("--memory-limit: no memory cgroup controller (v1 or v2) on this machine")
        self.version = 1 if self.limit_file == "memory.limit_in_bytes" else 2
        self.path.mkdir(exist_ok=True)
        (self.path / self.limit_file).write_text(str(limit))
        self.limit = limit

    def enter(self):
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self):
        f = self.path / self.peak_file
        return int(f.read_text()) if f.exists() else None

    def reset_peak(self):
        if self.version == 1:
            (self.path / "memory.max_usage_in_bytes").write_text("0")

    def remove(self):
        try:
            self.path.rmdir()
        except OSError:
            pass


def drop_page_cache():
    """sync, then drop the whole page cache (root only)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def cluster(action, args, datadir, bindir, cgroup=None):
    """scripts/cluster.sh start|stop for the benchmark's server (shared_buffers = --shared-buffers)."""
    env = dict(os.environ, VECMAP_PORT=str(args.port), VECMAP_PGDATA=str(datadir), PGBIN=bindir,
               VECMAP_PG_OPTS=f"-c shared_buffers={args.shared_buffers}")
    subprocess.run([REPO / "scripts" / "cluster.sh", action], env=env, check=True, stdout=subprocess.DEVNULL,
                   preexec_fn=cgroup.enter if cgroup else None)


def restart(args, datadir, bindir, cgroup=None):
    """Restart the server (in `cgroup` if given) with an empty page cache."""
    cluster("stop", args, datadir, bindir)
    drop_page_cache()
    cluster("start", args, datadir, bindir, cgroup)


def io_read_bytes(pid):
    """Bytes `pid` caused to be read from storage (/proc/<pid>/io read_bytes)."""
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def major_faults(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[9])


def run_queries(conn, query, queries, gt10, seconds=None, count=None):
    """Back-to-back prepared queries (cycling) for `seconds` or `count` queries: QPS, latency
    percentiles (ms), recall@10, storage bytes read and major faults per query."""
    cur = conn.cursor(binary=True)
    pid = conn.info.backend_pid
    rb0, mf0 = io_read_bytes(pid), major_faults(pid)
    lats, hits, n = [], 0, 0
    t0 = time.perf_counter()
    while (count is None or n < count) and (seconds is None or time.perf_counter() - t0 < seconds):
        i = n % len(queries)
        t = time.perf_counter()
        rows = cur.execute(query, (queries[i],), prepare=True).fetchall()
        lats.append(time.perf_counter() - t)
        hits += len({r[0] for r in rows} & set(gt10[i].tolist()))
        n += 1
    wall = time.perf_counter() - t0
    lats = np.array(lats) * 1000
    return dict(queries=n, seconds=wall, qps=n / wall, recall=hits / (10 * n),
                p50_ms=float(np.percentile(lats, 50)), p99_ms=float(np.percentile(lats, 99)),
                read_bytes_per_query=(io_read_bytes(pid) - rb0) / n, major_faults_per_query=(major_faults(pid) - mf0) / n)


def sizes(conn, name):
    """Bytes of the table's heap and of each system's index parts."""
    c = conn.cursor(row_factory=dict_row)
    out = c.execute("SELECT pg_relation_size('items') AS heap, pg_relation_size('items_embedding_idx') AS index_relation").fetchone()
    if name == "vecmap":
        out.update(c.execute("SELECT int8_bytes, graph_bytes, f32_bytes, sidecar_bytes "
                             "FROM vecmap_index_stats('items_embedding_idx')").fetchone())
    return out


def prewarm(conn, name, with_vectors=False):
    """Each system's own prewarm (vecmap's `with_vectors` also reads the f32 rows): seconds taken."""
    t = time.perf_counter()
    if name == "vecmap":
        conn.execute("SELECT vecmap_prewarm('items_embedding_idx', %s)", (with_vectors,))
    else:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA public")
        conn.execute("SELECT public.pg_prewarm('items_embedding_idx')")
    return time.perf_counter() - t


def pick_ef(conn, guc, efs, target, query, queries, gt10, log):
    """Smallest ef of the sweep whose recall@10 (warm, no limit) reaches `target`, else the largest."""
    for ef in efs:
        conn.execute(f"SET {guc} = {ef}")
        r = run_queries(conn, query, queries, gt10, count=len(queries))["recall"]
        log(f"  ef {ef}: recall@10 {r:.4f}")
        if r >= target:
            return ef, r
    return efs[-1], r


def pressure(args, systems, dsn, datadir, bindir, queries, gt10, query, log):
    """The memory-limit table: per system, the warm operating point without and with the limit."""
    limit = parse_bytes(args.memory_limit)
    out = dict(limit=limit, shared_buffers=args.shared_buffers, seconds=args.pressure_seconds, systems={})
    for name, (_, schema, _, guc) in systems.items():
        restart(args, datadir, bindir)
        conn = connect(dsn, schema)
        res = out["systems"][name] = dict(sizes=sizes(conn, name))
        log(f"{name}: sizes {res['sizes']}")
        prewarm(conn, name)
        res["ef"], res["calibration_recall"] = pick_ef(conn, guc, args.pressure_ef, args.target_recall, query,
                                                       queries[:args.calibration_queries],
                                                       gt10[:args.calibration_queries], log)
        conn.close()
        for mode in ("unlimited", "limited"):
            cg = MemoryCgroup(limit) if mode == "limited" else None
            try:
                restart(args, datadir, bindir, cg)
                conn = connect(dsn, schema)
                conn.execute(f"SET {guc} = {res['ef']}")
                if cg:
                    cg.reset_peak()
                pw = prewarm(conn, name)
                warm = run_queries(conn, query, queries, gt10, seconds=args.pressure_warmup)
                point = run_queries(conn, query, queries, gt10, seconds=args.pressure_seconds)
                point.update(prewarm_s=pw, warmup=warm, cgroup_peak=cg.peak() if cg else None)
                res[mode] = point
                log(f"{name} {mode} ef={res['ef']}: {point['qps']:,.0f} q/s, recall@10 {point['recall']:.4f}, "
                    f"p50 {point['p50_ms']:.2f} p99 {point['p99_ms']:.2f} ms, "
                    f"{point['read_bytes_per_query'] / 1024:,.1f} KiB read/query"
                    + (f", cgroup peak {point['cgroup_peak'] / 2**20:,.0f} MiB" if cg else ""))
                conn.close()
            finally:
                if cg:
                    cluster("stop", args, datadir, bindir)
                    cg.remove()
    restart(args, datadir, bindir)
    return out


def cold_start(args, systems, dsn, datadir, bindir, queries, gt10, query, efs, log):
    """Time to first answer and QPS over the first `--cold-queries` after a restart with an empty
    page cache, without and with prewarm."""
    out = dict(queries=args.cold_queries, systems={})
    for name, (_, schema, _, guc) in systems.items():
        res = out["systems"][name] = {}
        for key in ("plain", "prewarm") + (("prewarm_f32",) if name == "vecmap" else ()):
            restart(args, datadir, bindir)
            t0 = time.perf_counter()
            conn = connect(dsn, schema)
            conn.execute(f"SET {guc} = {efs[name]}")
            pw = prewarm(conn, name, key == "prewarm_f32") if key != "plain" else None
            first = run_queries(conn, query, queries, gt10, count=1)
            first_answer = time.perf_counter() - t0
            rest = run_queries(conn, query, queries[1:], gt10[1:], count=args.cold_queries - 1)
            total = time.perf_counter() - t0
            res[key] = dict(prewarm_s=pw, first_answer_s=first_answer, first_query_ms=first["p50_ms"],
                            qps_first=args.cold_queries / total, recall=rest["recall"],
                            p99_ms=rest["p99_ms"], read_bytes_per_query=rest["read_bytes_per_query"])
            log(f"{name} cold start {key}: first answer {first_answer * 1000:,.0f} ms"
                + (f" (prewarm {pw:.2f} s)" if pw is not None else "")
                + f", {res[key]['qps_first']:,.0f} q/s over the first {args.cold_queries}")
            conn.close()
    return out


def markdown(res):
    out = []
    p = res.get("pressure")
    if p:
        out += [f"#### Memory limit {p['limit'] / 2**20:,.0f} MiB (cgroup; shared_buffers {p['shared_buffers']}, "
                f"page cache dropped before each run, {p['seconds']:.0f} s per point, 1 client)", "",
                "| system | ef_search | hot set¹ | f32 / index pages | memory | recall@10 | QPS | p50 ms | p99 ms | read/query |",
                "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
        for name, s in p["systems"].items():
            z = s["sizes"]
            hot = z.get("int8_bytes", 0) + z.get("graph_bytes", 0) if name == "vecmap" else z["index_relation"]
            cold = z.get("f32_bytes") if name == "vecmap" else z["index_relation"]
            for mode in ("unlimited", "limited"):
                m = s.get(mode)
                if m:
                    out.append(f"| {name} | {s['ef']} | {hot / 2**20:,.0f} MiB | {cold / 2**20:,.0f} MiB | {mode} | "
                               f"{m['recall']:.4f} | {m['qps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                               f"{m['read_bytes_per_query'] / 1024:,.1f} KiB |")
        out += ["", "¹ vecmap: int8 rows + graph; pgvector: its whole index (graph and vectors share pages).", ""]
    c = res.get("cold_start")
    if c:
        out += [f"#### Cold start (restart, page cache dropped; first {c['queries']:,} queries, 1 client)", "",
                "| system | prewarm | prewarm s | first answer ms | QPS over the first queries | read/query |",
                "|---|---|---:|---:|---:|---:|"]
        label = {"plain": "no", "prewarm": "yes", "prewarm_f32": "yes, with f32 rows"}
        for name, s in c["systems"].items():
            for key, m in s.items():
                out.append(f"| {name} | {label[key]} | "
                           f"{'—' if m['prewarm_s'] is None else format(m['prewarm_s'], '.2f')} | "
                           f"{m['first_answer_s'] * 1000:,.0f} | {m['qps_first']:,.0f} | "
                           f"{m['read_bytes_per_query'] / 1024:,.1f} KiB |")
        out.append("")
    return "\n".join(out)
