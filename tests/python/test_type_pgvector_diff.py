"""Differential tests against pgvector itself: thousands of random and mutated text and binary
inputs and type modifiers for vector, halfvec and sparsevec, bit-string distances, and random
distance/cast expressions give the same result or the same error (SQLSTATE and message) in a
database with pgvector as in one with vecmap. `make test` installs pgvector 0.8.6 from
../shared/vendor when the server lacks it (scripts/peers.sh); where neither exists these tests
are skipped, saying so."""
import numpy as np
import psycopg
import pytest
from psycopg.adapt import Dumper
from psycopg.pq import Format

from conftest import admin_connect, conninfo, create_database, drop_database

RNG = np.random.default_rng(99)


@pytest.fixture(scope="module")
def dbs():
    with admin_connect() as a:
        if a.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").fetchone()[0] == 0:
            pytest.skip("pgvector is not installed on this server and ../shared/vendor has no archive to build it from (scripts/peers.sh)")
    names = {"vector": "vecmap_pytest_diff_pgvector", "vecmap": "vecmap_pytest_diff_vecmap"}
    conns = {}
    for ext, name in names.items():
        create_database(name)
        c = psycopg.connect(conninfo(name), autocommit=True)
        c.execute(f"CREATE EXTENSION {ext}")
        c.execute("SET lc_messages = 'C'")
        conns[ext] = c
    yield conns["vector"], conns["vecmap"]
    for c in conns.values():
        c.close()
    for name in names.values():
        drop_database(name)


def outcome(conn, sql, params=()):
    try:
        row = conn.execute(sql, params).fetchone()
        return ("ok",) + tuple(row)
    except psycopg.Error as e:
        return ("error", e.sqlstate, e.diag.message_primary, e.diag.message_detail)


def same(dbs, sql, params=(), rel=0.0):
    """Same outcome; with `rel`, numeric results may differ by that relative amount (float4
    sums in another order, or pgvector built with FMA contraction, differ in the last bits)."""
    theirs, ours = (outcome(c, sql, params) for c in dbs)
    if rel and ours[0] == theirs[0] == "ok" and ours[1] not in ("NaN", None) and theirs[1] not in ("NaN", None):
        x, y = float(ours[1]), float(theirs[1])
        assert abs(x - y) <= rel * max(abs(x), abs(y)) + 1e-30, f"{sql} {params!r}: pgvector {theirs} vecmap {ours}"
        return
    assert ours == theirs, f"{sql} {params!r}: pgvector {theirs} vecmap {ours}"


def mutate(s: str, alphabet: str) -> str:
    s = list(s)
    for _ in range(RNG.integers(1, 4)):
        op = RNG.integers(0, 3)
        pos = int(RNG.integers(0, len(s) + 1))
        if op == 0:
            s.insert(pos, alphabet[RNG.integers(0, len(alphabet))])
        elif op == 1 and s:
            del s[min(pos, len(s) - 1)]
        elif s:
            s[min(pos, len(s) - 1)] = alphabet[RNG.integers(0, len(alphabet))]
    return "".join(s)


def number() -> str:
    choices = ["0", "-0", "1", "1.5", "-2.5e-1", "65504", "65520", "1e-8", "6e-8", "1e39", "-1e39", "1e-46",
               "nan", "inf", "-Infinity", "0x10", "3.4028235e38", "1e5", " 2 ", "+.5", "1.", "7"]
    return choices[RNG.integers(0, len(choices))]


def test_vector_text(dbs):
    for _ in range(1500):
        n = int(RNG.integers(0, 6))
        s = "[" + ",".join(number() for _ in range(n)) + "]"
        if RNG.random() < 0.6:
            s = mutate(s, "[],.-+e0123456789 \tnaif")
        typ = "vector" if RNG.random() < 0.8 else f"vector({RNG.integers(1, 4)})"
        same(dbs, f"SELECT %s::{typ}::text", (s,))


@pytest.mark.parametrize("typ", ["vector", "halfvec", "sparsevec"])
def test_type_modifiers(dbs, typ):
    """typmod input: in and out of range, several modifiers, non-integers."""
    value = {"vector": "[1,2]", "halfvec": "[1,2]", "sparsevec": "{1:1}/2"}[typ]
    for mods in ["-1", "0", "1", "2", "3", "16000", "16001", "100000", "1000000000", "1000000001", "2147483647",
                 "1,2", "'x'", "2.5", "NULL"]:
        same(dbs, f"SELECT %s::{typ}({mods})::text", (value,))
        same(dbs, f"SELECT format_type('{typ}'::regtype, {mods.split(',')[0] if mods[0] != chr(39) else 1})")


def test_bit_distances(dbs):
    """Hamming and Jaccard distance on bit strings (pgvector's functions and operators)."""
    for _ in range(800):
        n = int(RNG.integers(0, 20))
        m = n if RNG.random() < 0.85 else int(RNG.integers(0, 20))
        a = "".join(RNG.choice(["0", "1"], n)) if n else ""
        b = "".join(RNG.choice(["0", "1"], m)) if m else ""
        f = ["hamming_distance(%s::varbit, %s::varbit)", "jaccard_distance(%s::varbit, %s::varbit)",
             "%s::varbit <~> %s::varbit", "%s::varbit <%%> %s::varbit"][RNG.integers(0, 4)]
        same(dbs, f"SELECT ({f})::text", (a, b))
    for _ in range(200):
        v = "[" + ",".join(number().strip() for _ in range(int(RNG.integers(1, 12)))) + "]"
        same(dbs, "SELECT binary_quantize(%s::vector)::text", (v,))


def test_halfvec_text(dbs):
    for _ in range(1500):
        n = int(RNG.integers(0, 6))
        s = "[" + ",".join(number() for _ in range(n)) + "]"
        if RNG.random() < 0.6:
            s = mutate(s, "[],.-+e0123456789 \tnaif")
        typ = "halfvec" if RNG.random() < 0.8 else f"halfvec({RNG.integers(1, 4)})"
        same(dbs, f"SELECT %s::{typ}::text", (s,))


def test_sparsevec_text(dbs):
    for _ in range(1500):
        n = int(RNG.integers(0, 5))
        dim = int(RNG.integers(-1, 7)) if RNG.random() < 0.9 else 1_000_000_001
        s = "{" + ",".join(f"{RNG.integers(-1, 8)}:{number()}" for _ in range(n)) + f"}}/{dim}"
        if RNG.random() < 0.6:
            s = mutate(s, "{}/:,.-+e0123456789 \tnaif")
        typ = "sparsevec" if RNG.random() < 0.8 else f"sparsevec({RNG.integers(1, 6)})"
        same(dbs, f"SELECT %s::{typ}::text", (s,))


class Raw(bytes):
    pass


@pytest.mark.parametrize("typ", ["vector", "halfvec", "sparsevec"])
def test_binary_receive(dbs, typ):
    for c in dbs:
        oid = c.execute("SELECT %s::regtype::oid", (typ,)).fetchone()[0]
        c.adapters.register_dumper(Raw, type("", (Dumper,), {"format": Format.BINARY, "oid": oid,
                                                              "dump": lambda self, obj: bytes(obj)}))
    good = {"vector": bytes.fromhex("00020000" "3f800000" "40000000"),
            "halfvec": bytes.fromhex("000300003c0040004200"),
            "sparsevec": bytes.fromhex("00000005000000020000000000000000000000023fc0000040000000")}[typ]
    for _ in range(1500):
        b = bytearray(good)
        for _ in range(RNG.integers(1, 3)):
            op = RNG.integers(0, 3)
            if op == 0 and b:
                b[RNG.integers(0, len(b))] = int(RNG.integers(0, 256))
            elif op == 1 and b:
                del b[RNG.integers(0, len(b)):]
            else:
                b += bytes([int(RNG.integers(0, 256))])
        same(dbs, f"SELECT %b::{typ}::text", (Raw(b),))


def test_distances_and_casts(dbs):
    for _ in range(600):
        dim = int(RNG.integers(1, 6))
        a = np.round(RNG.standard_normal(dim) * 10.0 ** RNG.integers(-3, 4), 3)
        b = np.round(RNG.standard_normal(dim if RNG.random() < 0.9 else dim + 1), 3)
        a[RNG.random(dim) < 0.3] = 0
        va, vb = "[" + ",".join(map(str, a)) + "]", "[" + ",".join(map(str, b)) + "]"
        t = ["halfvec", "sparsevec"][RNG.integers(0, 2)]
        op = ["<->", "<#>", "<=>", "<+>"][RNG.integers(0, 4)]
        same(dbs, f"SELECT (%s::vector::{t} {op} %s::vector::{t})::text", (va, vb), rel=1e-5)
        f = ["l2_norm(%s::vector::{t})::text", "l2_normalize(%s::vector::{t})::text",
             "%s::vector::{t}::vector::text", "%s::vector::{t}::halfvec::text", "binary_quantize(%s::vector::halfvec)::text",
             "(%s::vector::halfvec + %s::vector::halfvec)::text", "(%s::vector::halfvec * %s::vector::halfvec)::text",
             "(%s::vector::{t} < %s::vector::{t})::text"][RNG.integers(0, 8)].format(t=t)
        same(dbs, "SELECT " + f, (va,) if f.count("%s") == 1 else (va, vb), rel=1e-6 if "l2_norm(" in f else 0.0)


def test_functions_arrays_and_ordering(dbs):
    for _ in range(800):
        dim = int(RNG.integers(1, 6))
        vals = [number().strip() for _ in range(dim)]
        arr = "{" + ",".join(vals) + "}"
        t = ["halfvec", "sparsevec"][RNG.integers(0, 2)]
        elem = ["real", "double precision", "numeric", "integer"][RNG.integers(0, 4)]
        same(dbs, f"SELECT %s::{elem}[]::{t}::text", (arr,))
        same(dbs, f"SELECT %s::{elem}[]::{t}({RNG.integers(1, 6)})::text", (arr,))
        a = np.round(RNG.standard_normal(dim), 2)
        b = np.round(RNG.standard_normal(int(RNG.integers(1, 6))), 2)
        a[RNG.random(dim) < 0.4] = 0
        b[RNG.random(len(b)) < 0.4] = 0
        va, vb = "[" + ",".join(map(str, a)) + "]", "[" + ",".join(map(str, b)) + "]"
        start, count = int(RNG.integers(-3, 7)), int(RNG.integers(-1, 7))
        same(dbs, "SELECT subvector(%s::halfvec, %s, %s)::text", (va, start, count))
        same(dbs, f"SELECT %s::vector::{t} {['<', '<=', '=', '<>', '>=', '>'][RNG.integers(0, 6)]} %s::vector::{t}", (va, vb))
        same(dbs, f"SELECT {t}_cmp(%s::vector::{t}, %s::vector::{t})", (va, vb))
        same(dbs, "SELECT (%s::halfvec || %s::halfvec)::text, (%s::halfvec - %s::halfvec)::text", (va, vb, va, vb))
        rows = ",".join(f"('{'[' + ','.join(map(str, np.round(RNG.standard_normal(dim) * 100, 1))) + ']'}'::halfvec)"
                        for _ in range(int(RNG.integers(1, 5))))
        same(dbs, f"SELECT avg(v)::text, sum(v)::text FROM (VALUES {rows}) t(v)")
