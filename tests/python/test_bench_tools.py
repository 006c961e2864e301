"""The benchmark's own pieces that numbers depend on: the synthetic manifold generator, the
chunked COPY stream, ground truth reused after holding rows out, and byte-size parsing."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from vecmap_data.dataset import Dataset, manifold  # noqa: E402
from vecmap_data.formats import exact_knn  # noqa: E402
from vecmap_tools.bench import copy_payload, copy_pieces, split  # noqa: E402
from vecmap_tools.bench_pressure import parse_bytes  # noqa: E402


def test_manifold_is_unit_norm_deterministic_and_low_dimensional():
    base, queries = manifold(4000, 64, 50, latent_dims=4, chunk=1500)
    again, _ = manifold(4000, 64, 50, latent_dims=4, chunk=1500)
    assert base.shape == (4000, 64) and queries.shape == (50, 64) and base.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(base, axis=1), 1, atol=1e-5)
    assert np.array_equal(base, again)
    # A 4-d manifold: nearest neighbours far closer than random rows (isotropic 64-d noise would
    # put them almost as far as a random row).
    d = 1 - queries @ base.T
    d.sort(axis=1)
    assert np.median(d.mean(axis=1) / d[:, 9]) > 3


@pytest.mark.parametrize("n,chunk", [(0, 4), (1, 4), (7, 3), (9, 3), (10, 100)])
def test_copy_pieces_equal_one_payload(n, chunk):
    vecs = np.random.default_rng(n).standard_normal((n, 5)).astype(np.float32)
    whole = copy_payload(np.arange(n), vecs)
    assert b"".join(bytes(p) for p in copy_pieces(vecs, chunk=chunk, piece=16)) == whole


def test_held_out_rows_reuse_the_ground_truth_exactly():
    rng = np.random.default_rng(3)
    base, queries = rng.standard_normal((600, 8)).astype(np.float32), rng.standard_normal((20, 8)).astype(np.float32)
    ds = Dataset(path=Path("."), base=base, queries=queries, gt={"cosine": exact_knn(base, queries, 100, "cosine")[0]})
    kept, q, held, gt10, source = split(ds, 20, 10)
    assert len(held) == 30 and len(kept) == 570 and source.startswith("dataset")
    assert np.array_equal(gt10, exact_knn(kept, q, 10, "cosine")[0])


def test_parse_bytes():
    assert parse_bytes("1G") == 1 << 30
    assert parse_bytes("1536M") == 1536 << 20
    assert parse_bytes("800000000") == 800000000
    assert parse_bytes("2.5GB") == int(2.5 * (1 << 30))
