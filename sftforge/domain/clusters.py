"""Sections of a document that has no structure (no outline, no headings): clusters of its
chunk embeddings, each named by the words that set it apart.

Input: a document's chunk texts in order and their unit embedding vectors (one row each).
Output: sections ``[{label, description}]`` for ``sftforge.domain.outline`` (a label from the
cluster's distinctive words, a description from its first chunk), in document order of their
first chunk. Deterministic: k-means from farthest-point seeds, no randomness.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from sftforge.domain.outline import content_tokens


def cluster_count(n_chunks: int, most: int) -> int:
    """How many sections ``n_chunks`` unstructured chunks get: about sqrt(n / 2), 2 to
    ``most``; 0 below 4 chunks (too little to split)."""
    if n_chunks < 4:
        return 0
    return max(2, min(most, round(math.sqrt(n_chunks / 2))))


def kmeans(vectors: np.ndarray, k: int, rounds: int = 20) -> list[int]:
    """Cluster of each row (cosine, unit rows): seeds are chunk 0 then the row farthest from
    every seed so far; then assign / recentre until nothing moves."""
    seeds = [0]
    while len(seeds) < k:
        sims = (vectors @ vectors[seeds].T).max(axis=1)
        seeds.append(int(np.argmin(sims)))
    centres = vectors[seeds]
    labels = np.zeros(len(vectors), dtype=int)
    for _ in range(rounds):
        new = np.argmax(vectors @ centres.T, axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        centres = np.stack([vectors[labels == c].mean(axis=0) if (labels == c).any()
                            else centres[c] for c in range(k)])
        centres /= np.linalg.norm(centres, axis=1, keepdims=True) + 1e-12
    return [int(x) for x in labels]


def _distinctive(members: list[str], others: list[str], n: int = 3) -> list[str]:
    """The ``n`` content tokens most frequent in ``members`` relative to ``others``."""
    mine = Counter(t for text in members for t in content_tokens(text))
    rest = Counter(t for text in others for t in content_tokens(text))
    score = {t: c / len(members) - rest[t] / max(1, len(others)) for t, c in mine.items()
             if c > 1 or len(members) == 1}
    return [t for t, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def cluster_sections(texts: list[str], vectors: np.ndarray | None, most: int = 8
                     ) -> list[dict[str, str]]:
    """Sections of an unstructured document (see the module docstring); [] when too short
    (``vectors`` may then be None)."""
    k = cluster_count(len(texts), most)
    if not k or vectors is None:
        return []
    labels = kmeans(vectors, k)
    out, seen = [], set()
    for c in dict.fromkeys(labels):  # clusters in document order of their first chunk
        members = [t for t, lab in zip(texts, labels) if lab == c]
        words = _distinctive(members, [t for t, lab in zip(texts, labels) if lab != c])
        label = ", ".join(words) or " ".join(members[0].split()[:6])
        if label.casefold() in seen:
            continue
        seen.add(label.casefold())
        out.append({"label": label[:80], "description": " ".join(members[0].split())[:200]})
    return out if len(out) > 1 else []
