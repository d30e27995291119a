"""Text normalisation and word-shingle similarity: exact- and near-duplicate detection for the
training data (`trainers/datasets.py`) and for the incident feed (`streams/incidents.py`)."""

from __future__ import annotations

import zlib
from collections.abc import Set


def normalise_text(text: str) -> str:
    """Case and whitespace folded: the key of exact-duplicate detection."""
    return " ".join(text.lower().split())


def shingles(text: str, n: int = 3) -> frozenset[int]:
    """Hashed word n-grams of the normalised text (the unit of near-duplicate detection)."""
    words = normalise_text(text).split()
    if len(words) < n:
        return frozenset([zlib.crc32(" ".join(words).encode())])
    # crc32, not hash(): str hashes change per process, and the split must not.
    return frozenset(zlib.crc32(" ".join(words[i:i + n]).encode()) for i in range(len(words) - n + 1))


def jaccard(a: Set[int], b: Set[int]) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0
