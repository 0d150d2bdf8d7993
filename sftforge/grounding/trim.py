"""Trim an answer's unsupported tail: keep the supported answer, not the sample's loss.

Input: a cleaned answer (``clean_samples.answer``) and its chunk's text (``chunks.text``).
Output: :class:`Trim`, the answer without its last sentences when they are claims the chunk
does not support (``sftforge.grounding.score``'s per-sentence support), and those sentences.

Small models often end a correct, source-bound answer with a sentence of their own ("...,
which could lead to SQL injection attacks if not handled carefully."). Dropping the sample for
it (``ungrounded``) loses the supported part; keeping it teaches the fine-tuned model to add
unsupported claims. Only a tail is cut (an unsupported sentence in the middle is left to the
score), only when a supported claim remains, and never most of the answer: a trim that would
remove more than ``MAX_TRIMMED_SHARE`` of the answer's characters leaves the answer to the
score and its threshold. The judge then sees the trimmed answer, so an answer that no longer
covers its question is scored as incomplete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sftforge.grounding.score import MIN_UNITS, SentenceSupport, grounding_detail

# At most two thirds of the answer may be cut (in characters: a sentence about code counts
# only its Latin words as units, so units would undercount it).
MAX_TRIMMED_SHARE = 0.67
# A list item's number or bullet left at the end of the head once its item was cut ("...\n3.").
_DANGLING_MARKER_RE = re.compile(r"(?:^|\n)[ \t]*(?:\d{1,3}[.)]|[-*+•])[ \t]*$")


@dataclass
class Trim:
    """``text``: the answer to keep; ``removed``: the unsupported tail sentences cut from it."""

    text: str
    removed: list[str] = field(default_factory=list)


def _unsupported_claim(sentence: SentenceSupport) -> bool:
    return sentence.units >= MIN_UNITS and not sentence.supported


def _tail(sentences: list[SentenceSupport]) -> int:
    """Index where the run of unsupported claim sentences at the end of ``sentences`` starts
    (``len(sentences)`` when the last one is supported or carries no claim)."""
    start = len(sentences)
    while start > 0 and _unsupported_claim(sentences[start - 1]):
        start -= 1
    return start


def _head_end(answer: str, sentences: list[str]) -> int:
    """Character offset in ``answer`` just past the last of ``sentences`` (its leading ones),
    so the kept head keeps the answer's own spacing and line breaks."""
    pos = 0
    for sentence in sentences:
        found = answer.find(sentence, pos)
        pos = found + len(sentence) if found >= 0 else pos
    return pos


def trim_unsupported_tail(answer: str, chunk_text: str) -> Trim:
    """``answer`` without its unsupported tail (see the module); unchanged when nothing can be
    cut safely."""
    detail = grounding_detail(answer, chunk_text).sentences
    start = _tail(detail)
    head, tail = detail[:start], detail[start:]
    if not tail or not any(s.supported and s.units >= MIN_UNITS for s in head):
        return Trim(text=answer)
    cut = sum(len(s.sentence) for s in tail)
    if cut > MAX_TRIMMED_SHARE * sum(len(s.sentence) for s in detail):
        return Trim(text=answer)
    end = _head_end(answer, [s.sentence for s in head])
    if end <= 0:
        return Trim(text=answer)
    head_text = _DANGLING_MARKER_RE.sub("", answer[:end].rstrip()).rstrip()
    return Trim(text=head_text, removed=[s.sentence for s in tail])
