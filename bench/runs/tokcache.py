"""Tokenize once: encodings cached on disk, keyed by a hash of the texts, the tokenizer and max_len.

An entry is one safetensors file (token ids of all texts end to end, their offsets and a truncation
flag per text): plain arrays, never pickle. It is written to a temporary file and renamed into
place, so readers never see half an entry and ranks of one torchrun job may write it at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from bench import atomic
from bench.modeling import Tokenizer

FORMAT = "bench-tokens-1"  # part of the key: a new layout never reads an old entry
MAX_CACHE_BYTES = 2 * 1024**3  # past this, least recently used entries go (IMDB at 512 tokens: ~25 MiB)


@dataclass
class Tokens:
    """One split's encodings: ids per text (truncated, unpadded) and whether each was cut."""

    ids: list[list[int]]
    truncated: np.ndarray  # bool, one per text
    hit: bool  # read from the cache

    @property
    def truncated_share(self) -> float:
        return float(self.truncated.mean()) if len(self.truncated) else 0.0


def cache_key(texts: Sequence[str], tokenizer: Tokenizer) -> str:
    """Hash of the texts and everything that shapes their encoding: the tokenizer's full definition
    (vocabulary, normalizer, post-processor, truncation) and max_len."""
    digest = hashlib.sha256()
    # The serialized tokenizer, not only `tokenizer.name`: two folders with one name may differ.
    for part in (FORMAT, tokenizer.name, str(tokenizer.max_len), tokenizer.backend.to_str()):
        digest.update(part.encode())
        digest.update(b"\0")
    for text in texts:
        raw = text.encode()
        digest.update(len(raw).to_bytes(8, "little"))  # length-prefixed: no two lists hash alike
        digest.update(raw)
    return digest.hexdigest()


def tokenize(tokenizer: Tokenizer, texts: Sequence[str]) -> Tokens:
    # One pass: the overflow of a truncated encoding says it was cut; no second, untruncated pass.
    encodings = tokenizer.backend.encode_batch(list(texts))
    truncated = np.array([bool(e.overflowing) for e in encodings], dtype=bool)
    return Tokens([e.ids for e in encodings], truncated, hit=False)


def entry_path(root: Path, key: str) -> Path:
    return root / key[:2] / f"{key}.safetensors"


def read(path: Path) -> Tokens | None:
    """The entry at `path`, or None when it is missing or unreadable (then it is rebuilt)."""
    try:
        arrays = load_file(str(path))
        flat, offsets, truncated = arrays["ids"], arrays["offsets"], arrays["truncated"]
    except (OSError, SafetensorError, KeyError):
        return None
    if offsets.ndim != 1 or len(offsets) != len(truncated) + 1 or offsets[-1] != len(flat):
        return None
    bounds = offsets.tolist()
    values = flat.tolist()
    ids = [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    return Tokens(ids, truncated.astype(bool), hit=True)


def write(path: Path, tokens: Tokens) -> None:
    lengths = np.fromiter((len(ids) for ids in tokens.ids), dtype=np.int64, count=len(tokens.ids))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.fromiter((i for ids in tokens.ids for i in ids), dtype=np.int32, count=int(offsets[-1]))
    with atomic.replacing(path) as tmp:
        save_file(
            {"ids": flat, "offsets": offsets, "truncated": tokens.truncated.astype(np.uint8)},
            str(tmp),
            metadata={"format": FORMAT, "texts": str(len(tokens.ids))},
        )


def prune(root: Path, keep: Path, limit: int = MAX_CACHE_BYTES) -> list[Path]:
    """Delete the least recently used entries (by mtime, which a hit refreshes) until the cache
    holds at most `limit` bytes; never `keep`, the entry just written. Returns what went."""
    entries = []
    for path in root.glob("*/*.safetensors"):
        with contextlib.suppress(OSError):  # another process may be pruning too
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total, removed = sum(size for _, size, _ in entries), []
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            removed.append(path)
            total -= size
    return removed


def cached_tokenize(tokenizer: Tokenizer, texts: Sequence[str], root: Path | None) -> Tokens:
    """`texts` encoded by `tokenizer`, read from the cache under `root` when there (None: no cache)."""
    if root is None:
        return tokenize(tokenizer, texts)
    path = entry_path(root, cache_key(texts, tokenizer))
    found = read(path) if path.is_file() else None
    if found is not None:
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return found
    tokens = tokenize(tokenizer, texts)
    with contextlib.suppress(OSError):  # a read-only or full disk costs the next run a re-tokenization
        write(path, tokens)
        prune(root, keep=path)
    return tokens
