"""Closed-loop load generator for `vecmap_tools.bench`: N client processes, each with its own
connection, run one prepared statement as fast as they can until per-second throughput is steady."""
import multiprocessing as mp
import os
import sys
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

CV_TARGET = 0.02  # steady when the coefficient of variation of per-second QPS is below this
WARMUP_S = 1.0    # the first second is discarded (connections, plan cache, ramp-up)


def connect(dsn, schema=None):
    """Autocommit connection; with `schema`, search_path = schema and `vector` resolves there."""
    conn = psycopg.connect(dsn, autocommit=True, options=f"-c search_path={schema}" if schema else "")
    if schema:
        register_vector(conn)
    return conn


def _worker(wid, cpu, dsn, schema, settings, sql, params, counts, ready, go, stop, out):
    """One client: prepared `sql` (binary parameters and results), cycling through `params`;
    with `cpu`, this process and its backend are pinned to that core."""
    conn = connect(dsn, schema)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
        os.sched_setaffinity(conn.info.backend_pid, {cpu})
    notes = []
    conn.add_notice_handler(lambda d: notes.append(f"{d.severity}: {d.message_primary}"))
    for s in settings:
        conn.execute(s)
    cur = conn.cursor(binary=True)
    cur.execute(sql, params[0] if params else None, prepare=True).fetchall()  # PREPARE before the clock
    ready.release()
    go.wait()
    ends, lats = [], []
    i = wid * 7919
    while not stop.is_set():
        p = params[i % len(params)] if params else None
        t = time.monotonic()
        cur.execute(sql, p, prepare=True)
        cur.fetchall()
        e = time.monotonic()
        ends.append(e)
        lats.append(e - t)
        counts[wid] += 1
        i += 1
    out.send((np.array(ends), np.array(lats), notes))
    conn.close()


def run_point(label, dsn, schema, settings, sql, params, clients, min_s, max_s, pin=True):
    """Run until the last `min_s` per-second samples have CV < 2% or `max_s` passes. With `pin`,
    client i and its backend share core i mod ncores: a client and its backend never run at the
    same time, and a wake-up across cores costs ~0.1 ms on a VM, more than a short query.

    Returns qps over that final window, latency percentiles (ms) of the queries that completed
    in it, its CV, whether it was steady, and the clients' NOTICEs/WARNINGs."""
    ctx = mp.get_context("forkserver")  # clean children: no inherited sockets or threads
    ctx.set_forkserver_preload([__name__])
    counts = ctx.RawArray("q", clients)
    ready, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
    pipes, procs, cpus = [], [], sorted(os.sched_getaffinity(0))
    for w in range(clients):
        r, s = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_worker, daemon=True, args=(w, cpus[w % len(cpus)] if pin else None, dsn, schema,
                                                           settings, sql, params, counts, ready, go, stop, s))
        p.start()
        pipes.append(r)
        procs.append(p)
    for _ in range(clients):
        if not ready.acquire(timeout=60):
            raise RuntimeError(f"{label}: a client did not connect (exit codes {[p.exitcode for p in procs]})")
    bar = Progress(label, max_s)
    go.set()
    t0 = time.monotonic()
    ticks, totals = [t0], [0]
    window = max(3, int(min_s))
    while True:
        time.sleep(max(0.0, t0 + len(ticks) - time.monotonic()))
        ticks.append(time.monotonic())
        totals.append(sum(counts))
        rates = np.diff(totals) / np.diff(ticks)
        measured = rates[int(WARMUP_S):]
        cv = float(np.std(measured[-window:]) / max(np.mean(measured[-window:]), 1e-9)) if len(measured) >= 2 else 1.0
        bar.update(ticks[-1] - t0, rates[-1], cv)
        steady = len(measured) >= window and cv < CV_TARGET
        if steady or ticks[-1] - t0 >= max_s + WARMUP_S:
            break
    stop.set()
    results = [r.recv() for r in pipes]
    for p in procs:
        p.join()
    n = min(window, len(measured))
    w0, w1 = ticks[-1 - n], ticks[-1]
    ends = np.concatenate([r[0] for r in results])
    lats = np.concatenate([r[1] for r in results])[(ends > w0) & (ends <= w1)] * 1000
    point = dict(clients=clients, qps=(totals[-1] - totals[-1 - n]) / (w1 - w0), seconds=round(w1 - t0, 1),
                 window_s=n, cv=round(cv, 4), steady=steady, queries=int(len(lats)),
                 p50_ms=float(np.percentile(lats, 50)), p95_ms=float(np.percentile(lats, 95)),
                 p99_ms=float(np.percentile(lats, 99)), notices=sorted({n for r in results for n in r[2]}))
    bar.close(point)
    return point


class Progress:
    """A tqdm bar on a terminal; one plain line per point otherwise."""

    def __init__(self, label, max_s):
        self.label, self.bar = label, None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=round(max_s + WARMUP_S), desc=label, unit="s", leave=False,
                            bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s{postfix}")

    def update(self, elapsed, qps, cv):
        if self.bar:
            self.bar.n = min(elapsed, self.bar.total)
            self.bar.set_postfix_str(f"{qps:,.0f} q/s  cv {cv:.1%}")

    def close(self, p):
        if self.bar:
            self.bar.close()
        print(f"  {self.label}: {p['qps']:,.0f} q/s  p50 {p['p50_ms']:.2f} p95 {p['p95_ms']:.2f} "
              f"p99 {p['p99_ms']:.2f} ms  cv {p['cv']:.1%} after {p['seconds']:.0f} s"
              f"{'' if p['steady'] else ' (time cap)'}", flush=True)
