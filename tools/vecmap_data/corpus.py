"""Text corpora reachable from a fresh Debian machine (no network beyond apt).

* Debian package descriptions from apt's lists (``/var/lib/apt/lists``):
  ``*_Packages`` give ``Package`` + short ``Description``; the long
  descriptions live in ``*_i18n_Translation-en``, which apt only keeps after
  ``apt-get update -o Acquire::Languages=en`` (Debian docker images set
  Languages "none", and a plain ``apt-get update`` deletes them again).
* WordNet glosses from the ``wordnet-base`` package (``/usr/share/wordnet``).

Texts are deduplicated, sorted, then shuffled with a fixed seed, so a corpus
is a deterministic function of the input files.
"""
from __future__ import annotations

import gzip
import hashlib
import lzma
import re
import subprocess
from pathlib import Path

import numpy as np

APT_LISTS = "/var/lib/apt/lists"
WORDNET_DIR = "/usr/share/wordnet"
SEED = 20240601
MAX_CHARS = 1500  # per Debian description


def _read_compressed(path: Path) -> str:
    """Text of an apt list file, plain or .gz/.xz/.lz4/.zst compressed."""
    suffix = path.suffix
    if suffix == ".gz":
        data = gzip.decompress(path.read_bytes())
    elif suffix == ".xz":
        data = lzma.decompress(path.read_bytes())
    elif suffix in (".lz4", ".zst"):
        try:
            if suffix != ".lz4":
                raise ImportError
            import lz4.frame
            data = lz4.frame.decompress(path.read_bytes())
        except ImportError:  # apt can always read its own lists
            data = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(path)],
                                  check=True, capture_output=True).stdout
    else:
        data = path.read_bytes()
    return data.decode("utf-8", errors="replace")


def _stanzas(text: str):
    """Deb822 text -> iterator of dict(field -> value with continuation lines)."""
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, val = line.partition(":")
                fields[key] = val.strip()
        if fields:
            yield fields


def _clean_description(desc: str, max_chars: int = MAX_CHARS) -> str:
    """"first line. long description": drop ' .' paragraph markers, collapse whitespace.

    Cut at a word boundary after ``max_chars`` (the model reads <= 256 tokens anyway).
    """
    first, _, rest = desc.partition("\n")
    rest = " ".join(ln.strip() for ln in rest.split("\n") if ln.strip() != ".")
    first, rest = re.sub(r"\s+", " ", first).strip(), re.sub(r"\s+", " ", rest).strip()
    text = f"{first}{'' if first[-1:] in '.!?:;' else '.'} {rest}" if rest else first
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
    return text


def debian_descriptions(lists_dir: str | Path = APT_LISTS) -> dict[str, str]:
    """{package: "first line long description"} from the apt lists in ``lists_dir``.

    Long descriptions come from Translation-en files (matched on Description-md5)
    when the Packages files carry only the first line.
    """
    lists_dir = Path(lists_dir)
    packages = sorted(lists_dir.glob("*_Packages*"))
    if not packages:
        raise FileNotFoundError(f"no *_Packages files in {lists_dir}: run `apt-get update` first")
    long_by_md5 = {}
    for path in sorted(lists_dir.glob("*_i18n_Translation-en*")):
        for st in _stanzas(_read_compressed(path)):
            if "Description-en" in st and "Description-md5" in st:
                long_by_md5[st["Description-md5"]] = st["Description-en"]
    out = {}
    for path in packages:
        for st in _stanzas(_read_compressed(path)):
            name, desc = st.get("Package"), st.get("Description")
            if not name or not desc:
                continue
            if "\n" not in desc:
                desc = long_by_md5.get(st.get("Description-md5", ""), desc)
            out.setdefault(name, _clean_description(desc))
    return out


def debian_texts(lists_dir: str | Path = APT_LISTS, require_long: bool = False) -> list[str]:
    """Sorted, deduplicated "package: description" texts (one per distinct description)."""
    descs = debian_descriptions(lists_dir)
    if require_long and not any(len(d) > 200 for d in descs.values()):
        raise RuntimeError(
            f"only short descriptions in {lists_dir}: run "
            "`apt-get update -o Acquire::Languages=en` to fetch Translation-en files")
    seen, texts = set(), []
    for name in sorted(descs):
        if descs[name] not in seen:  # -dev/-doc/... often repeat a description verbatim
            seen.add(descs[name])
            texts.append(f"{name}: {descs[name]}")
    return sorted(texts)


def wordnet_texts(wordnet_dir: str | Path = WORDNET_DIR) -> list[str]:
    """Sorted, deduplicated "lemma: gloss" texts, one per synset of data.{noun,verb,adj,adv}."""
    wordnet_dir = Path(wordnet_dir)
    files = [wordnet_dir / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.is_file() for f in files):
        raise FileNotFoundError(f"WordNet data files missing in {wordnet_dir}: apt-get install wordnet-base")
    texts = set()
    for f in files:
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:  # license header
                continue
            head, _, gloss = line.partition(" | ")
            lemma = head.split()[4]  # offset lex_filenum ss_type w_cnt word ...
            lemma = re.sub(r"\((a|p|ip)\)$", "", lemma).replace("_", " ")
            texts.add(f"{lemma}: {gloss.strip()}")
    return sorted(texts)


def load_corpus(source: str, lists_dir=APT_LISTS, wordnet_dir=WORDNET_DIR,
                seed: int = SEED, require_long: bool = False) -> list[str]:
    """Deterministically shuffled corpus for source debian|wordnet|both."""
    texts = []
    if source in ("debian", "both"):
        texts += debian_texts(lists_dir, require_long=require_long)
    if source in ("wordnet", "both"):
        texts += wordnet_texts(wordnet_dir)
    if not texts:
        raise ValueError(f"unknown or empty source {source!r}")
    texts = sorted(set(texts))
    perm = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in perm]


def fingerprint(texts: list[str]) -> str:
    """sha256 over the texts in order (hex, 16 chars)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]
