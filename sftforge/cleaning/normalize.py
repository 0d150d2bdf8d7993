"""Text normalization of generated samples (question, answer, cot), and the character-level
statistics the clean stage judges them by (scripts, mojibake).

``normalize_text`` does, in order:

1. Line breaks: ``\\r\\n``, ``\\r``, U+2028/2029, NEL, vertical tab and form feed become ``\\n``.
2. Invisible characters: C0/C1 control characters (except ``\\n`` and ``\\t``), zero-width
   spaces, BOMs and bidi overrides are removed everywhere, code included (bidi overrides in
   code are the "Trojan Source" trick; nobody wants them in training data).
3. Prose only (outside ``` / ~~~ fences and `inline code`): Unicode NFKC, which expands
   ligatures (``ﬁ`` -> ``fi``) and maps full-width ASCII to half-width (``ＳＱＬ`` -> ``SQL``);
   runs of spaces collapse to one (leading indentation is kept), trailing spaces go, at most one
   blank line in a row; words broken by end-of-line hyphenation are joined (``infor-\\nmation``).

Two things NFKC would damage are protected:

* Chinese punctuation. NFKC maps ``，：；！？（）`` to ASCII ``,:;!?()``, which a Chinese reader
  sees as wrong typography (GB/T 15834 uses full-width marks in Chinese text; ``。、“”《》`` are
  not touched by NFKC anyway, so converting only some marks would also mix styles). On a line
  that contains Han characters these marks and ``…`` (Chinese ``……``) stay as they are; on any
  other line they become ASCII (``，`` plus a space before a word, as English expects).
* Super/subscripts, double-struck set letters and circled numbers: ``O(n²)`` -> ``O(n2)`` or
  ``ℝ`` -> ``R`` changes a formula, ``①输入校验`` -> ``1输入校验`` loses a list marker.

Code is left alone beyond step 2 because in this field full-width and compatibility characters
inside code are often the point (``＜script＞`` as a WAF bypass payload).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import groupby

from sftforge.cleaning.source_refs import points_at_code, refers_to_source

# Han ideographs (basic, extension A, compatibility, extensions B+ in the supplementary planes).
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN_RE = re.compile(f"[{HAN}]")

_NEWLINES_RE = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
# C0/C1 controls except \t and \n; zero-width space/word joiner/BOM; LRM/RLM; bidi embeddings,
# overrides and isolates. ZWJ/ZWNJ stay: they are part of emoji and of some scripts' spelling.
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\u200e\u200f\u2060\ufeff\u202a-\u202e\u2066-\u2069]"
)
_SOFT_HYPHEN_BREAK_RE = re.compile("\u00ad[ \t]*\n[ \t]*")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
# NFKC turns NBSP and ideographic spaces into plain spaces, so collapse after it.
_SPACE_RUN_RE = re.compile(r"[ \t]+")
_BLANK_RUN_RE = re.compile(r"\n{3,}")

# Marks kept full-width on lines with Han characters (see the module docstring).
_CJK_PUNCT = frozenset("，：；！？（）…")
# Marks that take a following space when they become ASCII inside English text.
_SPACED_ASCII = {"，": ", ", "；": "; ", "！": "! ", "？": "? "}
_ALWAYS_KEEP = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ℂℕℙℚℝℤ①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳")
_KEEP_SPLIT_RE = {
    cjk_line: re.compile("([" + re.escape("".join(sorted(chars))) + "])")
    for cjk_line, chars in ((False, _ALWAYS_KEEP), (True, _ALWAYS_KEEP | _CJK_PUNCT))
}

# End-of-line hyphenation: a lowercase word piece, a hyphen, a line break, a lowercase piece.
_HYPHEN_BREAK_RE = re.compile(r"\b([A-Za-z]*[a-z])[-\u2010][ \t]*\n[ \t]*([a-z]+)\b")
# Real compounds whose hyphen happens to fall at a line end ("self-\ncontained").
_COMPOUND_PREFIXES = frozenset({"self", "non", "cross", "well", "ill", "half", "quasi", "pseudo"})


def normalize_text(text: str | None) -> str:
    """Normalized copy of ``text`` (see the module docstring); ``None`` gives ``""``."""
    if not text:
        return ""
    text = _NEWLINES_RE.sub("\n", text)
    text = _SOFT_HYPHEN_BREAK_RE.sub("", text)
    text = _INVISIBLE_RE.sub("", text).replace("\u00ad", "")
    parts = [block if is_code else _normalize_prose(block) for is_code, block in split_fences(text)]
    return "".join(parts).strip()


def split_fences(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (is_code, block) pieces; fence lines belong to their code block.

    An unclosed fence runs to the end of the text, as Markdown renders it.
    """
    blocks: list[tuple[bool, str]] = []
    current: list[str] = []
    in_code = False
    for line in text.splitlines(keepends=True):
        is_fence = bool(_FENCE_RE.match(line))
        if is_fence and not in_code:
            if current:
                blocks.append((False, "".join(current)))
            current, in_code = [line], True
        elif is_fence and in_code:
            current.append(line)
            blocks.append((True, "".join(current)))
            current, in_code = [], False
        else:
            current.append(line)
    if current:
        blocks.append((in_code, "".join(current)))
    return blocks


def _normalize_prose(block: str) -> str:
    lines = block.split("\n")
    out = [_normalize_line(line) for line in lines]
    return _BLANK_RUN_RE.sub("\n\n", _join_hyphenation("\n".join(out)))


def _normalize_line(line: str) -> str:
    """NFKC and space collapsing of one prose line, outside its inline code spans."""
    cjk_line = bool(HAN_RE.search(line))
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    pieces: list[str] = []
    pos = len(indent)
    for m in _INLINE_CODE_RE.finditer(line, pos):
        pieces.append(_SPACE_RUN_RE.sub(" ", _nfkc_keeping(line[pos:m.start()], cjk_line)))
        pieces.append(m.group())
        pos = m.end()
    pieces.append(_SPACE_RUN_RE.sub(" ", _nfkc_keeping(line[pos:], cjk_line)))
    return indent + "".join(pieces).rstrip()


def _nfkc_keeping(text: str, cjk_line: bool) -> str:
    """NFKC of ``text`` keeping the protected characters (Chinese marks on Chinese lines)."""
    if not cjk_line:
        for mark, ascii_ in _SPACED_ASCII.items():
            if mark in text:
                text = re.sub(f"{mark}(?=\\w)", ascii_, text)
    # split() with a capturing group alternates normalizable text and kept characters.
    parts = _KEEP_SPLIT_RE[cjk_line].split(text)
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


def _join_hyphenation(text: str) -> str:
    def join(m: re.Match[str]) -> str:
        left, right = m.group(1), m.group(2)
        compound = f"{left}-{right}"
        if left.lower() in _COMPOUND_PREFIXES or compound in text.replace("\n", " "):
            return compound
        return left + right

    return _HYPHEN_BREAK_RE.sub(join, text)


# --- character-level statistics ------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W_]+")
# Latin words for the language share; acronyms (SQL, XSS, CSRF) are left out because Chinese
# technical prose is full of them.
_LATIN_WORD_RE = re.compile(r"(?<![A-Za-z])(?![A-Z]{2,}(?![a-z]))[A-Za-z]+")
_NOT_PROSE_RE = re.compile(
    r"`[^`\n]+`|https?://\S+|\$\$.+?\$\$|\$[^$\n]+\$|\\\[.+?\\\]|\[[A-Z_]+\]", re.DOTALL
)


def prose_of(text: str) -> str:
    """``text`` without fenced/inline code, URLs, formulas and placeholders."""
    prose = "".join(block for is_code, block in split_fences(text) if not is_code)
    return _NOT_PROSE_RE.sub(" ", prose)


_FOREIGN_SCRIPTS = frozenset(
    "CYRILLIC GREEK ARABIC HEBREW THAI DEVANAGARI BENGALI TAMIL ARMENIAN GEORGIAN ETHIOPIC "
    "SYRIAC HANGUL HIRAGANA KATAKANA".split()
)


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    """Script of a letter from its Unicode name ("CYRILLIC SMALL LETTER A" -> "CYRILLIC")."""
    return unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]


# Blocks of the scripts above; most text has none, which skips the per-letter loop.
_FOREIGN_BLOCKS_RE = re.compile(
    "[\u0370-\u03ff\u0400-\u052f\u0530-\u08ff\u0900-\u0bff\u0e00-\u0e7f\u10a0-\u10ff"
    "\u1100-\u137f\u3040-\u30ff\uac00-\ud7af]"
)
_LETTER_RE = re.compile(r"[^\W\d_]")


def _foreign_letters(prose: str) -> int:
    """Letters of scripts unrelated to Chinese/English; Greek counts only in 3+ letter words
    because single Greek letters are formula variables."""
    if not _FOREIGN_BLOCKS_RE.search(prose):
        return 0
    n = 0
    for word in _WORD_RE.findall(prose):
        for script, run in groupby(word, key=_script):
            size = sum(1 for _ in run)
            if script in _FOREIGN_SCRIPTS and (script != "GREEK" or size >= 3):
                n += size
    return n


def script_counts(prose: str) -> dict[str, int]:
    """{"cjk": Han chars, "latin_words": Latin words except acronyms, "letters": all letters,
    "foreign": letters of scripts unrelated to Chinese/English} of ``prose``."""
    return {
        "cjk": len(HAN_RE.findall(prose)),
        "latin_words": len(_LATIN_WORD_RE.findall(prose)),
        "letters": len(_LETTER_RE.findall(prose)),
        "foreign": _foreign_letters(prose),
    }


def _byte_of_char() -> dict[str, int]:
    """How each character of the upper half of cp1252 (Latin-1 for its gaps) maps to its byte."""
    table = {chr(b): b for b in range(0x80, 0x100)}
    for b in range(0x80, 0xA0):
        try:
            table[bytes([b]).decode("cp1252")] = b
        except UnicodeDecodeError:
            pass
    return table


_BYTE_OF = _byte_of_char()
_LEAD = "".join(re.escape(c) for c, b in _BYTE_OF.items() if 0xC2 <= b <= 0xF4)
_CONT = "".join(re.escape(c) for c, b in _BYTE_OF.items() if 0x80 <= b <= 0xBF)
_MOJIBAKE_CANDIDATE_RE = re.compile(f"[{_LEAD}][{_CONT}]{{1,3}}")
# U+FFFD pairs read as GBK; MSVC's uninitialised stack/heap bytes read as GBK.
_GBK_MOJIBAKE = ("锟斤拷", "烫烫烫", "屯屯屯")


def mojibake_hits(text: str) -> int:
    """Number of UTF-8 sequences in ``text`` that were decoded as Latin-1/cp1252 ("Ã©" for "é",
    "â€™" for "’", "ä¸­" for "中"), plus classic GBK mix-ups ("锟斤拷").

    A candidate counts only when its bytes form valid UTF-8, which ordinary accented text
    ("café", "Ångström") never does.
    """
    hits = sum(text.count(s) for s in _GBK_MOJIBAKE)
    for m in _MOJIBAKE_CANDIDATE_RE.finditer(text):
        seq = m.group()
        lead = _BYTE_OF[seq[0]]
        size = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if len(seq) < size:
            continue
        try:
            bytes(_BYTE_OF[c] for c in seq[:size]).decode("utf-8")
        except UnicodeDecodeError:
            continue
        hits += 1
    return hits


def refers_to_unseen_source(question: str) -> bool:
    """True when a question points at a source text the reader will not have (the pattern is
    shared with the CoT/answer hygiene: ``sftforge.cleaning.source_refs``) or at a code listing
    of it that the question does not quote."""
    return refers_to_source(question) or points_at_code(question)
