"""Hostile input, resource limits and privileges (issue #9), against a real server.

Everything a SQL user can hand the extension must end in a clear ERROR or complete within its
documented bound, and never take the server down: a module-wide sentinel connection, opened
first, must still answer at the end (a crashed backend makes the postmaster end every other
connection). Privilege tests connect as unprivileged login roles.
"""
import os
import stat
import struct
import threading
import time
import uuid

import psycopg
import pytest

from vecmap_server import connect, data_directory, fresh_database, server_listdir, server_lstat, server_write

SUFFIX = uuid.uuid4().hex[:6]
OWNER = f"vecmap_owner_{SUFFIX}"
OTHER = f"vecmap_other_{SUFFIX}"


@pytest.fixture(scope="module")
def db():
    with connect() as su:
        for r in (OWNER, OTHER):
            su.execute(f"CREATE ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
    try:
        with fresh_database("hostile") as name:
            with connect(name) as su:
                su.execute(f"GRANT CREATE ON SCHEMA public TO {OWNER}")
            with connect(name) as sentinel:
                pid = sentinel.execute("SELECT pg_backend_pid()").fetchone()[0]
                yield name
                # No backend crashed meanwhile: a crash restarts every backend, this one too.
                assert sentinel.execute("SELECT pg_backend_pid()").fetchone()[0] == pid
    finally:
        with connect() as su:
            for r in (OWNER, OTHER):
                su.execute(f"DROP ROLE IF EXISTS {r}")


def as_role(db, role):
    return psycopg.connect(f"host=127.0.0.1 port={os.environ.get('VECMAP_PORT', '55432')} user={role} dbname={db}", autocommit=True)


@pytest.fixture(scope="module")
def owned(db):
    """A table and vecmap index owned by OWNER (created by it), readable by OTHER."""
    with as_role(db, OWNER) as c:
        c.execute("CREATE TABLE owned (id int PRIMARY KEY, v vector(8))")
        c.execute("INSERT INTO owned SELECT g, array_fill(g::real / 7, ARRAY[8])::vector FROM generate_series(1, 500) g")
        c.execute("UPDATE owned SET v = ('[' || id || ',1,2,3,4,5,6,' || (id % 13) || ']')::vector")
        c.execute("CREATE INDEX owned_idx ON owned USING vecmap (v)")
        c.execute(f"GRANT SELECT ON owned TO {OTHER}")
    return "owned_idx"


def sidecar_of(db, index):
    with connect(db) as c:
        spc, dbo, rel = c.execute(
            "SELECT coalesce(nullif(c.reltablespace, 0), (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default')),"
            " (SELECT oid FROM pg_database WHERE datname = current_database()), pg_relation_filenode(c.oid)"
            " FROM pg_class c WHERE relname = %s", (index,)).fetchone()
    return os.path.join(data_directory(), "vecmap", f"{spc}_{dbo}_{rel}.vmap")


# ---- privileges ----------------------------------------------------------------------------

def test_no_function_takes_a_path_or_runs_as_definer(db):
    with connect(db) as c:
        rows = c.execute(
            "SELECT p.proname, coalesce(p.proargnames, '{}'), p.proargmodes::text[], p.proargtypes::regtype[]::text[], p.prosecdef"
            " FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'"
            " JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'vecmap'").fetchall()
    assert len(rows) > 40, rows
    for name, names, modes, argtypes, secdef in rows:
        assert not secdef, f"{name} is SECURITY DEFINER"
        argnames = [n for n, m in zip(names, modes or ["i"] * len(names)) if m in ("i", "b", "v")]
        assert not any(w in a.lower() for a in argnames for w in ("path", "file", "dir", "location")), (name, argnames)
        # Strings reach the extension only as type input (the literal, the typmod list).
        if any(t in ("text", "cstring", "cstring[]", "character varying", "bytea") for t in argtypes):
            assert name in {f"{t}_{f}" for t in ("vector", "halfvec", "sparsevec") for f in ("in", "typmod_in")}, (name, argtypes)


def test_sidecar_files_are_owner_only_inside_the_data_directory(db, owned):
    data = os.path.realpath(data_directory())
    d = os.path.join(data, "vecmap")
    st = server_lstat(d, follow=True)[0]
    server_uid = os.stat(data).st_uid
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == server_uid
    names = server_listdir(d)
    assert os.path.basename(sidecar_of(db, owned)) in names
    for n in names:
        p = os.path.join(d, n)
        s, real = server_lstat(p)
        assert stat.S_ISREG(s.st_mode), f"{n} is not a regular file"
        assert stat.S_IMODE(s.st_mode) == 0o600, f"{n} has mode {oct(s.st_mode)}"
        assert s.st_uid == server_uid, f"{n} is owned by uid {s.st_uid}"
        assert real.startswith(data + os.sep)


def test_index_functions_need_ownership(db, owned):
    calls = (f"vecmap_index_stats('{owned}')", f"vecmap_prewarm('{owned}')", f"vecmap_tune('{owned}')", f"vecmap_calibration('{owned}')")
    with as_role(db, OTHER) as c:
        # Reading through the index is a SELECT privilege, as for any index.
        ids = [r[0] for r in c.execute("SELECT id FROM owned ORDER BY v <-> '[9,1,2,3,4,5,6,9]' LIMIT 3")]
        assert ids[0] == 9
        for call in calls:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"must be owner of index {owned}"):
                c.execute(f"SELECT * FROM {call}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"REINDEX INDEX {owned}")
    with as_role(db, OWNER) as c:
        path = c.execute(f"SELECT sidecar_path FROM vecmap_index_stats('{owned}')").fetchone()[0]
        assert path == os.path.relpath(sidecar_of(db, owned), data_directory()), path
        assert not path.startswith("/") and ".." not in path
        assert c.execute(f"SELECT vecmap_prewarm('{owned}')").fetchone()[0] > 0
    with connect(db) as su:
        path = su.execute(f"SELECT sidecar_path FROM vecmap_index_stats('{owned}')").fetchone()[0]
        assert path == sidecar_of(db, owned), "superusers see the absolute path"
        su.execute("CREATE TABLE secret (v vector(8))")
        su.execute("INSERT INTO secret VALUES ('[1,2,3,4,5,6,7,8]')")
    # vecmap_tune reads a query table with the caller's privileges, not around them.
    with as_role(db, OWNER) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table secret"):
            c.execute(f"SELECT * FROM vecmap_tune('{owned}', queries => 'secret')")


def test_messages_to_users_hold_no_absolute_path(db):
    """A damaged sidecar is rebuilt with a WARNING that names the file relative to the data
    directory, like Postgres' own messages about relation files."""
    with as_role(db, OWNER) as c:
        c.execute("CREATE TABLE dmg (id int, v vector(4))")
        c.execute("INSERT INTO dmg SELECT g, ('[' || g || ',1,1,1]')::vector FROM generate_series(1, 2000) g")
        c.execute("CREATE INDEX dmg_idx ON dmg USING vecmap (v)")
    path = sidecar_of(db, "dmg_idx")
    server_write(path, 0, b"\0" * 4096)
    notices = []
    with as_role(db, OWNER) as c:
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        c.execute("SET enable_seqscan = off")
        assert c.execute("SELECT id FROM dmg ORDER BY v <-> '[7,1,1,1]' LIMIT 1").fetchone()[0] == 7
    assert any("rebuilding its sidecar" in n for n in notices), notices
    data = data_directory()
    for n in notices:
        assert data not in n, n
    assert any("vecmap/" in n for n in notices), notices


# ---- hostile input -------------------------------------------------------------------------

def test_huge_literals_are_refused_or_parsed_linearly(db):
    with connect(db) as c:
        big = "[" + "1," * (5 * 1024 * 1024) + "1]"  # 10 MB, 5M elements
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="vector cannot have more than 16000 dimensions"):
            c.execute("SELECT %s::vector", (big,))
        spaced = "[1" + " " * (10 * 1024 * 1024) + "]"  # 10 MB of whitespace, one element
        assert c.execute("SELECT vector_dims(%s::vector)", (spaced,)).fetchone()[0] == 1
        assert time.monotonic() - t0 < 30
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            c.execute("SELECT %s::vector", ("[" + ",".join(["0.5"] * 16001) + "]",))
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            c.execute("SELECT array_fill(1::real, ARRAY[16001])::vector")
        assert c.execute("SELECT vector_dims(%s::vector)", ("[" + ",".join(["0.5"] * 16000) + "]",)).fetchone()[0] == 16000
        for lit, err in (("[1,2", psycopg.errors.InvalidTextRepresentation), ("[1e39]", psycopg.errors.NumericValueOutOfRange),
                         ("[nan]", psycopg.errors.DataException), ("[]", psycopg.errors.DataException),
                         ("[1]\x01", psycopg.errors.InvalidTextRepresentation)):
            with pytest.raises(err):
                c.execute("SELECT %s::vector", (lit,))


@pytest.mark.parametrize("typmod, message", [
    ("0", "dimensions for type vector must be at least 1"),
    ("-5", "dimensions for type vector must be at least 1"),
    ("1000000000", "dimensions for type vector cannot exceed 16000"),
    ("16001", "dimensions for type vector cannot exceed 16000"),
    ("3, 4", "invalid type modifier"),
])
def test_bad_typmods(db, typmod, message):
    with connect(db) as c:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            c.execute(f"CREATE TABLE bad_typmod (v vector({typmod}))")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            c.execute(f"SELECT '[1]'::vector({typmod})")


def copy_binary(c, table, fields):
    """COPY … FROM STDIN (FORMAT binary) of one row per raw field payload."""
    out = bytearray(b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0))
    for f in fields:
        out += struct.pack(">hi", 1, len(f)) + f
    out += struct.pack(">h", -1)
    with c.cursor().copy(f"COPY {table} (v) FROM STDIN (FORMAT binary)") as cp:
        cp.write(bytes(out))


def test_binary_input_is_checked(db):
    def vec(dim, vals, unused=0):
        return struct.pack(">HH", dim, unused) + b"".join(struct.pack(">f", x) for x in vals)

    with connect(db) as c:
        c.execute("CREATE TABLE bin (v vector)")
        c.execute("CREATE TABLE bin3 (v vector(3))")
        copy_binary(c, "bin", [vec(2, [1, 2]), vec(3, [0.5, -1, 3e38])])
        assert [r[0] for r in c.execute("SELECT v::text FROM bin ORDER BY vector_dims(v)")] == ["[1,2]", "[0.5,-1,3e+38]"]
        bad = [
            (vec(2, [1]), psycopg.errors.ProtocolViolation, "insufficient data left in message"),
            (vec(2, [1, 2]) + b"\0", psycopg.errors.InvalidBinaryRepresentation, "incorrect binary data format"),
            (vec(0, []), psycopg.errors.DataException, "vector must have at least 1 dimension"),
            (vec(16001, []), psycopg.errors.ProgramLimitExceeded, "vector cannot have more than 16000 dimensions"),
            # The header is int16, as pgvector reads it: 0xFFFF is -1 dimensions.
            (vec(0xFFFF, []), psycopg.errors.DataException, "vector must have at least 1 dimension"),
            (vec(1, [1], unused=9), psycopg.errors.DataException, "expected unused to be 0, not 9"),
            (struct.pack(">HH", 1, 0) + b"\x7f\xc0\0\0", psycopg.errors.DataException, "NaN not allowed in vector"),
            (b"\0", psycopg.errors.ProtocolViolation, "insufficient data left in message"),
        ]
        for payload, err, msg in bad:
            with pytest.raises(err, match=msg):
                copy_binary(c, "bin", [payload])
        with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2"):
            copy_binary(c, "bin3", [vec(2, [1, 2])])
        assert c.execute("SELECT count(*) FROM bin").fetchone()[0] == 2


def test_reloption_limits(db):
    with connect(db) as c:
        c.execute("CREATE TABLE ropt (v vector(4))")
        c.execute("INSERT INTO ropt SELECT ('[' || g || ',' || (g % 7) || ',1,2]')::vector FROM generate_series(1, 3000) g")
        for opts, err, msg in (
            ("m = 1", psycopg.errors.InvalidParameterValue, 'value 1 out of bounds for option "m"'),
            ("m = 101", psycopg.errors.InvalidParameterValue, 'value 101 out of bounds for option "m"'),
            ("ef_construction = 1001", psycopg.errors.InvalidParameterValue, "out of bounds"),
            ("m = 100, ef_construction = 199", psycopg.errors.InvalidParameterValue, r"ef_construction must be greater than or equal to 2 \* m"),
            ("m = 'many'", psycopg.errors.InvalidParameterValue, 'invalid value for integer option "m"'),
            ("m = 99999999999999999999", psycopg.errors.InvalidParameterValue, "m"),
            ("path = '/etc/passwd'", psycopg.errors.InvalidParameterValue, 'unrecognized parameter "path"'),
        ):
            with pytest.raises(err, match=msg):
                c.execute(f"CREATE INDEX ON ropt USING vecmap (v) WITH ({opts})")
        # The largest graph options build (bounded here by a small table).
        c.execute("CREATE INDEX ropt_max ON ropt USING vecmap (v) WITH (m = 100, ef_construction = 1000)")
        c.execute("SET enable_seqscan = off")
        assert c.execute("SELECT v::text FROM ropt ORDER BY v <-> '[42,0,1,2]' LIMIT 1").fetchone()[0] == "[42,0,1,2]"
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("ALTER INDEX ropt_max SET (m = 0)")


# ---- resource limits -----------------------------------------------------------------------

def fill(c, table, rows, dims):
    c.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({dims}))")
    c.execute(f"INSERT INTO {table} SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, {dims}) WHERE g > 0)::vector"
              f" FROM generate_series(1, {rows}) g")
    c.execute(f"ANALYZE {table}")


def test_large_build_is_cancelled_by_statement_timeout(db):
    with connect(db) as c:
        fill(c, "slow", 20000, 64)
        d = os.path.join(data_directory(), "vecmap")
        before = set(server_listdir(d))
        c.execute("SET statement_timeout = '1500ms'")
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            c.execute("CREATE INDEX slow_idx ON slow USING vecmap (v) WITH (m = 100, ef_construction = 1000)")
        assert time.monotonic() - t0 < 5, "a build stops within a few seconds of its timeout"
        c.execute("RESET statement_timeout")
        assert set(server_listdir(d)) == before, "a cancelled build leaves no sidecar or temporary file"
        assert c.execute("SELECT count(*) FROM pg_class WHERE relname = 'slow_idx'").fetchone()[0] == 0


def test_build_says_when_it_exceeds_maintenance_work_mem(db):
    with connect(db) as c:
        fill(c, "mwm", 4000, 64)
        notices = []
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        c.execute("CREATE INDEX mwm_default ON mwm USING vecmap (v)")
        assert not any("maintenance_work_mem" in n for n in notices), notices
        c.execute("SET maintenance_work_mem = '1MB'")
        c.execute("CREATE INDEX mwm_small ON mwm USING vecmap (v)")
        c.execute("RESET maintenance_work_mem")
        assert any("exceed maintenance_work_mem (1 MB)" in n for n in notices), notices
        c.execute("SET enable_seqscan = off")
        q = c.execute("SELECT v FROM mwm WHERE id = 77").fetchone()[0]
        assert c.execute("SELECT id FROM mwm ORDER BY v <-> %s LIMIT 1", (q,)).fetchone()[0] == 77


def test_wide_beam_and_huge_limit_complete_within_max_scan_tuples(db):
    with connect(db) as c:
        fill(c, "wide", 5000, 32)
        c.execute("CREATE INDEX wide_idx ON wide USING vecmap (v)")
        c.execute("SET enable_seqscan = off")
        c.execute("SET vecmap.ef_search = 1000")
        q = "(SELECT v FROM wide WHERE id = 1)"
        rows = c.execute(f"SELECT id, v <-> {q} FROM wide ORDER BY v <-> {q} LIMIT 100000").fetchall()
        assert sorted(r[0] for r in rows) == list(range(1, 5001)), "every row, each once"
        # The first beam (ef rows) comes exactly in distance order; later beams continue the
        # search, so their order relative to earlier ones is relaxed (as pgvector's iterative
        # scans' relaxed_order).
        first = rows[:1000]
        assert all(a[1] <= b[1] for a, b in zip(first, first[1:])), "first beam in distance order"
        # vecmap.max_scan_tuples bounds what one scan returns (and so its memory): the scan stops
        # after the beam in which it reached the bound, so at most max_scan_tuples + ef rows.
        c.execute("SET vecmap.ef_search = 100")
        c.execute("SET vecmap.max_scan_tuples = 700")
        rows = c.execute(f"SELECT id, v <-> {q} FROM wide ORDER BY v <-> {q} LIMIT 100000").fetchall()
        assert 700 <= len(rows) <= 800 and len({r[0] for r in rows}) == len(rows)
        rows = c.execute(f"SELECT id FROM wide WHERE id % 10 = 0 ORDER BY v <-> {q} LIMIT 100000").fetchall()
        # 500 rows pass the filter, but the scan stops after ~800 entries (~80 of them pass).
        assert 0 < len(rows) < 200 and all(r[0] % 10 == 0 for r in rows)
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SET vecmap.ef_search = 1001")
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SET vecmap.max_scan_tuples = 0")


def test_long_scan_is_cancellable(db):
    """A scan that keeps asking (a filter that matches nothing) is cancelled promptly."""
    with connect(db) as c:
        fill(c, "cscan", 20000, 64)
        c.execute("CREATE INDEX cscan_idx ON cscan USING vecmap (v)")
        c.execute("SET enable_seqscan = off")
        c.execute("SET vecmap.max_scan_tuples = 2000000000")
        c.execute("SET statement_timeout = '300ms'")
        slow = "SELECT id FROM cscan WHERE pg_sleep(0.001) IS NULL ORDER BY v <-> (SELECT v FROM cscan WHERE id = 1) LIMIT 1"
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute(slow)
        assert time.monotonic() - t0 < 5
        c.execute("RESET statement_timeout")
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        err = {}

        def run():
            try:
                c.execute(slow)
            except psycopg.Error as e:  # reported below
                err["e"] = e

        th = threading.Thread(target=run)
        th.start()
        with connect(db) as mon:
            # Wait (bounded) until the statement is running, then cancel it.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if mon.execute("SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
                    break
            mon.execute("SELECT pg_cancel_backend(%s)", (pid,))
            th.join(30)
        assert isinstance(err.get("e"), psycopg.errors.QueryCanceled), err


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError(f"no RssAnon for {pid}")


def peak_anon_during(pid, run):
    """Peak RssAnon (kB) of backend `pid` while `run()` executes, sampled from another thread.
    (The sidecar is a shared file mapping, counted in RssFile, not here.)"""
    done = threading.Event()
    peak = [rss_anon_kb(pid)]

    def watch():
        while not done.wait(0.02):  # pacing of the sampler, not synchronisation
            peak[0] = max(peak[0], rss_anon_kb(pid))

    th = threading.Thread(target=watch)
    th.start()
    try:
        run()
    finally:
        done.set()
        th.join()
    return peak[0]


def test_build_memory_stays_within_maintenance_work_mem(db):
    """The build's own allocations (quantizer sample, per-row bookkeeping) stay within
    maintenance_work_mem plus a few bytes per row; vectors and graph live in the shared file
    mapping. 10,000 rows of 1,200 dims are 48 MB of vectors, far above the 8 MB budget."""
    with connect(db) as c:
        fill(c, "mem", 10000, 1200)
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        c.execute("SET maintenance_work_mem = '8MB'")
        base = rss_anon_kb(pid)
        peak = peak_anon_during(pid, lambda: c.execute("CREATE INDEX mem_idx ON mem USING vecmap (v) WITH (m = 8, ef_construction = 32)"))
        grown_mb = (peak - base) / 1024
        print(f"build grew anonymous memory by {grown_mb:.1f} MB")
        assert grown_mb < 8 + 16, f"build grew the backend's anonymous memory by {grown_mb:.1f} MB"


@pytest.mark.skipif(not os.environ.get("VECMAP_LONG_BUILD_ROWS"), reason="long run: set VECMAP_LONG_BUILD_ROWS (e.g. 1000000)")
def test_long_build_with_largest_options(db):
    """Opt-in: VECMAP_LONG_BUILD_ROWS rows of 96 dims, m = 100, ef_construction = 1000, with
    statement_timeout = VECMAP_LONG_BUILD_TIMEOUT (default: none). The build completes (or is
    cancelled cleanly by the timeout) with the backend's own memory within
    maintenance_work_mem + 32 bytes per row + 64 MB."""
    rows = int(os.environ["VECMAP_LONG_BUILD_ROWS"])
    timeout = os.environ.get("VECMAP_LONG_BUILD_TIMEOUT", "0")
    with connect(db) as c:
        fill(c, "long_build", rows, 96)
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        mwm_mb = c.execute("SELECT setting::bigint / 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'").fetchone()[0]
        c.execute(f"SET statement_timeout = '{timeout}'")
        base = rss_anon_kb(pid)
        outcome = {}

        def build():
            try:
                c.execute("CREATE INDEX long_idx ON long_build USING vecmap (v) WITH (m = 100, ef_construction = 1000)")
                outcome["built"] = True
            except psycopg.errors.QueryCanceled:
                outcome["cancelled"] = True

        peak = peak_anon_during(pid, build)
        c.execute("RESET statement_timeout")
        grown_mb = (peak - base) / 1024
        print(f"long build: {outcome}, anonymous memory +{grown_mb:.0f} MB")
        assert grown_mb <= mwm_mb + 32 * rows / 2**20 + 64
        if outcome.get("built"):
            c.execute("SET enable_seqscan = off")
            for i in (1, rows // 2, rows):
                q = c.execute("SELECT v FROM long_build WHERE id = %s", (i,)).fetchone()[0]
                assert c.execute("SELECT id FROM long_build ORDER BY v <-> %s LIMIT 1", (q,)).fetchone()[0] == i
        else:
            assert outcome.get("cancelled")
