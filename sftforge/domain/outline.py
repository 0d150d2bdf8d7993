"""What a document says about itself: its main topic and its top-level sections.

Input: a ``documents`` row's ``title`` and ``toc`` ([level, heading, page] ...) and the
``heading_path`` of its ``chunks`` ("Title > Section > Sub"). Output: an outline
``{topic, description, sections: [{label, description}]}`` from which the domain tree gets one
topic node per document and one node per main section, with no model involved; the model only
names the topic and gives it a parent area (see ``sftforge.domain.skeleton``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

# Headings that name a part of any document, not a topic: their chunks are tagged by similarity.
_GENERIC_WORDS = frozenset("""
abstract introduction overview background summary conclusion conclusions references
bibliography appendix acknowledgements acknowledgments preface contents index glossary notes
foreword about further reading related work discussion future work table of contents
摘要 引言 前言 概述 简介 背景 小结 总结 结论 参考文献 附录 致谢 目录 索引 术语表 后记 序言
""".split())


def norm(label: str) -> str:
    """Casefolded NFKC label with single spaces (how headings and node labels are compared)."""
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def is_generic(heading: str) -> bool:
    """Whether ``heading`` only names a part of a document ("Introduction", "1. 概述")."""
    words = re.sub(r"^[\d.\s第章节一二三四五六七八九十、]+", "", norm(heading)).split()
    return not words or all(w in _GENERIC_WORDS for w in words)


def _headings(toc: list[list[Any]], paths: list[str]) -> list[tuple[int, str]]:
    """(level, heading) in document order: the outline, else the chunks' heading paths."""
    if toc:
        return [(int(t[0]), " ".join(str(t[1]).split())) for t in toc if str(t[1]).strip()]
    seen: dict[tuple[int, str], None] = {}
    for path in paths:
        for depth, part in enumerate(p.strip() for p in path.split(" > ")):
            if part:
                seen.setdefault((depth + 1, part), None)
    return list(seen)


def _section_level(heads: list[tuple[int, str]]) -> tuple[str, int]:
    """(title heading or "", level of the main sections): one top heading is the title."""
    if not heads:
        return "", 0
    top = min(level for level, _ in heads)
    tops = [h for level, h in heads if level == top]
    if len(tops) > 1:
        return "", top
    below = sorted({level for level, _ in heads if level > top})
    return tops[0], (below[0] if below else 0)


def _chunk_counts(paths: list[str]) -> Counter[str]:
    """Normalised heading -> chunks whose heading path passes through it."""
    counts: Counter[str] = Counter()
    for path in paths:
        counts.update({norm(p) for p in path.split(" > ") if p.strip()})
    return counts


def doc_outline(title: str, toc: list[list[Any]], paths: list[str], fallback: str,
                max_sections: int = 8) -> dict[str, Any]:
    """The outline of one document (see the module docstring).

    The topic is the document's title (else its single top heading, else ``fallback``, the file
    name). Sections are the headings one level below the title (or the top headings when there
    is no single title), generic ones ("Introduction") left out; past ``max_sections`` those
    with the most chunks stay. Fewer than two sections: none (the topic is the leaf).
    """
    heads = _headings(toc, paths)
    top, level = _section_level(heads)
    topic = " ".join((title or top or fallback).split())
    sections: dict[str, dict[str, Any]] = {}
    current = None
    for lv, heading in heads:
        if lv == level and not is_generic(heading) and norm(heading) != norm(topic):
            current = sections.setdefault(norm(heading), {"label": heading, "subs": []})
        elif lv == level:
            current = None
        elif lv > level and current is not None and len(current["subs"]) < 6:
            current["subs"].append(heading)
    counts = _chunk_counts(paths)
    keep = sorted(sections, key=lambda k: -counts[k])[:max_sections]
    out = [{"label": s["label"], "description": "; ".join(s["subs"])[:200]}
           for k, s in sections.items() if k in keep]
    described = "; ".join(s["label"] for s in out) or "; ".join(h for _, h in heads[1:6])
    return {"topic": topic, "description": described[:200], "sections": out if len(out) > 1 else []}


_WORD = re.compile(r"[a-z0-9][a-z0-9+#.\-]*[a-z0-9+#]|[a-z0-9]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_STOP = frozenset("a an and the of in on for to with by from at as or its their is are how "
                  "what why attack attacks defense defence security".split())


def content_tokens(text: str) -> set[str]:
    """Content words (Latin, casefolded, stop words out) and CJK character bigrams of ``text``."""
    low = norm(text)
    words = {w for w in _WORD.findall(low) if w not in _STOP}
    grams = {run[i:i + 2] for run in _CJK.findall(low) for i in range(max(1, len(run) - 1))}
    return words | grams


def grounded(label: str, title: str, material: str) -> bool:
    """Whether a model's name for a document's topic is the document's own: every content token
    of ``label`` occurs in the document's ``material`` (title, headings, openings) and one in its
    ``title``, or the label is an acronym found in the material ("XSS", "CSRF")."""
    tokens = content_tokens(label)
    if not tokens or not tokens <= content_tokens(material):
        return False
    acronym = label.strip().isupper() and len(label.strip()) <= 6
    return acronym or bool(tokens & content_tokens(title))
