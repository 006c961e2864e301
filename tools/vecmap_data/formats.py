"""Standard ANN file formats and exact ground truth.

``.fvecs`` / ``.ivecs`` / ``.bvecs`` (TEXMEX): each row is an int32 dimension d
followed by d float32 / int32 / uint8 values, little endian.
ann-benchmarks HDF5: datasets ``train`` (n, d), ``test`` (q, d),
``neighbors`` (q, k) int, ``distances`` (q, k); attribute ``distance``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

METRICS = ("l2", "cosine", "ip")
# ann-benchmarks "distance" attribute -> our metric names
HDF5_METRICS = {"euclidean": "l2", "angular": "cosine", "cosine": "cosine", "dot": "ip", "ip": "ip"}


def _read_vecs(path: str | Path, dtype, count: int | None = None) -> np.ndarray:
    """Read a *vecs file -> (n, d) array of ``dtype`` (first ``count`` rows if given)."""
    dt = np.dtype(dtype).newbyteorder("<")
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4:
        return np.zeros((0, 0), dtype=dtype)
    d = int(np.frombuffer(head, "<i4")[0])
    row = 4 + d * dt.itemsize
    raw = np.fromfile(path, dtype=np.uint8, count=-1 if count is None else count * row)
    if raw.size % row:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of row size {row}")
    rows = raw.reshape(-1, row)
    if not (rows[:, :4].copy().view("<i4") == d).all():
        raise ValueError(f"{path}: rows of different dimension")
    return rows[:, 4:].copy().view(dt).astype(dtype)


def read_fvecs(path, count=None) -> np.ndarray:
    """.fvecs -> float32 (n, d)."""
    return _read_vecs(path, np.float32, count)


def read_ivecs(path, count=None) -> np.ndarray:
    """.ivecs -> int32 (n, d)."""
    return _read_vecs(path, np.int32, count)


def read_bvecs(path, count=None) -> np.ndarray:
    """.bvecs -> uint8 (n, d)."""
    return _read_vecs(path, np.uint8, count)


def read_vecs(path, count=None) -> np.ndarray:
    """Any of .fvecs/.ivecs/.bvecs by extension -> float32 (n, d)."""
    ext = Path(path).suffix
    readers = {".fvecs": read_fvecs, ".ivecs": read_ivecs, ".bvecs": read_bvecs}
    if ext not in readers:
        raise ValueError(f"{path}: expected .fvecs, .ivecs or .bvecs")
    return readers[ext](path, count).astype(np.float32)


def _write_vecs(path, x: np.ndarray, dtype) -> None:
    x = np.ascontiguousarray(x, dtype=np.dtype(dtype).newbyteorder("<"))
    if x.ndim != 2:
        raise ValueError("expected a 2-d array")
    head = np.full((x.shape[0], 1), x.shape[1], dtype="<i4")
    np.hstack([head.view(np.uint8), x.view(np.uint8).reshape(x.shape[0], -1)]).tofile(path)


def write_fvecs(path, x: np.ndarray) -> None:
    """float (n, d) -> .fvecs."""
    _write_vecs(path, x, np.float32)


def write_ivecs(path, x: np.ndarray) -> None:
    """int (n, d) -> .ivecs."""
    _write_vecs(path, x, np.int32)


def read_hdf5(path) -> dict:
    """ann-benchmarks HDF5 -> dict(base, queries, neighbors|None, distances|None, metric|None)."""
    import h5py

    with h5py.File(path, "r") as f:
        get = lambda k: np.asarray(f[k]) if k in f else None  # noqa: E731
        dist = f.attrs.get("distance")
        if isinstance(dist, bytes):
            dist = dist.decode()
        return dict(
            base=np.asarray(f["train"], dtype=np.float32),
            queries=np.asarray(f["test"], dtype=np.float32),
            neighbors=None if get("neighbors") is None else get("neighbors").astype(np.int32),
            distances=get("distances"),
            metric=HDF5_METRICS.get(str(dist).lower()) if dist is not None else None,
        )


def write_hdf5(path, base, queries, neighbors, metric: str, distances=None) -> None:
    """Write the ann-benchmarks layout (metric given as l2|cosine|ip)."""
    import h5py

    names = {"l2": "euclidean", "cosine": "angular", "ip": "dot"}
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = names[metric]
        f.attrs["dimension"] = base.shape[1]
        f.attrs["point_type"] = "float"
        f["train"], f["test"] = base.astype(np.float32), queries.astype(np.float32)
        f["neighbors"] = neighbors.astype(np.int32)
        if distances is not None:
            f["distances"] = distances.astype(np.float32)


def _distances(q: np.ndarray, b: np.ndarray, b_sq: np.ndarray | None, metric: str) -> np.ndarray:
    """(m, d), (n, d) -> (m, n) float32 distances (lower is nearer). cosine rows pre-normalised."""
    dot = q @ b.T
    if metric == "l2":  # ||b||^2 - 2 q.b ranks like ||q - b||^2
        return b_sq[None, :] - 2.0 * dot
    return (1.0 - dot) if metric == "cosine" else -dot


def exact_knn(base: np.ndarray, queries: np.ndarray, k: int = 100, metric: str = "cosine",
              base_block: int = 32768, query_block: int = 1024, progress: bool = False):
    """Exact top-k -> (ids int32 (q, k), distances float32 (q, k)), nearest first.

    Distances: l2 = euclidean, cosine = 1 - cos, ip = -dot. Computed in blocks
    so memory stays ~query_block * base_block floats. Ties break by lower id.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}")
    base = np.asarray(base, dtype=np.float32)
    queries = np.asarray(queries, dtype=np.float32)
    if metric == "cosine":
        base = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
    k = min(k, len(base))
    ids = np.zeros((len(queries), k), dtype=np.int32)
    dists = np.zeros((len(queries), k), dtype=np.float32)
    blocks = range(0, len(queries), query_block)
    if progress:
        from tqdm import tqdm
        blocks = tqdm(blocks, desc=f"ground truth ({metric})", unit="qblock")
    for qs in blocks:
        q = queries[qs:qs + query_block]
        best_d = np.zeros((len(q), 0), dtype=np.float32)
        best_i = np.zeros((len(q), 0), dtype=np.int64)
        for bs in range(0, len(base), base_block):
            b = base[bs:bs + base_block]
            d = _distances(q, b, (b * b).sum(1) if metric == "l2" else None, metric)
            i = np.broadcast_to(np.arange(len(b)), d.shape)
            if d.shape[1] > k:  # top-k of this block first, then merge with the running top-k
                i = np.argpartition(d, k - 1, axis=1)[:, :k]
                d = np.take_along_axis(d, i, 1)
            d, i = np.concatenate([best_d, d], 1), np.concatenate([best_i, i + bs], 1)
            if d.shape[1] > k:
                part = np.argpartition(d, k - 1, axis=1)[:, :k]
                d, i = np.take_along_axis(d, part, 1), np.take_along_axis(i, part, 1)
            best_d, best_i = d, i
        order = np.lexsort((best_i, best_d), axis=1)  # by distance, then id
        ids[qs:qs + len(q)] = np.take_along_axis(best_i, order, 1)
        d = np.take_along_axis(best_d, order, 1)
        if metric == "l2":  # restore true euclidean distance
            d = np.sqrt(np.maximum(d + (q * q).sum(1, keepdims=True), 0))
        dists[qs:qs + len(q)] = d
    return ids, dists


_ESC = {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}
_UNESC = {"\\": "\\", "n": "\n", "r": "\r"}


def escape_line(text: str) -> str:
    """One text -> one line: backslash, newline and CR become \\\\, \\n, \\r."""
    return re.sub(r"[\\\n\r]", lambda m: _ESC[m.group()], text)


def unescape_line(line: str) -> str:
    """Inverse of escape_line."""
    return re.sub(r"\\(.)", lambda m: _UNESC.get(m.group(1), m.group()), line)


def write_texts(path, texts) -> None:
    """list[str] -> UTF-8 file, one escaped text per line."""
    Path(path).write_text("".join(escape_line(t) + "\n" for t in texts), encoding="utf-8")


def read_texts(path) -> list[str]:
    """Inverse of write_texts."""
    return [unescape_line(s) for s in Path(path).read_text(encoding="utf-8").split("\n")[:-1]]
