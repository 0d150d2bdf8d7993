"""Text utilities shared by ingest, chunking and cleaning: token estimate, language detection,
sentence splitting (English and CJK), a garbled-text score, and Markdown/plain text to blocks.

Token estimate (no tokenizer download, so it is a rule, not a model):

* every CJK character (Han, kana, Hangul, CJK and full-width punctuation) counts 1 token;
* the rest counts ``max(1.3 * words, non-space characters / 4)``, rounded up, where words are
  split on whitespace. Prose lands on ~1.3 tokens a word (what BPE tokenizers of Qwen/Llama
  give for English); code, URLs and hashes, whose "words" are long, fall back to ~4
  characters a token.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

BlockKind = Literal["heading", "paragraph", "table", "code", "formula", "list"]


class Block(TypedDict):
    """One structural piece of a document, in reading order."""

    kind: BlockKind
    text: str
    page: int  # 1-based
    level: NotRequired[int]  # headings only: 1 = top


@dataclass
class ParsedDocument:
    """What a reader extracts from one file (becomes a ``documents`` row)."""

    title: str
    lang: str
    n_pages: int
    toc: list[list] = field(default_factory=list)  # [level, title, page]
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # pages skipped and why
    # text a reader cannot see, left out of ``blocks``: (page, reason, text)
    hidden: list[tuple[int, str, str]] = field(default_factory=list)
    # pages OCR'd (``sftforge.parsing.pdf_ocr``): {page, why, confidence, kept}
    ocr: list[dict] = field(default_factory=list)


_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f"
    "\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff"
    "\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
)
_CJK_RE = re.compile(f"[{_CJK}]")
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA_RE = re.compile("[\u3040-\u30ff]")
_HANGUL_RE = re.compile("[\u1100-\u11ff\uac00-\ud7af]")
_LATIN_RE = re.compile("[A-Za-z\u00c0-\u024f]")
_SPACE_RE = re.compile(r"\s+")


def estimate_tokens(text: str) -> int:
    """Fast token estimate of ``text`` (rule in the module docstring)."""
    if not text:
        return 0
    return tokens_from_stats(token_stats(text))


TokenStats = tuple[int, int, int]  # (CJK characters, words, non-space characters of the words)


def token_stats(text: str) -> TokenStats:
    """What ``estimate_tokens`` counts in ``text``; stats of joined texts add up (see
    ``concat_token_stats``), so a chunk's size needs no second pass over its text."""
    if text.isascii():  # the common case needs no CJK scan
        cjk, rest = 0, text
    else:  # each match is one character: the count of replacements is the CJK count
        rest, cjk = _CJK_RE.subn(" ", text)
    words = rest.split()
    return cjk, len(words), sum(map(len, words))


def tokens_from_stats(stats: TokenStats) -> int:
    """``estimate_tokens`` of a text from its ``token_stats``."""
    cjk, words, chars = stats
    return cjk + math.ceil(max(1.3 * words, chars / 4))


def concat_token_stats(left: TokenStats, left_last: str, right: TokenStats,
                       right_first: str) -> TokenStats:
    """``token_stats`` of two texts joined, from theirs and the two characters that meet
    (``left_last``/``right_first``, empty for an empty text): a word that runs across the
    join is counted once."""
    cjk, words, chars = left[0] + right[0], left[1] + right[1], left[2] + right[2]
    if left_last and right_first and _in_word(left_last) and _in_word(right_first):
        words -= 1
    return cjk, words, chars


def _in_word(ch: str) -> bool:
    """True for a character ``token_stats`` puts inside a word (not whitespace, not CJK)."""
    return not ch.isspace() and (ch.isascii() or not _CJK_RE.match(ch))


def cjk_share(text: str) -> float:
    """Share of CJK characters among the non-space characters of ``text``."""
    if text.isascii():
        return 0.0
    n = len(text) - len(_SPACE_RE.findall(text))
    return len(_CJK_RE.findall(text)) / n if n > 0 else 0.0


# Function words make up a quarter or more of any English prose; other Latin-script
# languages have few of these, so their share tells English from "other".
_EN_WORDS = frozenset(
    "the of and to in is are that for it as with be on by this or not an can from was were "
    "which will has have at these their such its when if".split()
)


def detect_lang(text: str, sample: int = 20000) -> str:
    """``zh``, ``ja``, ``ko``, ``en`` or ``other`` by script share of the first ``sample`` chars.

    A Han character weighs about one word, a Latin word about four letters, so Chinese text
    full of English terms (SQL, OWASP) stays ``zh``.
    """
    text = text[:sample]
    han, kana = len(_HAN_RE.findall(text)), len(_KANA_RE.findall(text))
    hangul, latin = len(_HANGUL_RE.findall(text)), len(_LATIN_RE.findall(text))
    other = sum(1 for ch in text if ch.isalpha()) - han - kana - hangul - latin
    units = han + kana + hangul + (latin + max(other, 0)) / 4
    if units < 1:
        return "other"
    if hangul / units >= 0.3:
        return "ko"
    if kana / units >= 0.1 and (han + kana) / units >= 0.3:
        return "ja"
    if han / units >= 0.3:
        return "zh"
    if latin < 0.6 * (latin + max(other, 0)):
        return "other"
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) < 30:
        return "en"
    return "en" if sum(w in _EN_WORDS for w in words) / len(words) >= 0.08 else "other"


_ABBREV = frozenset(
    "e.g i.e etc vs al fig figs eq eqs no nos sec ch mr mrs ms dr prof inc ltd cf approx "
    "resp vol pp ref refs st jr sr dept est".split()
)
# A sentence ends at CJK terminators (。！？；…) wherever they are, or at . ! ? followed by
# space and something that can open a sentence; closing quotes/brackets stay with it.
_BOUNDARY_RE = re.compile(
    r"[。！？；…]+[”’」』）】》\"')\]]*\s*"
    r"|[.!?]+[”’\"')\]]*\s+(?=[“‘\"'(\[]?[A-Z0-9\u3400-\u9fff])"
    r"|\s*\n\s*"
)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (English and CJK rules); pieces keep their punctuation."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY_RE.finditer(text):
        if m.group().lstrip()[:1] == "." and _is_abbreviation(text, m.start()):
            continue
        piece = text[start:m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


_WORD_BEFORE_DOT_RE = re.compile(r"([A-Za-z.]+)$")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at ``dot`` ends an abbreviation or an initial, not a sentence."""
    word = _WORD_BEFORE_DOT_RE.search(text, max(0, dot - 12), dot)
    if not word:
        return False
    w = word.group(1).strip(".")
    return w.lower() in _ABBREV or (len(w) == 1 and w.isupper())


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines into one paragraph: hyphenated breaks joined, no space between CJK."""
    text = "\n".join(lines)
    if text.isascii() and not _HYPHEN_EOL_RE.search(text):
        return " ".join(text.split())  # what the loop below gives for plain ASCII lines
    parts: list[str] = []
    for line in lines:
        line = " ".join(line.split())
        if not line:
            continue
        prev = parts[-1] if parts else ""
        if not prev:
            parts.append(line)
        elif prev.endswith("-") and len(prev) > 1 and prev[-2].isalpha() and line[0].islower():
            # "exam-\nple" -> "example", but "DOM-\nbased" keeps its hyphen (acronym part)
            parts[-1] = prev if _ACRONYM_HYPHEN_RE.search(prev[-3:]) else prev[:-1]
            parts.append(line)
        elif not (prev[-1].isascii() or line[0].isascii()) and _CJK_RE.match(prev[-1]) \
                and _CJK_RE.match(line[0]):
            parts.append(line)
        else:
            parts.append(" " + line)
    out = "".join(parts)
    return out if out.isascii() else tidy_cjk_spaces(out)


_ACRONYM_HYPHEN_RE = re.compile(r"[A-Z]{2,}-$")
_HYPHEN_EOL_RE = re.compile(r"-\s*(?:\n|\Z)")  # a line that ends in a hyphen
_CJK_GAP_RE = re.compile(f"(?<=[{_CJK}]) +(?=[{_CJK}])")


def tidy_cjk_spaces(text: str) -> str:
    """Drop layout spaces between two CJK characters (PDFs often emit them)."""
    return _CJK_GAP_RE.sub("", text)


_LATIN1_RE = re.compile("[\u0080-\u00ff]")
# Runs of Latin-1/cp1252 characters: UTF-8 text decoded with the wrong codec turns into these.
_MOJIBAKE_RE = re.compile("[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                          "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030"
                          "\u2039\u203a\u20ac\u2122]{2,}")


def garbled_share(text: str) -> float:
    """Share of non-space characters of ``text`` that look like broken extraction.

    Counted as broken: U+FFFD, private-use glyphs, noncharacters, control characters,
    mojibake runs (Latin-1 runs that decode as UTF-8 once re-encoded, like ``Ã©``), symbol
    soup (over 60% punctuation/symbols) and jammed text (most Latin text in 25+ character
    runs without spaces, what a font with a broken glyph map often gives).
    Accented letters of real French or German text do not re-decode, so they do not count.
    """
    lengths = list(map(len, text.split()))
    n = sum(lengths)
    if n <= 0:
        return 0.0
    bad = 0
    # broken glyphs and mojibake are never plain ASCII, and one scan rules them out in most text
    if not text.isascii() and (_SUSPECT_RE.search(text) or _MOJIBAKE_RE.search(text)):
        bad = _broken_chars(text, n)
    # Wrong glyph maps can also yield pure symbol soup; real text, even code, stays far below.
    if _word_chars(text[:2000]) < 0.4 * min(n, 2000):
        symbols = len(_SYMBOL_RE.findall(text))
        if symbols > 0.6 * n:
            bad += symbols
    # ...or lose every word space: Latin text that is mostly 25+ character "words".
    if max(lengths) >= 25:
        bad += _jammed_chars(text)
    return min(1.0, bad / n)


def _jammed_chars(text: str) -> int:
    """Characters in 25+ character Latin tokens when they are most of the Latin text."""
    latin = text if text.isascii() else _CJK_RE.sub(" ", text)
    if latin is not text and max(map(len, latin.split()), default=0) < 25:
        return 0  # CJK text: its long "words" were CJK runs (no regex scan needed)
    jammed = sum(len(w) for w in _LONG_TOKEN_RE.findall(latin))
    if jammed > 0.5 * max(1, len(latin) - latin.count(" ")) and jammed >= 200:
        return jammed
    return 0


def count_nonspace(text: str) -> int:
    """Number of non-whitespace characters of ``text`` (ASCII text: a byte table)."""
    if text.isascii():
        return len(text.encode("ascii").translate(None, _ASCII_SPACE))
    return sum(map(len, text.split()))


_ASCII_SPACE = bytes(b for b in range(128) if chr(b).isspace())


def _broken_chars(text: str, n: int) -> int:
    """Broken glyphs plus mojibake runs of ``text`` (``n`` non-space characters)."""
    bad = len(_BROKEN_RE.findall(text))
    for m in _MOJIBAKE_RE.finditer(text):
        if _redecodes(m.group()):
            bad += len(m.group())
    # Mojibake with lost bytes no longer re-decodes, but stays a wall of Latin-1 letters:
    # accented letters stay well under 40% of the characters of real Latin-script text.
    latin1 = len(_LATIN1_RE.findall(text))
    return max(bad, latin1) if latin1 >= 0.4 * n else bad


def _word_chars(text: str) -> int:
    """Number of ``\\w`` characters in ``text`` (ASCII text: a byte table, ~30x faster)."""
    if text.isascii():
        return len(text.encode("ascii").translate(None, _ASCII_NONWORD))
    return sum(map(len, _WORDRUN_RE.findall(text)))


_ASCII_NONWORD = bytes(b for b in range(128) if not re.match(r"\w", chr(b)))
_WORDRUN_RE = re.compile(r"\w+")
_BROKEN_CLASS = ("\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00-\x08\x0b\x0e-\x1f\x7f-\x9f"
                 "\ufdd0-\ufdef\ufffe\uffff")
# U+FFFD, private-use areas, C0/C1 controls other than whitespace, noncharacters.
_BROKEN_RE = re.compile(f"[{_BROKEN_CLASS}]")
# Any broken glyph or Latin-1 letter (a single class: regex's fast scan); with no mojibake
# run either, text needs no closer look.
_SUSPECT_RE = re.compile(f"[{_BROKEN_CLASS}\u0080-\u00ff]")
_SYMBOL_RE = re.compile(r"[^\w\s]")
# Whole tokens of 25+ characters with no URL/path/identifier punctuation in them.
_LONG_TOKEN_RE = re.compile(r"(?<!\S)[^\s/\\.:_=\-]{25,}(?!\S)")


def _redecodes(run: str) -> bool:
    for codec in ("cp1252", "latin-1"):
        try:
            run.encode(codec).decode("utf-8")
            return True
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return False


def markdown_blocks(source: str) -> list[Block]:
    """Blocks of Markdown or plain text: ``#`` headings, fenced/indented code, pipe tables,
    lists, ``$$`` formulas, paragraphs. A form feed starts a new page (plain text exports)."""
    from markdown_it import (
        MarkdownIt,  # rich's dependency; imported here to keep import light
    )

    lines = source.split("\n")
    page_of = _page_numbers(lines)
    tokens = MarkdownIt("commonmark").enable("table").parse(source.replace("\f", "\n"))
    blocks: list[Block] = []
    depth = 0  # inside a list or table, inner tokens belong to that block
    for i, tok in enumerate(tokens):
        if tok.type in ("bullet_list_open", "ordered_list_open", "table_open"):
            if depth == 0 and tok.map:
                raw = "\n".join(lines[tok.map[0]:tok.map[1]]).strip()
                kind = "table" if tok.type == "table_open" else "list"
                blocks.append(Block(kind=kind, text=raw, page=page_of[tok.map[0]]))
            depth += 1
        elif tok.type in ("bullet_list_close", "ordered_list_close", "table_close"):
            depth -= 1
        elif depth:
            continue
        elif tok.type in ("fence", "code_block") and tok.content.strip():
            page = page_of[tok.map[0]] if tok.map else 1
            blocks.append(Block(kind="code", text=tok.content.rstrip("\n"), page=page))
        elif tok.type == "inline" and tok.map and tok.content.strip():
            blocks.append(_inline_block(tok.content, tokens[i - 1].tag, page_of[tok.map[0]]))
    return blocks


def _page_numbers(lines: list[str]) -> list[int]:
    pages, page = [], 1
    for line in lines:
        pages.append(page)
        page += line.count("\f")
    return pages


def _inline_block(content: str, tag: str, page: int) -> Block:
    if tag.startswith("h") and tag[1:].isdigit():
        return Block(kind="heading", text=join_lines([content]), page=page, level=int(tag[1:]))
    text = join_lines(content.split("\n"))
    if text.startswith("$$") and text.endswith("$$") and len(text) > 4:
        return Block(kind="formula", text=text, page=page)
    return Block(kind="paragraph", text=text, page=page)
