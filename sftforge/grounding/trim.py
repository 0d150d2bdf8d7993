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
score and its threshold, and so is a cut inside a prose enumeration ("First, ..." kept, "Second,
..." cut). The judge then sees the trimmed answer, so an answer that no longer covers its
question is scored as incomplete.
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
# Prose enumerations: "several benefits. First, ... Second, ..." cut after "First" reads as a
# broken answer ("several benefits" and one of them), so such a tail is left to the score.
_ORDINAL_FIRST_RE = re.compile(
    r"^\W*(?:first(?:ly)?\b|first of all\b|to begin with\b|首先|第一[，,、：:]|一是|其一)",
    re.IGNORECASE)
_ORDINAL_NEXT_RE = re.compile(
    r"^\W*(?:second(?:ly)?\b|third(?:ly)?\b|finally\b|lastly\b|其次|第[二三四][，,、：:]"
    r"|[二三四]是|其[二三]|最后)", re.IGNORECASE)


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


def _splits_enumeration(head: list[str], tail: list[str]) -> bool:
    """True when the cut would fall inside a prose enumeration: its next item ("Second, ...",
    "其次") is in the tail, or the head's last "First, ..." has no next item after it."""
    if any(_ORDINAL_NEXT_RE.match(s) for s in tail):
        return True
    opened = False
    for sentence in head:
        if _ORDINAL_FIRST_RE.match(sentence):
            opened = True
        elif _ORDINAL_NEXT_RE.match(sentence):
            opened = False
    return opened


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
    kept, removed = [s.sentence for s in head], [s.sentence for s in tail]
    if sum(map(len, removed)) > MAX_TRIMMED_SHARE * sum(len(s.sentence) for s in detail):
        return Trim(text=answer)
    if _splits_enumeration(kept, removed):
        return Trim(text=answer)
    end = _head_end(answer, kept)
    if end <= 0:
        return Trim(text=answer)
    head_text = _DANGLING_MARKER_RE.sub("", answer[:end].rstrip()).rstrip()
    return Trim(text=head_text, removed=removed)
