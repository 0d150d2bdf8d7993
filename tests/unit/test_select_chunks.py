"""Chunk selection rules on literal chunks, English and Chinese: kinds, reasons, substance,
force rules and settings validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sftforge.chunk_kinds.headings import normalise_title, title_kind
from sftforge.chunk_kinds.signals import substance
from tasks.select_chunks import (
    ChunkContext,
    ChunkSelectionSettings,
    classify_chunk,
    decide,
    document_contexts,
    paragraph_key,
    repeated_paragraphs,
)

FRONT = ChunkContext(front=True, back=False)
MIDDLE = ChunkContext(front=False, back=False)
BACK = ChunkContext(front=False, back=True)
BODY_EN = ("Parameterized queries keep user input out of the SQL grammar, so a quote in a name "
           "can never end the string literal. The statement is compiled first and the values "
           "are bound afterwards by the driver, which is why this defence works.")


def chunk(text: str, **extra) -> dict:
    return {"chunk_id": "0" * 16, "source": "book.pdf", "idx": 0, "text": text,
            "page_start": 1, "page_end": 1, **extra}


@pytest.mark.parametrize("title, kind", [
    ("Table of Contents", "toc"), ("目 录", "toc"), ("Copyright and License", "licence"),
    ("版权声明", "licence"), ("Acknowledgments", "acknowledgements"), ("鸣谢", "acknowledgements"),
    ("References", "references"), ("参考文献", "references"), ("Index", "index"),
    ("About the Authors", "author_notes"), ("作者简介", "author_notes"),
    ("FW - Foreword", "front_matter"), ("第一章 前 言", "front_matter"),
    ("1 Introduction", "body"), ("引言", "body"),
    ("License compliance risks", None), ("Indexing strategies", None), ("参考架构", None),
])
def test_titles_name_kinds_only_as_a_whole(title: str, kind: str | None) -> None:
    assert title_kind(title) == kind


def test_normalise_title_drops_numbering() -> None:
    assert normalise_title("Chapter 3. Preface") == "preface"
    assert normalise_title("第十二章 致 谢") == "致谢"


def test_dot_leaders_make_a_toc_without_a_heading() -> None:
    text = "\n".join(f"{t} ........ {p}" for t, p in
                     (("Injection", 3), ("Cross-Site Scripting", 9), ("Sessions", 14)))
    kind, _, reason = classify_chunk(chunk(text), MIDDLE)
    assert kind == "toc" and reason.startswith("toc: 3 of 3 lines end in dot leaders")


def test_citation_lines_make_references_in_both_languages() -> None:
    en = ("- [1] Halfond, W. G., et al. (2006). A classification of SQL injection attacks.\n"
          "- [2] Barth, A. (2008). Robust defenses for CSRF. In Proc. ACM CCS, pp. 75-88.\n"
          "- [3] Stock, B. (2017). How the web tangled itself. doi:10.1000/xyz")
    zh = ("[1] 张三. Web应用安全原理[M]. 北京: 示例出版社, 2019.\n"
          "[2] 王五. SQL注入攻击的分类[J]. 计算机安全, 2018, 12(3): 45-52.\n"
          "[3] 赵六. 跨站脚本检测方法研究[D]. 上海: 示例大学, 2020.")
    for text in (en, zh):
        kind, _, reason = classify_chunk(chunk(text), MIDDLE)
        assert (kind, reason.split(" (")[0]) == (
            "references", "references: 3 of 3 lines look like citations")


def test_index_lines_count_only_at_the_back() -> None:
    text = "\n".join(f"- {t}, {p}, {p + 4}" for p, t in enumerate(
        ["access control", "cookies", "encoding", "injection", "sessions", "tokens"], 3))
    assert classify_chunk(chunk(text), BACK)[0] == "index"
    assert classify_chunk(chunk(text), MIDDLE)[0] == "body"


def test_licence_wording_counts_at_the_ends_not_in_a_body_chapter() -> None:
    en = ("Copyright © 2024 Example Press. All rights reserved. Licensed under the Creative "
          "Commons Attribution 4.0 licence.")
    zh = "本书版权所有，保留所有权利。未经出版社书面许可，不得复制本书的任何部分。"
    for text in (en, zh):
        assert classify_chunk(chunk(text), FRONT)[0] == "licence"
        assert classify_chunk(chunk(text), MIDDLE)[0] == "body"


def test_thanks_must_open_the_paragraphs_that_make_most_of_the_text() -> None:
    thanks = "We would like to thank the reviewers for their many corrections and patience."
    assert classify_chunk(chunk(thanks), BACK)[0] == "acknowledgements"
    assert classify_chunk(chunk("感谢审稿人逐章审读本书并提出大量修改意见。"), FRONT)[0] == "acknowledgements"
    # a body paragraph that points at the acknowledgements page is not one
    cite = ("许多组织一直在提供普遍性的数据给我们（请参考第3页致谢中的内容）。我们取了这些数据的平均数，"
            "得到了根据普遍性排序的十种最可能存在的漏洞，再结合可检测性和可利用性计算可能性等级。")
    assert classify_chunk(chunk(cite), BACK)[0] == "body"


def test_biographies_at_the_back() -> None:
    text = ("Jane Doe is an associate professor of computer science. She received her Ph.D. "
            "from Example University; her research interests include web security.")
    assert classify_chunk(chunk(text), BACK)[0] == "author_notes"
    assert classify_chunk(chunk(text), MIDDLE)[0] == "body"


def test_title_carried_from_an_earlier_chunk_and_body_title_stops_it() -> None:
    ctx = ChunkContext(front=True, back=False, headings=((1, "Front matter"), (2, "Foreword")))
    assert classify_chunk(chunk(BODY_EN), ctx)[0] == "front_matter"
    ctx = ChunkContext(front=True, back=False, headings=((2, "Foreword"), (3, "Introduction")))
    assert classify_chunk(chunk(BODY_EN), ctx)[0] == "body"


def test_majority_of_tokens_and_enough_body_decide_a_mixed_chunk() -> None:
    refs = "## References\n- OWASP Cheat Sheet: SQL Injection Prevention\n- CWE-89"
    text = BODY_EN + "\n\n" + BODY_EN + "\n\n" + refs
    assert classify_chunk(chunk(text), MIDDLE)[0] == "body"
    kind, _, reason = classify_chunk(chunk("Use binding.\n\n" + refs), MIDDLE)
    assert kind == "references" and reason.startswith('references: heading "References"')


def test_boilerplate_paragraphs_repeated_across_documents() -> None:
    notice = "This article is distributed by Example Publishing under its standard terms of access."
    own = [f"Paragraph number {w} of document a, written only once in the whole corpus."
           for w in ("one", "two", "three")]
    texts = {"a": [BODY_EN + "\n\n" + notice, *own],
             "b": ["Other body text about sessions and cookies that differs.\n\n" + notice],
             "c": [BODY_EN, "Cookies carry session identifiers and need the Secure flag."]}
    shared = repeated_paragraphs(texts, min_docs=2)
    assert shared["a"] == {paragraph_key(notice), paragraph_key(BODY_EN)}
    assert shared["b"] == {paragraph_key(notice)} and shared["c"] == {paragraph_key(BODY_EN)}
    ctx = ChunkContext(front=False, back=False, boilerplate=shared["b"])
    kind, _, reason = classify_chunk(chunk(notice), ctx)
    assert (kind, reason) == ("boilerplate",
                              "boilerplate: paragraph repeated in other documents (100% of the text)")


def test_a_copy_of_a_document_is_not_boilerplate() -> None:
    shared = repeated_paragraphs({"a": [BODY_EN], "b": [BODY_EN]}, min_docs=2)
    assert shared == {"a": frozenset(), "b": frozenset()}


def test_substance_scores_prose_above_link_and_number_lists() -> None:
    assert substance(BODY_EN) > 0.9
    links = "- https://owasp.org/a\n- https://owasp.org/b\n- CWE-89, CWE-79, CWE-352"
    assert substance(links) == 0.0
    assert substance("跨站脚本是指攻击者的数据被放进页面，浏览器把它当作脚本执行。按上下文进行输出编码是主要的防御方法。") > 0.9


def test_position_by_page_or_by_chunk_order() -> None:
    chunks = [chunk("x", idx=i, page_start=p, page_end=p) for i, p in enumerate([1, 2, 5, 9, 10])]
    ctxs = document_contexts(chunks, 10, ChunkSelectionSettings())
    assert [(c.front, c.back) for c in ctxs] == [(True, False), (True, False), (False, False),
                                                 (False, True), (False, True)]
    one_page = [chunk("x", idx=i) for i in range(10)]
    ctxs = document_contexts(one_page, 1, ChunkSelectionSettings())
    assert [i for i, c in enumerate(ctxs) if c.front] == [0, 1]
    assert [i for i, c in enumerate(ctxs) if c.back] == [8, 9]


def test_decide_keep_kinds_force_rules_and_substance() -> None:
    c = chunk("text", chunk_id="ab" * 8, page_start=3, page_end=4)
    plain = ChunkSelectionSettings()
    assert decide(c, "licence", 0.9, "licence: x", plain) == (False, "licence: x")
    keep = ChunkSelectionSettings(keep_kinds=["licence"])
    assert decide(c, "licence", 0.9, "licence: x", keep) == (True, "kept_kind: licence: x")
    assert decide(c, "body", 0.1, "body", plain) == (False, "low_substance: 0.10 < 0.30 (body)")
    rules = ChunkSelectionSettings(force_out=["book.pdf:1-3"], force_in=["ab" * 8])
    assert decide(c, "body", 0.9, "body", rules) == (True, f"forced_in: {'ab' * 8} (body)")
    out = ChunkSelectionSettings(force_out=["other.pdf:3", "book.pdf:4"])
    assert decide(c, "body", 0.9, "body", out) == (False, "forced_out: book.pdf:4 (body)")


def test_bad_force_rule_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="'book.pdf' is neither a chunk id"):
        ChunkSelectionSettings(force_out=["book.pdf"])


def test_llm_check_job_and_verdict() -> None:
    from sftforge.chunk_kinds.llm_check import apply_verdict, check_job, needs_check

    assert needs_check("body", 0.35, "body", 0.3) and not needs_check("body", 0.9, "body", 0.3)
    assert needs_check("acknowledgements", 0.9, "acknowledgements: thanks/funding wording: x", 0.3)
    assert not needs_check("toc", 0.1, 'toc: heading "Contents"', 0.3)
    c = chunk("We would like to thank the reviewers.", heading_path="Book > Notes")
    job = check_job(c, "acknowledgements: thanks/funding wording")
    assert job.item_id == c["chunk_id"] and "We would like to thank" in job.messages[1]["content"]
    assert job.schema.model_validate({"kind": "acknowledgements", "substantive": False})
    row = {"chunk_id": c["chunk_id"], "kind": "acknowledgements", "selected": False,
           "reason": "acknowledgements: thanks"}
    assert apply_verdict(row, {"kind": "body", "substantive": True}, []) == {
        **row, "kind": "body", "selected": True,
        "reason": "body: LLM check (rules said: acknowledgements: thanks)"}
