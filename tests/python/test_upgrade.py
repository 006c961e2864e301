"""ALTER EXTENSION vecmap UPDATE from every earlier release keeps indexes answering, and an
index's sidecar written by another format version is rebuilt (see tests/durability)."""
import numpy as np
import pytest

from vecmap_server import connect, fresh_database, vec


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
