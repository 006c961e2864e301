"""Durability and lifecycle of vecmap indexes on real servers: kill -9, streaming replicas,
base backups with checksums, VACUUM, DROP/TRUNCATE/REINDEX, corrupt sidecars. The check after
every event: an index scan returns exactly the rows a sequential scan sees."""
import os
import signal
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import psycopg
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster  # noqa: E402
from vecmap_tools import pagecache  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Below the kernel's ephemeral range (32768–60999 here): a listening port inside it can be
# taken by some client connection's local port, and the postmaster then fails to bind.
BASE_PORT = int(os.environ.get("VECMAP_DURABILITY_PORT", "26100"))


def vec(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


@pytest.fixture(scope="module")
def data():
    from vecmap_data.dataset import load_dataset

    return load_dataset(os.path.join(REPO, "fixtures", "minilm-debian"))


_port = [BASE_PORT]


@pytest.fixture
def cluster(request):
    _port[0] += 1
    c = Cluster(request.node.name.replace("[", "_").replace("]", ""), _port[0]).init()
    c.start()
    yield c
    c.destroy()


def setup_table(c, data, n=2000, db="postgres", index=True):
    with c.connect(db) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vecmap")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v vector(384))")
        with conn.cursor().copy("COPY t (id, v) FROM STDIN") as cp:
            for i in range(n):
                cp.write_row((i, vec(data.base[i])))
        if index:
            conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops)")


def seq_ids(conn):
    conn.execute("SET enable_indexscan = off")
    conn.execute("SET enable_bitmapscan = off")
    ids = {r[0] for r in conn.execute("SELECT id FROM t")}
    conn.execute("RESET enable_indexscan")
    conn.execute("RESET enable_bitmapscan")
    return ids


def index_ids(conn, q, limit=100000, op="<=>", index="t_v"):
    conn.execute("SET enable_seqscan = off")
    sql = f"SELECT id FROM t ORDER BY v {op} %s::vector LIMIT %s"
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (vec(q), limit)))
    assert f"Index Scan using {index} " in plan, plan
    ids = [r[0] for r in conn.execute(sql, (vec(q), limit))]
    conn.execute("RESET enable_seqscan")
    assert len(ids) == len(set(ids)), "no row twice"
    return set(ids)


def exact_ids(conn, q, limit, op="<=>"):
    conn.execute("SET enable_indexscan = off")
    ids = {r[0] for r in conn.execute(f"SELECT id FROM t ORDER BY v {op} %s::vector LIMIT %s", (vec(q), limit))}
    conn.execute("RESET enable_indexscan")
    return ids


def assert_index_matches_heap(conn, data):
    assert index_ids(conn, data.queries[0]) == seq_ids(conn)


def recall10(conn, data, queries=40):
    hit = 0
    for q in data.queries[:queries]:
        conn.execute("SET enable_indexscan = off")
        truth = {r[0] for r in conn.execute("SELECT id FROM t ORDER BY v <=> %s::vector LIMIT 10", (vec(q),))}
        conn.execute("SET enable_indexscan = on")
        got = {r[0] for r in conn.execute("SELECT id FROM t ORDER BY v <=> %s::vector LIMIT 10", (vec(q),))}
        hit += len(truth & got)
    return hit / (10 * queries)


def concurrent_inserts(c, data, start, n, stop_after, on_count):
    """Inserts rows start..start+n from 3 connections; calls on_count() once `stop_after`
    rows have committed. Returns the set of ids whose INSERT committed."""
    committed, lock = set(), threading.Lock()
    fired = threading.Event()

    def writer(k):
        try:
            with c.connect() as conn:
                for i in range(start + k, start + n, 3):
                    conn.execute("INSERT INTO t VALUES (%s, %s)", (i, vec(data.base[i % len(data.base)])))
                    with lock:
                        committed.add(i)
                        if len(committed) >= stop_after and not fired.is_set():
                            fired.set()
        except psycopg.Error:
            pass  # the server went away under us

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    fired.wait(timeout=120)
    on_count()
    for t in threads:
        t.join()
    return committed


def kill_backend_and_wait_for_restart(cluster, pid, sentinel):
    """SIGKILLs backend `pid`; returns once the postmaster has noticed, terminated every other
    backend (`sentinel`, a connection opened before, dies with them) and accepts connections
    again after crash recovery."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        try:
            sentinel.execute("SELECT 1")
        except psycopg.OperationalError:
            break
        assert time.monotonic() < deadline, "the server did not restart after a backend was killed"
        time.sleep(0.01)  # poll interval while checking a condition
    cluster.wait_ready()
    log = open(cluster.log, errors="replace").read()
    assert f"(PID {pid}) was terminated by signal 9" in log, cluster.log_tail()
    assert "all server processes terminated; reinitializing" in log, cluster.log_tail()


def test_kill9_postmaster_during_concurrent_inserts(cluster, data):
    setup_table(cluster, data)
    committed = concurrent_inserts(cluster, data, 2000, 1900, 600, cluster.kill9)
    cluster.start()
    with cluster.connect() as conn:
        heap = seq_ids(conn)
        assert committed <= heap, "every committed row survives"
        assert_index_matches_heap(conn, data)


def test_kill9_one_backend_during_inserts(cluster, data):
    setup_table(cluster, data)
    # A transaction still open at the kill, with more rows than one batch (128): its inserting
    # backend has folded them into the graph, uncommitted.
    uncommitted = list(range(100000, 100200))
    opposite = {i: -data.base[k] for k, i in enumerate(uncommitted)}  # cosine: nothing else is near
    open_tx = cluster.connect()
    open_tx.execute("BEGIN")
    for i in uncommitted:
        open_tx.execute("INSERT INTO t VALUES (%s, %s)", (i, vec(opposite[i])))
    applied = open_tx.execute("SELECT log_entries_applied FROM vecmap_index_stats('t_v')").fetchone()[0]
    assert applied >= 2000 + 128, f"uncommitted rows were not folded into the graph ({applied} applied)"
    assert index_ids(open_tx, opposite[100005], 1) == {100005}
    tx_pid = open_tx.execute("SELECT pg_backend_pid()").fetchone()[0]
    killed = []

    def kill_a_writer():
        with cluster.connect() as conn:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'INSERT INTO t%%' AND pid NOT IN (pg_backend_pid(), %s) LIMIT 1", (tx_pid,)).fetchone()
        assert row, "no inserting backend to kill"
        killed.append(row[0])
        kill_backend_and_wait_for_restart(cluster, row[0], open_tx)

    committed = concurrent_inserts(cluster, data, 2000, 1900, 400, kill_a_writer)
    assert killed and len(committed) >= 400
    with cluster.connect() as conn:
        heap = seq_ids(conn)
        assert committed <= heap, "every committed row survives"
        assert not heap & set(uncommitted), "no uncommitted row appears"
        assert_index_matches_heap(conn, data)
        for i in uncommitted[::10]:
            assert not index_ids(conn, opposite[i], 10) & set(uncommitted), "the graph's uncommitted nodes are never returned"
    open_tx.close()


def start_slow_build(cluster, conn, pid, min_done=0):
    """Starts a long CREATE INDEX on `conn` (backend `pid`) in a thread and returns (thread, errors)
    once its progress shows the graph phase with at least `min_done` nodes linked."""
    errs = []

    def build():
        try:
            conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops) WITH (m = 48, ef_construction = 800)")
        except psycopg.Error as e:
            errs.append(e)

    th = threading.Thread(target=build)
    th.start()
    with cluster.connect() as mon:
        while True:
            row = mon.execute("SELECT phase, tuples_done FROM pg_stat_progress_create_index WHERE pid = %s", (pid,)).fetchone()
            if row and row[0].endswith("building graph") and row[1] >= min_done:
                return th, errs
            assert th.is_alive(), "build finished before it could be killed"


def test_kill9_one_backend_during_create_index(cluster, data):
    setup_table(cluster, data, n=4000, index=False)
    with cluster.connect() as conn, cluster.connect() as sentinel:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Graph progress > 0: the workers are linking nodes in the temporary sidecar.
        th, errs = start_slow_build(cluster, conn, pid, min_done=1)
        kill_backend_and_wait_for_restart(cluster, pid, sentinel)
        th.join()
    assert errs
    # The dead build's temporary file is still there: nothing has loaded vecmap since.
    assert [f for f in os.listdir(os.path.join(cluster.data, "vecmap")) if ".tmp" in f], os.listdir(os.path.join(cluster.data, "vecmap"))
    with cluster.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 't_v'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 4000
        conn.execute("SELECT v FROM t LIMIT 1").fetchone()  # loads vecmap: the sweep runs
        assert cluster.sidecars() == []
        assert not [f for f in os.listdir(os.path.join(cluster.data, "vecmap")) if ".tmp" in f]
        conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops)")
        assert_index_matches_heap(conn, data)
        assert recall10(conn, data, 20) >= 0.95
    assert cluster.sidecars() == [os.path.basename(cluster.sidecar_path("postgres", "t_v"))]


def test_kill9_during_create_index_leaves_nothing_behind(cluster, data):
    setup_table(cluster, data, n=4000, index=False)
    with cluster.connect() as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        th, errs = start_slow_build(cluster, conn, pid)
        cluster.kill9()
        th.join()
    assert errs
    cluster.start()
    with cluster.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 't_v'").fetchone()[0] == 0
        conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops)")  # sweeps the dead build's files
        assert_index_matches_heap(conn, data)
    assert cluster.sidecars() == [os.path.basename(cluster.sidecar_path("postgres", "t_v"))]
    assert not [f for f in os.listdir(os.path.join(cluster.data, "vecmap")) if ".tmp" in f]


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "garbage", "other_version", "missing", "unsynced_before_a_reboot"])
def test_unusable_sidecar_is_rebuilt_with_a_warning(cluster, data, damage):
    setup_table(cluster, data)
    path = cluster.sidecar_path("postgres", "t_v")
    with cluster.connect() as conn:
        before = index_ids(conn, data.queries[1], 10)
        built = conn.execute("SELECT last_rebuilt FROM vecmap_index_stats('t_v')").fetchone()[0]
    # last_rebuilt has whole seconds: let the clock pass the build's second.
    while time.time() < built.timestamp() + 1:
        time.sleep(0.05)  # poll interval while checking a condition
    size = os.path.getsize(path)
    raw = open(path, "rb").read()
    if damage == "truncated":
        os.truncate(path, 100)
    elif damage == "zeroed":
        open(path, "wb").write(bytes(size))
    elif damage == "garbage":
        open(path, "wb").write(np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes())
    elif damage == "other_version":
        b = bytearray(raw)
        b[8:12] = (0).to_bytes(4, "little")  # format_version
        params = bytearray(b[:136])
        params[12:16] = bytes(4)
        b[12:16] = zlib.crc32(bytes(params)).to_bytes(4, "little")  # a valid header of another version
        open(path, "wb").write(bytes(b))
    elif damage == "unsynced_before_a_reboot":
        # The state (at byte 512) as published between syncs in another boot of the machine:
        # unsynced_boot (state bytes 96..104) set, state_crc (128..132) over the state with seq
        # and state_crc zeroed. After a real OS crash its bytes may not all be on disk.
        b = bytearray(raw)
        st = bytearray(b[512:512 + 136])
        st[96:104] = (0x5EED_0000_0001).to_bytes(8, "little")
        q = bytearray(st)
        q[0:8] = bytes(8)
        q[128:132] = bytes(4)
        st[128:132] = zlib.crc32(bytes(q)).to_bytes(4, "little")
        b[512:512 + 136] = st
        open(path, "r+b").write(bytes(b[:4096]))
    else:
        os.remove(path)
    notices = []
    with cluster.connect() as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        after = index_ids(conn, data.queries[1], 10)
        assert any("rebuilding its sidecar" in n for n in notices), notices
        # A rebuilt graph is a new approximation (parallel build): same answers up to recall.
        assert len(after & before) >= 8
        assert_index_matches_heap(conn, data)
        assert conn.execute("SELECT last_rebuilt FROM vecmap_index_stats('t_v')").fetchone()[0] > built
    assert os.path.getsize(path) > 0


def recall_vs_exact(conn, queries, op, index, k=10):
    """Mean recall@k of index scans against the same server's exact (seq scan) answers."""
    hit = 0
    for q in queries:
        hit += len(index_ids(conn, q, k, op, index) & exact_ids(conn, q, k, op))
    return hit / (k * len(queries))


def stats(conn, index):
    return conn.execute(
        "SELECT rows_indexed, rows_deleted, log_entries_written, log_entries_applied FROM vecmap_index_stats(%s)", (index,)).fetchone()


def test_streaming_replica_and_promotion(cluster, data):
    primary = cluster
    setup_table(primary, data)  # index built before the backup
    standby = primary.base_backup(Cluster("standby", primary.port + 500), extra=["-R"])
    standby.start()
    indexes = [("<=>", "t_v"), ("<->", "t_v_l2")]
    qs = data.queries[:20]
    try:
        with primary.connect() as conn:
            conn.execute("CREATE INDEX t_v_l2 ON t USING vecmap (v vector_l2_ops)")  # after the backup
            conn.cursor().executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(data.base[i])) for i in range(2000, 2600)])
            conn.execute("DELETE FROM t WHERE id % 7 = 0")
            conn.execute("VACUUM t")
        primary.wait_replayed(standby)
        for f in standby.sidecars():  # a standby with no sidecar builds it from replayed pages
            os.remove(os.path.join(standby.data, "vecmap", f))
        # Each side's graph is its own approximation: the standby rebuilds (or catches up) from
        # the log with a parallel build, so its graph can legitimately differ from the primary's.
        # Hence: full scans return exactly the heap's rows, top-10s meet recall against exact.
        with primary.connect() as p, standby.connect() as s:
            warnings = []
            s.add_notice_handler(lambda d: warnings.append(d.message_primary))
            for op, index in indexes:
                for side in (p, s):
                    r = recall_vs_exact(side, qs, op, index)
                    assert r >= 0.9, (index, r)
                assert index_ids(s, data.queries[0], 100000, op, index) == seq_ids(s) == seq_ids(p)
            assert len([w for w in warnings if "rebuilding its sidecar" in w]) == 2, warnings
            # The calibration is WAL-logged in the metapage: the standby has it.
            tuned = p.execute("SELECT * FROM vecmap_tune('t_v', target_recall => 0.9, sample_size => 50)").fetchall()
            primary.wait_replayed(standby, flushed=True)  # vecmap_tune flushes its WAL before returning
            curve = p.execute("SELECT * FROM vecmap_calibration('t_v')").fetchall()
            assert tuned and s.execute("SELECT * FROM vecmap_calibration('t_v')").fetchall() == curve
            assert s.execute("SELECT tuned_k FROM vecmap_index_stats('t_v')").fetchone()[0] == 10
            for side in (p, s):
                side.execute("SET vecmap.target_recall = 0.9")
                plan = "\n".join(r[0] for r in side.execute(
                    "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM t ORDER BY v <=> %s::vector LIMIT 10", (vec(qs[0]),)))
                assert f"ef={next(r[0] for r in tuned if r[-1])} (target_recall 0.9, tuned)" in plan, plan
                side.execute("RESET vecmap.target_recall")

        # Round 2: the standby keeps its sidecars and catches them up from replayed log
        # entries: inserts into TIDs VACUUM freed, and delete marks (past SCAN_APPLY = 1024
        # entries, so the first scan applies them instead of scanning the tail exactly).
        inodes = {i: os.stat(standby.sidecar_path("postgres", i)).st_ino for _, i in indexes}
        with primary.connect() as conn:
            conn.execute("DELETE FROM t WHERE id % 5 = 1")
            conn.execute("VACUUM t")
            conn.cursor().executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(data.base[i])) for i in range(2600, 3700)])
        primary.wait_replayed(standby)
        with primary.connect() as p, standby.connect() as s:
            warnings = []
            s.add_notice_handler(lambda d: warnings.append(d.message_primary))
            for op, index in indexes:
                before = stats(s, index)
                assert before[2] - before[3] >= 1024, before
                index_ids(s, qs[0], 10, op, index)  # catches the sidecar up
                after = stats(s, index)
                assert after[3] == after[2] == stats(p, index)[2], (before, after)
                assert after[:2] == stats(p, index)[:2], "same rows and tombstones as the primary"
                assert os.stat(standby.sidecar_path("postgres", index)).st_ino == inodes[index], "caught up, not rebuilt"
                for side in (p, s):
                    r = recall_vs_exact(side, qs, op, index)
                    assert r >= 0.9, (index, r)
                assert index_ids(s, data.queries[1], 100000, op, index) == seq_ids(s) == seq_ids(p)
            assert not warnings, warnings
        from cluster import PGBIN, as_postgres

        as_postgres(f"{PGBIN}/pg_ctl", "-D", standby.data, "-w", "promote")
        with standby.connect() as s:
            s.execute("INSERT INTO t VALUES (99999, %s)", (vec(data.base[5]),))
            assert 99999 in index_ids(s, data.base[5], 5)
            assert 99999 in index_ids(s, data.base[5], 5, "<->", "t_v_l2")
            assert_index_matches_heap(s, data)
    finally:
        standby.destroy()


def test_base_backup_with_checksums(data):
    _port[0] += 1
    src = Cluster("checksums", _port[0]).init(checksums=True).start()
    dst = Cluster("restored", _port[0] + 500)
    try:
        setup_table(src, data)
        src.base_backup(dst)  # pg_basebackup verifies page checksums while copying
        dst.start()
        with src.connect() as a, dst.connect() as b:
            for q in data.queries[:5]:
                assert index_ids(a, q, 10) == index_ids(b, q, 10)
            assert_index_matches_heap(b, data)
    finally:
        dst.destroy()
        src.destroy()


def test_vacuum_deletes_and_recall_after_churn(cluster, data):
    setup_table(cluster, data)
    path = cluster.sidecar_path("postgres", "t_v")
    inode = os.stat(path).st_ino
    with cluster.connect() as conn:
        conn.execute("DELETE FROM t WHERE id % 2 = 0")
        conn.execute("VACUUM t")
        assert os.stat(path).st_ino != inode, "past 20% tombstones VACUUM rebuilds the graph"
        ids = index_ids(conn, data.queries[0])
        assert not any(i % 2 == 0 for i in ids), "deleted rows are never returned after VACUUM"
        assert ids == seq_ids(conn)
        # Updated rows: the old version's TID goes, the new one is found.
        conn.execute("UPDATE t SET v = %s WHERE id = 1", (vec(data.base[3000]),))
        conn.execute("VACUUM t")
        assert 1 in index_ids(conn, data.base[3000], 1)
        # Re-insert the deleted half (new ids, same vectors) and measure recall.
        conn.cursor().executemany("INSERT INTO t VALUES (%s, %s)", [(10000 + i, vec(data.base[i])) for i in range(0, 2000, 2)])
        conn.execute("VACUUM t")
        r = recall10(conn, data)
        assert r >= 0.95, f"recall@10 after 50% churn {r:.3f}"
        assert_index_matches_heap(conn, data)


def test_compaction_does_not_block_readers(cluster, data):
    setup_table(cluster, data, n=4000)
    path = cluster.sidecar_path("postgres", "t_v")
    inode = os.stat(path).st_ino
    qs = data.queries[:20]
    with cluster.connect() as conn:
        conn.execute("DELETE FROM t WHERE id % 3 = 0")  # 33% tombstones: VACUUM compacts
        truth = [exact_ids(conn, q, 10) for q in qs]
    in_vacuum, done = threading.Event(), threading.Event()
    results, errors, latencies = [], [], []

    def reader():
        try:
            with cluster.connect() as conn:
                conn.execute("SET enable_seqscan = off")
                n = 0
                while not done.is_set():
                    q = n % len(qs)
                    t0 = time.monotonic()
                    ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY v <=> %s::vector LIMIT 10", (vec(qs[q]),))]
                    latencies.append((time.monotonic() - t0, in_vacuum.is_set()))
                    results.append((q, ids))
                    n += 1
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(e)

    th = threading.Thread(target=reader)
    th.start()
    with cluster.connect() as conn:
        while not results and th.is_alive():  # the reader is running before VACUUM starts
            time.sleep(0.01)  # poll interval while checking a condition
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute("SET client_min_messages = log")
        in_vacuum.set()
        t0 = time.monotonic()
        conn.execute("VACUUM t")
        vacuum_s = time.monotonic() - t0
        in_vacuum.clear()
    done.set()
    th.join()
    assert not errors, errors
    assert os.stat(path).st_ino != inode, "VACUUM compacted into a new file"
    assert any("compacted the graph" in n for n in notices), notices
    during = [t for t, v in latencies if v]
    print(f"VACUUM {vacuum_s:.2f} s; {len(during)} reader queries during it, max {max(during, default=0) * 1000:.1f} ms; {len(results)} in all")
    assert len(during) >= 10, "the reader kept querying through the VACUUM"
    hit = 0
    for q, ids in results:
        assert len(ids) == 10 and not [i for i in ids if i % 3 == 0], ids
        hit += len(set(ids) & truth[q])
    assert hit / (10 * len(results)) >= 0.9
    # Readers never wait for the compaction (it runs under the writer lock, they do not).
    assert max(during) < 1.0, f"a reader waited {max(during):.2f} s"


def test_lifecycle_leaves_no_sidecar_behind(cluster, data):
    setup_table(cluster, data, n=500)
    with cluster.connect() as conn:
        one = cluster.sidecars()
        assert len(one) == 1
        conn.execute("DROP INDEX t_v")
        assert cluster.sidecars() == []
        # Rolled-back CREATE INDEX, in a transaction and in a savepoint.
        with conn.transaction(force_rollback=True):
            conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops)")
            assert len(cluster.sidecars()) == 1, "removed at rollback, not before"
        assert cluster.sidecars() == []
        with conn.transaction():
            with pytest.raises(psycopg.errors.DivisionByZero):
                with conn.transaction():
                    conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops)")
                    conn.execute("SELECT 1/0")
        assert cluster.sidecars() == []
        conn.execute("CREATE INDEX t_v ON t USING vecmap (v vector_cosine_ops)")
        for stmt in ["REINDEX INDEX t_v", "REINDEX INDEX CONCURRENTLY t_v", "TRUNCATE t"]:
            conn.execute(stmt)
            files = cluster.sidecars()
            assert files == [os.path.basename(cluster.sidecar_path("postgres", "t_v"))], (stmt, files)
        conn.execute("DROP TABLE t")
        assert cluster.sidecars() == []
        assert cluster.sidecars(".lock") == []
        conn.execute("CREATE DATABASE other")
    setup_table(cluster, data, n=300, db="other")
    assert len(cluster.sidecars()) == 1
    with cluster.connect() as conn:
        conn.execute("LOAD 'vecmap'")  # a backend that loaded vecmap removes them at once
        conn.execute("DROP DATABASE other")
    assert cluster.sidecars() == []
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE other")
    setup_table(cluster, data, n=300, db="other")
    with cluster.connect() as conn:
        conn.execute("DROP DATABASE other")  # this backend never loaded vecmap
    with cluster.connect() as conn:
        conn.execute("LOAD 'vecmap'")  # the next backend that does sweeps the orphan
    assert cluster.sidecars() == []


def test_rolled_back_drop_truncate_reindex_keep_the_sidecar(cluster, data):
    setup_table(cluster, data, n=500)
    path = cluster.sidecar_path("postgres", "t_v")
    inode = os.stat(path).st_ino
    with cluster.connect() as conn:
        for stmt in ["DROP INDEX t_v", "DROP TABLE t", "TRUNCATE t", "REINDEX INDEX t_v"]:
            with conn.transaction(force_rollback=True):
                conn.execute(stmt)
                assert os.path.exists(path), f"{stmt}: removed at commit, not before"
                # TRUNCATE and REINDEX built a new (empty or full) sidecar for the new storage.
                assert len(cluster.sidecars()) == (2 if stmt.startswith(("TRUNCATE", "REINDEX")) else 1), (stmt, cluster.sidecars())
            assert cluster.sidecars() == [os.path.basename(path)], (stmt, cluster.sidecars())
            assert os.stat(path).st_ino == inode, stmt
            assert index_ids(conn, data.base[7], 1) == {7}, stmt
            assert_index_matches_heap(conn, data)


def test_prewarm_survives_a_restart(cluster, data):
    """The page cache outlives the server: prewarmed sidecar pages are resident after a
    restart (shared_buffers would be empty)."""
    setup_table(cluster, data, n=4000)
    path = cluster.sidecar_path("postgres", "t_v")
    inode = os.stat(path).st_ino
    resident = "SELECT resident_int8_graph_bytes, int8_bytes + graph_bytes, last_rebuilt FROM vecmap_index_stats('t_v')"
    cluster.stop()  # nothing maps the file: its clean pages can be dropped
    # A hint the kernel may refuse: what prewarm read is measured by its backend's own mapped
    # pages (smaps) below, which does not depend on what the page cache held.
    pagecache.drop(path)
    cluster.start()
    with cluster.connect() as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert conn.execute("SELECT vecmap_prewarm('t_v')").fetchone()[0] > 0
        with open(f"/proc/{pid}/smaps") as f:
            mapped = pagecache.mapped_rss(f.read(), path)
        _, hot, built = conn.execute(resident).fetchone()
        assert mapped >= hot, f"prewarm mapped {mapped} of {hot} bytes"
        assert conn.execute(resident).fetchone()[0] >= 0.99 * hot
    cluster.stop()
    cluster.start()
    with cluster.connect() as conn:
        warm, hot2, built2 = conn.execute(resident).fetchone()
    assert (hot2, built2) == (hot, built) and os.stat(path).st_ino == inode, "the same sidecar, not rebuilt"
    assert warm >= 0.99 * hot, f"{warm} of {hot} bytes resident after the restart"


def test_dump_restore_and_unlogged_tables(cluster, data, tmp_path):
    setup_table(cluster, data, n=800)
    from cluster import PGBIN, as_postgres

    dump = f"/tmp/vecmap-dump-{cluster.port}.pgdump"
    as_postgres(f"{PGBIN}/pg_dump", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-Fc", "-f", dump, "postgres")
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE restored")
    as_postgres(f"{PGBIN}/pg_restore", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-d", "restored", dump)
    os.remove(dump)
    with cluster.connect() as a, cluster.connect("restored") as b:
        assert seq_ids(a) == seq_ids(b)
        assert_index_matches_heap(b, data)
        assert recall10(b, data, 20) >= 0.95
        # Unlogged: works, and after a crash it is reset to empty, index included.
        a.execute("CREATE UNLOGGED TABLE u (id int, v vector(384))")
        a.execute("CREATE INDEX u_v ON u USING vecmap (v vector_l2_ops)")
        a.cursor().executemany("INSERT INTO u VALUES (%s, %s)", [(i, vec(data.base[i])) for i in range(300)])
        a.execute("CHECKPOINT")
        assert a.execute("SELECT id FROM u ORDER BY v <-> %s::vector LIMIT 1", (vec(data.base[7]),)).fetchone()[0] == 7
    cluster.kill9()
    cluster.start()
    with cluster.connect() as a:
        assert a.execute("SELECT count(*) FROM u").fetchone()[0] == 0
        a.execute("INSERT INTO u VALUES (1, %s)", (vec(data.base[9]),))
        a.execute("SET enable_seqscan = off")
        assert a.execute("SELECT id FROM u ORDER BY v <-> %s::vector LIMIT 5", (vec(data.base[9]),)).fetchall() == [(1,)]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_while_growing_the_sidecar_is_an_error(cluster, data):
    mnt = f"/tmp/vecmap-small-{cluster.port}"
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700,uid=%d" % _pg_uid(), "tmpfs", mnt], check=True)
    try:
        os.symlink(mnt, os.path.join(cluster.data, "vecmap"))
        setup_table(cluster, data, n=1500)  # fits; the next chunk of the sidecar does not
        with cluster.connect() as conn:
            with pytest.raises(psycopg.errors.DiskFull):
                for i in range(1500, 4000):
                    conn.execute("INSERT INTO t VALUES (%s, %s)", (i, vec(data.base[i])))
            # The server is up, and every committed row is still found.
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert_index_matches_heap(conn, data)
    finally:
        cluster.stop()
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)


def _pg_uid():
    import pwd

    return pwd.getpwnam("postgres").pw_uid
