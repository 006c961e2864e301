"""`make demo` against the test cluster: `python -m vecmap_tools.demo` loads the committed MiniLM
fixture, builds a vecmap index, queries through it and checks itself against exact search (and
the fixture's ground truth); it exits non-zero when the index is not used or recall@10 < 0.9."""
import os
import re
import subprocess
import sys

import pytest

from vecmap_server import PORT, REPO, connect

DB = "vecmap_pytest_demo"


def run_demo(*extra):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "tools"))
    r = subprocess.run([sys.executable, "-m", "vecmap_tools.demo", "--port", str(PORT), "--db", DB, *extra],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module", autouse=True)
def drop_demo_database():
    yield
    with connect() as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def test_demo_uses_the_index_and_finds_the_exact_neighbours():
    rc, out, err = run_demo()
    assert rc == 0, f"demo exited {rc}\n{out}\n{err}"
    plan = next(line for line in out.splitlines() if line.startswith("plan:"))
    assert "Index Scan using docs_embedding_idx on docs" in plan, plan
    recall = float(re.search(r"recall@10 over 100 held-out queries \(vs exact search on the same rows\): ([0-9.]+)", out).group(1))
    assert recall >= 0.9, out
    exact, index = map(float, re.search(r"exact search vs the fixture's ground truth: ([0-9.]+); vecmap index vs ground truth: ([0-9.]+)", out).groups())
    assert exact >= 0.98 and index >= 0.9, out
    # Every demo question gets its three answers.
    assert len(re.findall(r"^  \d\.\d{3}  ", out, re.M)) == 3 * out.count("\n? "), out
    assert f"psql -h 127.0.0.1 -p {PORT} -U postgres {DB}" in out


def test_demo_fails_below_its_recall_threshold():
    rc, out, err = run_demo("--min-recall", "1.01")
    assert rc == 1, f"demo exited {rc}\n{out}\n{err}"
    assert "demo FAILED: recall@10" in err and "is below 1.01" in err, err
