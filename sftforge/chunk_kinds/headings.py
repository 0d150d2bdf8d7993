"""Section titles that name front and back matter, in English and Chinese.

A title is normalised (numbering such as "1.2", "Chapter 3", "第一章", "A -" removed, case and
spaces folded) and then matched as a whole, so "License" is licence but "License compliance
risks" is not. Titles such as "Introduction" or "概述" are named body on purpose: they stop a
parent title ("Front matter > Introduction") from lending its kind to the section.
"""

from __future__ import annotations

import re

# kind -> whole-title patterns (after normalisation). "region" says where in the document a
# title only counts: a "License" chapter in the middle of a book about licences is body.
_TITLES: dict[str, tuple[str, ...]] = {
    "toc": (r"(brief |detailed )?contents", r"table of contents", r"toc", r"目录", r"目次",
            r"内容目录"),
    "licence": (r"copyright( notice| page)?", r"copyright (and|&) licen[cs]e", r"licen[cs]e",
                r"licen[cs]ing", r"legal notices?", r"terms of use", r"disclaimer",
                r"permissions", r"版权", r"版权(声明|页|信息)", r"版权(和|与|及)许可",
                r"许可(协议|声明)?", r"免责声明"),
    "acknowledgements": (r"acknowledge?ments?", r"special thanks", r"thanks", r"credits",
                         r"contributors", r"funding( information| sources)?",
                         r"致谢", r"鸣谢", r"谢辞", r"感谢", r"基金项目", r"贡献者"),
    "references": (r"(references|bibliography|works cited|literature cited|citations)\b.*",
                   r"further reading", r"notes and references", r"sources",
                   r"(参考文献|参考资料|引用文献|延伸阅读).*"),
    "index": (r"(subject |author |general )?index", r"索引"),
    "author_notes": (r"about the authors?", r"authors?'? biograph(y|ies)", r"biograph(y|ies)",
                     r"about the (translator|editor)s?", r"作者简介", r"关于作者", r"作者介绍",
                     r"译者简介", r"编者简介"),
    "front_matter": (r"foreword", r"preface", r"dedication", r"epigraph",
                     r"about (this|the) (book|document|guide|report|edition|translation|series)",
                     r"how to use this (book|guide)", r"(publisher|editor|translator)'?s'? note",
                     r"about [a-z0-9&-]+", r"前言", r"序", r"序言", r"自序", r"译者序", r"出版说明",
                     r"编者按", r"再版说明", r"关于(本书|本文|本文档|本报告|本指南|本版)",
                     r"关于\s*[a-z0-9&-]+"),
    "body": (r"introduction", r"overview", r"summary", r"conclusions?", r"abstract",
             r"引言", r"简介", r"概述", r"绪论", r"导论", r"总结", r"结论", r"摘要"),
}
_COMPILED = {k: re.compile("|".join(f"(?:{p})" for p in ps)) for k, ps in _TITLES.items()}

# Where a title counts: front, back, either end, or anywhere.
REGION = {"toc": "anywhere", "licence": "ends", "acknowledgements": "anywhere",
          "references": "anywhere", "index": "back", "author_notes": "ends",
          "front_matter": "front", "body": "anywhere"}

_NUMBERING = re.compile(
    r"^(?:(?:chapter|part|appendix|section|annex)\s+[\divxlc]+\b[.:\s-]*"
    r"|第[一二三四五六七八九十百零\d]+[章节篇部分卷][、.．:：\s]*"
    r"|[一二三四五六七八九十]+[、.．]\s*"
    r"|[\d]+(?:\.[\d]+)*\.?\s+"
    r"|[ivxlc]+\.\s+"
    r"|[A-Z+]{1,4}\s*[-–—:]\s+)", re.I)
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def normalise_title(title: str) -> str:
    """A heading as matched: numbering and trailing punctuation removed, spaces folded,
    lower case ("第一章 前 言" -> "前言", "FW - Foreword" -> "foreword")."""
    text = title.strip().lstrip("#").strip().replace("’", "'")
    for _ in range(2):  # "Appendix A. 1.2 Index"
        text = _NUMBERING.sub("", text, count=1).strip()
    text = _CJK_GAP.sub("", text)
    text = re.sub(r"\s+", " ", text).strip(" .:：;；-–—+*")
    return text.lower()


def title_kind(title: str) -> str | None:
    """Kind a section title names ("references", "body", ...), or None if it names none."""
    norm = normalise_title(title)
    if not norm:
        return None
    for kind, pattern in _COMPILED.items():
        if pattern.fullmatch(norm):
            return kind
    return None


def region_allows(kind: str, front: bool, back: bool) -> bool:
    """True when a title of ``kind`` counts at this position in the document."""
    where = REGION.get(kind, "anywhere")
    return (where == "anywhere" or (where == "front" and front) or (where == "back" and back)
            or (where == "ends" and (front or back)))
