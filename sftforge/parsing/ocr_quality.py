"""Character error rate of OCR output against the text it should have read.

Used by ``bench/ocr.py`` and the OCR tests. Both texts are normalised first (NFKC, runs of
whitespace to one space, no space next to a CJK character), so only what a reader would see
as different counts: a missing English word space is an error, a line break is not.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_SPACE_RE = re.compile(f"(?<=[{_CJK}]) | (?=[{_CJK}])")


def normalise(text: str) -> str:
    """``text`` as compared: NFKC, one space between words, none around CJK characters."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return _CJK_SPACE_RE.sub("", text)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between ``a`` and ``b`` (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_error_rate(reference: str, hypothesis: str, spaces: bool = True) -> float:
    """Edits needed to turn ``hypothesis`` into ``reference``, per reference character, on the
    normalised texts; ``spaces=False`` ignores all spaces (pure character recognition)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not spaces:
        ref, hyp = ref.replace(" ", ""), hyp.replace(" ", "")
    return edit_distance(ref, hyp) / max(1, len(ref))
