"""Full-text scoring for the tiers that have no text index of their own (hot and archive): BM25."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["bm25_scores", "tokenize"]

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def tokenize(text: str) -> list[str]:
    """Lower-case words; a camel-case identifier also counts as its parts."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        tokens.append(word.lower())
        parts = _CAMEL.split(word)
        if len(parts) > 1:
            tokens.extend(p.lower() for p in parts)
    return tokens


def bm25_scores(
    query: str, documents: Sequence[str], k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """The BM25 score of each document for ``query`` (0.0 when no query term occurs)."""
    terms = set(tokenize(query))
    if not terms or not documents:
        return [0.0] * len(documents)
    tokenized = [tokenize(d) for d in documents]
    average = sum(len(t) for t in tokenized) / len(tokenized) or 1.0
    frequency: Counter[str] = Counter()
    for tokens in tokenized:
        frequency.update(terms.intersection(tokens))
    n = len(documents)
    idf = {t: math.log(1 + (n - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in terms}
    scores = []
    for tokens in tokenized:
        counts = Counter(tok for tok in tokens if tok in terms)
        norm = k1 * (1 - b + b * len(tokens) / average)
        scores.append(sum(idf[t] * c * (k1 + 1) / (c + norm) for t, c in counts.items()))
    return scores
