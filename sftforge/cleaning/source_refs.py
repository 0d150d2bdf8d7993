"""Phrases that point at "the passage": the one list shared by the question filter (clean stage)
and the CoT/answer hygiene (``sftforge.grounding.cot``).

A fine-tuned model's user never sees the chunk a sample was generated from, so a question,
answer or reasoning chain that leans on "the passage" / "原文" teaches the model to cite a text
that is not there.

Bare nouns are ambiguous in technical prose ("the text field", "the document object", "in the
context of CSRF", "材料科学"), so a noun counts only in a referring frame: after "according to /
in / from", before a reporting verb ("the author notes"), or with "given / provided / above".
``passage`` and ``excerpt`` are references after "the/this" on their own.
"""

from __future__ import annotations

import re

# English nouns for the source text; "context" and "source" only with given/provided/above.
# "the text field / box / area / file / node" are UI and DOM things, not the source.
_EN_NOUN = (r"(?:passage|text(?![\s-]*(?:fields?|box(?:es)?|areas?|inputs?|nodes?|files?|strings?|"
            r"editors?|messages?|elements?|encodings?|formats?|labels?|values?|content|mode)\b)"
            r"|document(?!\s*(?:object|\.|\(|'s\s+(?:body|head|cookie)))"
            r"|excerpt|article|paragraph|section(?!\s+of\s+(?:the\s+)?code)|author|material|snippet)")
_EN_ADJ = r"(?:given|provided|above|following|original|source|supplied)"
_EN_NP = rf"(?:the|this|that)\s+(?:{_EN_ADJ}\s+)?{_EN_NOUN}" \
         rf"|(?:the|this)\s+{_EN_ADJ}\s+(?:context|source|information)"
EN_SOURCE_PREP = (r"(?:according\s+to|in|from|based\s+on|per|within|"
            r"(?:as\s+)?(?:described|mentioned|discussed|stated|noted|explained|shown|outlined|"
            r"defined|given|presented|suggested|listed)\s+(?:in|by))")
# What a referring sentence makes the source do ("The passage states that ...").
EN_REPORTING_VERB = (
    r"(?:states?|says?|mentions?|explains?|notes?|describes?|indicates?|suggests?|claims?|"
    r"argues?|emphasi[sz]es?|points?\s+out|lists?|gives?|provides?|shows?|defines?|"
    r"recommends?|warns?|highlights?|discusses|discuss|clarifies|clarify|specifies|specify|"
    r"makes?\s+(?:it\s+)?clear|tells?\s+us|focuses|focus|outlines?|contains?|reads?|"
    r"does\s+not|doesn't|only)"
)
EN_SOURCE_NP = _EN_NP
EN_REFERENCE = (
    rf"\b{EN_SOURCE_PREP}\s+(?:{_EN_NP})\b"
    rf"|\b(?:{_EN_NP})\s+(?:(?:also|clearly|explicitly|further|then|itself)\s+)?"
    rf"{EN_REPORTING_VERB}\b"
    r"|\b(?:the|this)\s+(?:passage|excerpt)\b"
    rf"|\b(?:the|this)\s+{_EN_ADJ}\s+(?:text|context|document|passage|material)\b"
)
# Chinese: words that only ever mean "the text at hand", then nouns that need a frame.
# Look-arounds keep compounds out: 上下文 (context), 英文中/明文中 (in English / in plaintext),
# 脚本文件/版本文档 (script file / version document), 原文件 (original file), 这段代码.
ZH_SOURCE_WORD = (r"(?:原文(?![件档])|(?<![中英日韩汉外明密译语散全报公论])(?<!上下)文中|"
                  r"(?<![脚版样文剧课范副成基账日根资])本文(?![件档本字化])|上文|(?<!上)下文|"
                  r"(?:该|这|此)段(?:文字|话|材料|内容)|本段|该段落|"
                  r"(?:给定|所给|提供)的?(?:文本|材料|段落|文章|资料)|材料中|资料中|段落中|文章中)")
ZH_REPORTING_VERB = (r"(?:提到|指出|说明|写道|描述|提及|强调|表明|显示|介绍|认为|说|讲|给出|列出|"
                     r"举例|阐述|总结|解释|建议|所述|所说|所言|所示|可知|来看)")
ZH_REFERENCE = (rf"(?:根据|按照|依据|基于|从|如|正如)?{ZH_SOURCE_WORD}"
                rf"|(?:根据|按照|依据|基于|正如)(?:材料|资料|段落|文章|文本)"
                rf"|(?:材料|资料|段落|文章|文本|作者){ZH_REPORTING_VERB}")

# A claim of absence with no one to be absent from ("No other defenses are mentioned.",
# "未提及具体数值"): only a text fails to mention things. "is not specified" stays out: "If
# the port is not specified, 443 is used." is about configuration.
EN_ABSENCE = (r"\b(?:(?:is|are|was|were)\s+not|isn't|aren't|wasn't|weren't)\s+"
              r"(?:explicitly\s+|specifically\s+)?(?:mentioned|discussed|stated)\b"
              r"|\bno\s+(?:other\s+)?[\w\s-]{0,40}?\b(?:is|are|was|were)\s+mentioned\b")
ZH_ABSENCE = r"(?:未|没有|并未|并没有)(?:明确|具体)?(?:提及|提到)"
SOURCE_REFERENCE_RE = re.compile(f"{EN_REFERENCE}|{ZH_REFERENCE}|{EN_ABSENCE}|{ZH_ABSENCE}",
                                 re.IGNORECASE)

# Pointers at the source's layout: a table or figure "below", "Table 3", "如下表所示", "见图 2".
# Look-arounds keep 以下表明 (the following shows), 线上表单 (online form) and 表格 out.
EN_LAYOUT = (r"\b(?:the|this)\s+(?:table|figure|diagram|chart|screenshot)\s+(?:below|above)\b"
             r"|\b(?:shown|listed|illustrated|depicted)\s+in\s+(?:the\s+)?"
             r"(?:table|figure|diagram|chart)\b"
             r"|\b(?:table|figure|fig\.)\s+\d+(?:\.\d+)?\b")
ZH_LAYOUT = (r"(?:如|见)(?:下|上)(?:表|图)|(?<![以如见])下表(?![明达单格])"
             r"|(?<![线以如见])上表(?![明达单格])|如图\s*\d*\s*所示|见图\s*\d"
             r"|(?:表|图)\s*\d+(?:[-.．]\d+)?\s*(?:所示|中|列出)")
LAYOUT_REFERENCE_RE = re.compile(f"{EN_LAYOUT}|{ZH_LAYOUT}", re.IGNORECASE)
# An answer that carries its own table may well say "the table below".
_OWN_TABLE_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*\|", re.MULTILINE)

# Pointers at a code listing of the source: "What does this code snippet do?", "这段代码有什么
# 漏洞？". Code is a source part the reader lacks like a table, unless the text quotes it. Bare
# "the code" / "the function" stay out: "How should the code handle errors?" asks about code
# in general, and "This function escapes HTML." names what the sentence before introduced.
# Questions only: in an answer, "this code" may well be the code its question quotes.
# "source code" and "URL fragment" / "directory listing" are subjects, not pointers: the nouns
# take "code" before them (or "snippet" alone) and the adjectives are deictic ones only.
_EN_CODE_NOUN = (r"snippets?|code\s+(?:snippets?|listings?|fragments?|examples?|samples?|blocks?)"
                 r"|(?:example|sample)\s+code")
_EN_CODE_ADJ = r"(?:given|provided|above|following|preceding|supplied|shown)"
EN_CODE_POINTER = (
    rf"\b(?:the|this|that|these|those)\s+(?:{_EN_CODE_ADJ}\s+)?(?:{_EN_CODE_NOUN})\b"
    rf"|\b(?:this|that|these|those)\s+(?:{_EN_CODE_ADJ}\s+)?code\b"
    rf"|\bthe\s+{_EN_CODE_ADJ}\s+code\b"
    r"|\bthe\s+code\s+(?:above|below|shown)\b"
)
ZH_CODE_POINTER = (r"(?:这个|这段|这些|该|此|上述|上面的?|下面的?|以下|如下|给定的?|所给的?)"
                   r"(?:示例)?代码(?![库仓])")
CODE_POINTER_RE = re.compile(f"{EN_CODE_POINTER}|{ZH_CODE_POINTER}", re.IGNORECASE)
# A text that quotes its code (a fenced block, an inline code span, an indented code line).
_OWN_CODE_RE = re.compile(r"```|`[^`\n]{2,}`|^(?: {4}|\t)\S", re.MULTILINE)


def refers_to_source(text: str) -> bool:
    """True when ``text`` points at a source text (or a table or figure of it) its reader will
    not have."""
    if SOURCE_REFERENCE_RE.search(text):
        return True
    return bool(LAYOUT_REFERENCE_RE.search(text)) and not _OWN_TABLE_RE.search(text)


def points_at_code(question: str) -> bool:
    """True when ``question`` asks about a code listing ("this snippet", 这段代码) it does not
    quote (a fenced block, an inline code span or an indented code line)."""
    return bool(CODE_POINTER_RE.search(question)) and not _OWN_CODE_RE.search(question)
