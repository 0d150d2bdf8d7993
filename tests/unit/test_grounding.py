"""Citations located with tolerance, grounding score on realistic answers (demo corpus)."""

from __future__ import annotations

import pytest

from sftforge.grounding.citations import verified_citation_share, verify_citations
from sftforge.grounding.score import MIN_GROUNDING, grounding_detail, grounding_score
from tests.unit.grounding_cases import (
    INVENTED_EN,
    INVENTED_ZH,
    MIXED_EN,
    MIXED_ZH,
    PARAPHRASED_EN,
    PARAPHRASED_ZH,
    SUPPORTED_EN,
    SUPPORTED_ZH,
    section,
)

PDF_EN = ("Session cookies should be marked Secure and Http-\nOnly, and the ses-\nsion identifier "
          "must be regenerated after login.\nOutput encoding is the primary defense.")
PDF_ZH = "会话标识必须足够随机，并且在登录成功后\n重新生成。Ｃｏｏｋｉｅ 应设置 SameSite＝Lax。"


def _span_text(text: str, quote: str) -> str:
    kept, removed = verify_citations([quote], text, page=3)
    assert removed == 0 and len(kept) == 1, quote
    assert kept[0]["page"] == 3
    return text[kept[0]["start"]:kept[0]["end"]]


def test_english_quote_found_across_line_breaks_hyphenation_and_case() -> None:
    assert _span_text(PDF_EN, "the session identifier must be regenerated") == \
        "the ses-\nsion identifier must be regenerated"
    assert _span_text(PDF_EN, "marked Secure and HttpOnly") == "marked Secure and Http-\nOnly"
    # curly quotes around the quote and its final period are not part of the match
    assert _span_text(PDF_EN, "“output encoding is the primary defense.”") == \
        "Output encoding is the primary defense"


def test_chinese_quote_found_across_width_punctuation_and_line_breaks() -> None:
    # half-width comma in the quote, full-width in the chunk; a PDF line break mid-sentence
    assert _span_text(PDF_ZH, "会话标识必须足够随机,并且在登录成功后重新生成") == \
        "会话标识必须足够随机，并且在登录成功后\n重新生成"
    # full-width letters and "＝" in the chunk, ASCII in the quote
    assert _span_text(PDF_ZH, "Cookie 应设置 SameSite=Lax") == "Ｃｏｏｋｉｅ 应设置 SameSite＝Lax"


def test_quote_with_ellipsis_spans_its_parts_in_order() -> None:
    assert _span_text(PDF_EN, "Session cookies ... must be regenerated after login") == \
        PDF_EN[:PDF_EN.index("after login") + len("after login")]


def test_fabricated_reordered_and_trivial_quotes_are_removed_and_counted() -> None:
    quotes = ["marked Secure and HttpOnly",            # real
              "cookies must be encrypted with AES",     # fabricated
              "must be regenerated ... Session cookies",  # real parts, wrong order
              "会话标识必须每小时更换",                     # fabricated Chinese
              "Secure",                                   # too short to prove anything
              "marked  secure and http-only"]             # same span again: kept once
    kept, removed = verify_citations(quotes, PDF_EN + PDF_ZH, page=1)
    assert [(c["quote"], c["start"]) for c in kept] == [("marked Secure and HttpOnly", PDF_EN.index("marked"))]
    assert removed == 4


def test_verified_citation_share() -> None:
    assert verified_citation_share([[{"quote": "q"}], [], [{}, {}], []]) == 0.5
    assert verified_citation_share([]) == 0.0


CALIBRATION = [
    ("supported_en", SUPPORTED_EN + PARAPHRASED_EN), ("supported_zh", SUPPORTED_ZH + PARAPHRASED_ZH),
]
UNSUPPORTED = [("invented_en", INVENTED_EN), ("invented_zh", INVENTED_ZH),
               ("mixed_en", MIXED_EN), ("mixed_zh", MIXED_ZH)]


@pytest.mark.parametrize("name,cases", CALIBRATION)
def test_supported_answers_score_high(name: str, cases: list) -> None:
    scores = [grounding_score(a, section(f, h), "") for f, h, _q, a in cases]
    assert len(cases) >= 14
    assert min(scores) >= MIN_GROUNDING, (name, scores)


@pytest.mark.parametrize("name,cases", UNSUPPORTED)
def test_invented_and_half_invented_answers_score_low(name: str, cases: list) -> None:
    scores = [grounding_score(a, section(f, h), "") for f, h, _q, a in cases]
    assert max(scores) < MIN_GROUNDING, (name, scores)
    if name.startswith("invented"):
        assert len(cases) >= 11 and max(scores) == 0.0


def test_detail_names_the_unsupported_sentence_and_its_missing_words() -> None:
    f, h, _q, answer = MIXED_EN[1]
    detail = grounding_detail(answer, section(f, h), "en")
    assert [s.supported for s in detail.sentences] == [True, False]
    assert {"256", "rotat", "cdn"} <= set(detail.sentences[1].missing)
    assert detail.score == 0.5  # 8 units supported of 16


def test_answer_without_content_words_has_nothing_to_check() -> None:
    assert grounding_score("Yes.", "Cookies are sent automatically.", "en") == 1.0


def test_words_scattered_over_the_chunk_do_not_support_a_sentence() -> None:
    chunk = ("Stored XSS keeps its payload in the server database. "
             "Reflected XSS echoes a request parameter. "
             "DOM-based XSS never reaches the server. "
             "Scanners find many reflected bugs. "
             "Template engines encode output by default. "
             "Reviewers treat escape hatches as findings. "
             "Regression tests render the dangerous value. "
             "Violation reports show where bugs are. "
             "A strict Content Security Policy requires a random nonce per response.")
    # every word is in the chunk (sentences 1, 5, 9), but no three consecutive sentences say it
    stitched = "Stored payloads make template engines require a random nonce."
    detail = grounding_detail(stitched, chunk, "en")
    assert detail.sentences[0].support < 0.5 and detail.score == 0.0
    assert grounding_score("A strict policy requires a random nonce per response.", chunk) == 1.0


CODE_CHUNK = """The safe version binds the value as a parameter:

def find_user(db, name):
    # GOOD: the driver binds the value as a parameter
    sql = "SELECT id, role FROM users WHERE name = ?"
    return db.execute(sql, (name,)).fetchone()
"""


ZH_CODE_CHUNK = """同步令牌的 Flask 实现：每个会话一个随机令牌。

def csrf_token():
    # 为会话生成随机令牌
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]
"""


@pytest.mark.parametrize("answer, chunk", [
    ("`find_user` passes `name` to `db.execute` as a parameter, so the driver binds the value.",
     CODE_CHUNK),
    ("这段代码用`SELECT id, role FROM users WHERE name = ?`查询用户的`id`和`role`。", CODE_CHUNK),
    ("`csrf_token`函数为会话生成一个随机令牌，并用`secrets.token_urlsafe(32)`产生它。",
     ZH_CODE_CHUNK),
])
def test_explanations_of_the_chunks_code_are_supported(answer: str, chunk: str) -> None:
    # Prose about a snippet shares few words with its lines: its code names and Latin words
    # are checked against the whole chunk instead, its Chinese words at a lower bar.
    assert grounding_score(answer, chunk) == 1.0


@pytest.mark.parametrize("answer, chunk", [
    ("`find_user` calls `db.executemany` to insert a batch of users.", CODE_CHUNK),  # invented
    ("`find_user` drops every table and emails the administrator a backup archive.", CODE_CHUNK),
    ("`csrf_token`函数会删除整个数据库并发送邮件通知管理员。", ZH_CODE_CHUNK),
])
def test_invented_claims_about_the_code_are_not(answer: str, chunk: str) -> None:
    assert grounding_score(answer, chunk) < MIN_GROUNDING
