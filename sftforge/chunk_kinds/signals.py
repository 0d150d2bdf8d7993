"""Text signals of front and back matter, and a substance score, for one piece of chunk text.

Each detector takes the lines of one section of a chunk and returns a short reason when the
text reads as that kind, else None. Wording detectors (licence, thanks, biographies) only count
near the start or the end of a document (the caller passes ``ends``): a security chapter on
licence compliance uses the same words in its middle.
"""

from __future__ import annotations

import re

from sftforge.text import estimate_tokens, split_sentences

_LEADER = re.compile(r"(?:\.{3,}|…{2,}|·{3,}|(?:\. ){3,}|_{4,}|-{4,}).{0,3}\s*[\divxlc]{1,4}\s*$",
                     re.I)
_INDEX_LINE = re.compile(
    r"^[^\d|#].{0,60}?[,，\s]\s*\d{1,4}(?:[-–]\d{1,4})?(?:\s*[,，]\s*\d{1,4}(?:[-–]\d{1,4})?)*\s*$")
_CITATION = re.compile(
    r"^\s*(?:[-*]\s*)?\[\d{1,3}\]"                          # [12] numbered references
    r"|\bet al\.|\bdoi[:.]|doi\.org|\barxiv\b|\bin proc(?:eedings|\.)"
    r"|\bpp\.\s*\d|\bvol\.\s*\d|\bjournal of\b"
    r"|\[(?:J|M|C|D|R|S|N|P|Z|EB/OL|OL)\]"                 # GB/T 7714 document types
    r"|\((?:19|20)\d{2}[a-z]?\)[.,]"                        # (2019). author-year
    r"|^\s*(?:[-*]\s*)?[A-Z][A-Za-z'-]+,\s+(?:[A-Z]\.\s*)+",  # Surname, I. J.
    re.I)
_LICENCE = [re.compile(p, re.I) for p in (
    r"all rights reserved", r"creative commons", r"\bcc[ -]by\b", r"licen[cs]ed under",
    r"permission is (?:hereby )?granted", r"may (?:not )?be reproduced", r"no part of this",
    r"\bisbn\b", r"copyright\s*(?:©|\(c\))", r"©", r"you are free to", r"share ?alike",
    r"without (?:any )?warrant", r"trademarks? of", r"版权所有", r"保留所有权利", r"知识共享",
    r"许可协议", r"未经.{0,12}许可", r"不得.{0,8}(?:复制|转载)", r"书号", r"出版社")]
_THANKS = [re.compile(p, re.I) for p in (
    r"\bwe(?: would|'d|’d)? (?:like to |wish to |want to )?thank", r"\bthanks? (?:go(?:es)? )?to\b",
    r"\bgrateful (?:to|for)\b", r"\bspecial thanks\b",
    r"\bwe (?:gratefully )?acknowledge (?:the )?(?:support|funding|financial|help|assistance|contribut)",
    r"\bsay thanks\b", r"\b(?:was|is|were) (?:partially |partly )?(?:supported|funded) by\b",
    r"\bgrant (?:no\.?|number)\s*\w", r"感谢", r"谢谢", r"^致谢", r"(?:向|对).{0,40}致谢", r"资助", r"基金项目")]
_BIO = [re.compile(p, re.I) for p in (
    r"\bis (?:an? |the )?(?:associate |assistant |full )?professor\b",
    r"\breceived (?:his|her|their|a|the) (?:ph\.?d|doctorate|master|bachelor|b\.?s|m\.?s)",
    r"\bresearch interests\b", r"\bis currently (?:an? |the )", r"\blives (?:in|with)\b",
    r"\bholds an? (?:ph\.?d|master|degree)", r"作者简介", r"博士学位", r"研究方向", r"现任",
    r"毕业于", r"主要研究")]
_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w.-]+@[\w-]+\.[\w.]+")
_TOKEN = re.compile(r"https?://\S+|www\.\S+|[\u3400-\u9fff]|[A-Za-z][A-Za-z'’-]*|\d+(?:[.,:]\d+)*")


def toc_signal(lines: list[str]) -> str | None:
    """Dot leaders followed by page numbers on most lines."""
    hits = sum(bool(_LEADER.search(ln)) for ln in lines)
    if hits >= 3 and hits >= 0.4 * len(lines):
        return f"{hits} of {len(lines)} lines end in dot leaders and a page number"
    return None


def index_signal(lines: list[str], ends: bool) -> str | None:
    """Terms followed by page numbers, near the end of a document."""
    hits = sum(bool(_INDEX_LINE.match(ln)) for ln in lines)
    if ends and hits >= 5 and hits >= 0.6 * len(lines):
        return f"{hits} of {len(lines)} lines are terms followed by page numbers"
    return None


def references_signal(lines: list[str]) -> str | None:
    """Most lines look like bibliography entries."""
    hits = sum(bool(_CITATION.search(ln)) for ln in lines)
    if hits >= 3 and hits >= 0.5 * len(lines):
        return f"{hits} of {len(lines)} lines look like citations"
    return None


def _wording(patterns: list[re.Pattern[str]], text: str) -> list[str]:
    return [m.group(0) for p in patterns if (m := p.search(text))]


def licence_signal(text: str, ends: bool) -> str | None:
    """Copyright and licence wording (two different phrases) near an end of the document."""
    found = _wording(_LICENCE, text)
    if ends and len(found) >= 2:
        return "licence wording: " + ", ".join(f'"{f}"' for f in found[:3])
    return None


def thanks_signal(paragraphs: list[str], ends: bool) -> str | None:
    """Paragraphs that open with thanks or funding wording make up most of the text, near an
    end of the document (a body sentence citing "see the acknowledgements" does not count)."""
    if not ends:
        return None
    found, thanked, total = [], 0, 0
    for para in paragraphs:
        size = estimate_tokens(para)
        total += size
        opening = (split_sentences(para) or [para])[0]
        hits = _wording(_THANKS, opening)
        if hits:
            found += hits
            thanked += size
    if found and thanked >= 0.5 * total:
        return "thanks/funding wording: " + ", ".join(f'"{f}"' for f in found[:3])
    return None


def bio_signal(text: str, ends: bool) -> str | None:
    """Biography wording (two different phrases) near an end of the document."""
    found = _wording(_BIO, text)
    if ends and len(found) >= 2:
        return "biography wording: " + ", ".join(f'"{f}"' for f in found[:3])
    return None


def substance(text: str) -> float:
    """Share of the text's tokens that carry content, 0..1.

    Content tokens are lower-case words and Han characters (what sentences are made of);
    URLs (weighted 5, one URL replaces a sentence), numbers and capitalised words (names,
    titles) are not. Very short texts are scaled down: 30 content tokens count fully.
    """
    tokens = _TOKEN.findall(text)
    if not tokens:
        return 0.0
    content = noise = 0.0
    for tok in tokens:
        if _URL.match(tok):
            noise += 5
        elif tok[0].isdigit():
            noise += 1
        elif "\u3400" <= tok[0] <= "\u9fff" or tok.islower():
            content += 1
        else:
            noise += 0.5  # a capital starts sentences too: half weight
    share = content / (content + noise)
    return round(share * min(1.0, content / 30), 3)
