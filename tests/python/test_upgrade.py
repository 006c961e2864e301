"""ALTER EXTENSION vecmap UPDATE from every earlier release keeps indexes answering, and an
index's sidecar written by another format version is rebuilt (see tests/durability)."""
import numpy as np
import pytest

from vecmap_server import connect, fresh_database, server_read, server_write, vec


def versions():
    with connect() as c:
        default = c.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vecmap'").fetchone()[0]
        all_ = [r[0] for r in c.execute("SELECT version FROM pg_available_extension_versions WHERE name = 'vecmap'")]
    return default, all_


@pytest.mark.parametrize("old", ["0.1.0", "0.2.0"])
def test_update_path(old):
    default, available = versions()
    assert old in available, "earlier releases' scripts ship for upgrade tests"
    assert default != old, "the current version is newer than the earlier releases"
    rng = np.random.default_rng(4)
    data = rng.standard_normal((600, 32)).astype(np.float32)
    with fresh_database("upg") as name, connect(name) as c:
        c.execute("DROP EXTENSION vecmap")
        c.execute(f"CREATE EXTENSION vecmap VERSION '{old}'")
        c.execute("CREATE TABLE t (id int, v vector(32))")
        c.cursor().executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(data)])
        c.execute("CREATE INDEX t_v ON t USING vecmap (v vector_l2_ops)")
        c.execute("SET enable_seqscan = off")
        before = [r[0] for r in c.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10", (vec(data[3]),))]
        c.execute("ALTER EXTENSION vecmap UPDATE")
        assert c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vecmap'").fetchone()[0] == default
        after = [r[0] for r in c.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10", (vec(data[3]),))]
        assert after == before and after[0] == 3
        # The updated extension has the same objects as a fresh install of the new version.
        objs = sorted(r[0] for r in c.execute(
            "SELECT pg_describe_object(classid, objid, 0) FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vecmap') AND deptype = 'e'"))
    with fresh_database("fresh") as name, connect(name) as c:
        fresh = sorted(r[0] for r in c.execute(
            "SELECT pg_describe_object(classid, objid, 0) FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vecmap') AND deptype = 'e'"))
    assert objs == fresh


def rewrite_format_version(path, version):
    """Makes a sidecar look written by another format version: a valid header (checksum
    recomputed over the 136-byte Params with its crc field zeroed), the rest unchanged."""
    import zlib

    params = bytearray(server_read(path, 136))
    params[8:12] = version.to_bytes(4, "little")
    params[12:16] = bytes(4)
    params[12:16] = zlib.crc32(bytes(params)).to_bytes(4, "little")
    server_write(path, 0, params)


@pytest.mark.parametrize("old", ["0.1.0", "0.2.0"])
def test_update_rebuilds_an_older_sidecar_format(old):
    """The .so of a new release reads a sidecar its predecessor wrote in an older format:
    after ALTER EXTENSION UPDATE the index rebuilds it from its log with a WARNING and answers
    as before."""
    rng = np.random.default_rng(5)
    # Past SCAN_APPLY (1024) entries: a scan rebuilds the sidecar instead of reading the log.
    data = rng.standard_normal((1200, 32)).astype(np.float32)
    sql = "SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10"
    with fresh_database("upgfmt") as name:
        with connect(name) as c:
            c.execute("DROP EXTENSION vecmap")
            c.execute(f"CREATE EXTENSION vecmap VERSION '{old}'")
            c.execute("CREATE TABLE t (id int, v vector(32))")
            c.cursor().executemany("INSERT INTO t VALUES (%s, %s)", [(i, vec(v)) for i, v in enumerate(data)])
            c.execute("CREATE INDEX t_v ON t USING vecmap (v vector_l2_ops)")
            # A beam nearly as wide as the table: answers (nearly) exact whatever the graph.
            c.execute("SET vecmap.ef_search = 1000")
            c.execute("SET enable_seqscan = off")
            before = [[r[0] for r in c.execute(sql, (vec(q),))] for q in data[:20]]
            c.execute("ALTER EXTENSION vecmap UPDATE")
            path, fmt, built = c.execute("SELECT sidecar_path, format_version, last_rebuilt FROM vecmap_index_stats('t_v')").fetchone()
        # A new session, as after installing a new release (backends keep their mapped file).
        rewrite_format_version(path, fmt - 1)
        with connect(name) as c:
            warnings = []
            c.add_notice_handler(lambda d: warnings.append((d.severity_nonlocalized, d.message_primary)))
            c.execute("SET vecmap.ef_search = 1000")
            c.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (vec(data[0]),)))
            assert "Index Scan using t_v" in plan, plan
            after = [[r[0] for r in c.execute(sql, (vec(q),))] for q in data[:20]]
            assert [w for w in warnings if w[0] == "WARNING" and "rebuilding its sidecar" in w[1] and f"format version {fmt - 1}" in w[1]], warnings
            # The rebuilt graph differs from the first (parallel build), so rows at the margin of
            # the top 10 may differ, and on 32-d Gaussian data a graph can leave the odd row hard to
            # reach (in one run a query did not find its own row); both must find the exact neighbours.
            d = ((data[:20, None, :] - data[None, :, :]) ** 2).sum(-1)
            exact = [set(np.argsort(row, kind="stable")[:10].tolist()) for row in d]
            for got in (before, after):
                assert sum(len(set(g) & e) for g, e in zip(got, exact)) >= 0.95 * 200, (got, exact)
            assert c.execute("SELECT format_version, last_rebuilt >= %s FROM vecmap_index_stats('t_v')", (built,)).fetchone() == (fmt, True)
            warnings.clear()
            c.execute(sql, (vec(data[1]),)).fetchall()
            assert warnings == [], "rebuilt once"
