"""CoT/answer hygiene: passage references rewritten or dropped, answer-copying CoTs dropped."""

from __future__ import annotations

import pytest

from sftforge.grounding.cot import (
    CotVerdict, answer_hygiene, hygiene, question_hygiene, rewrite_sentence,
)

ANSWER_EN = ("Parameterized queries send the query text and the values separately, so a value "
             "can never change the structure of the statement.")
ANSWER_ZH = "会话标识必须足够随机，并且在登录成功后重新生成，以防止会话固定攻击。"


@pytest.mark.parametrize("sentence,expected", [
    ("The passage states that parameterized queries keep values out of the SQL grammar.",
     "Parameterized queries keep values out of the SQL grammar."),
    ("According to the text, CSP does not replace encoding.", "CSP does not replace encoding."),
    ("Stored XSS is the most damaging, as the passage notes.", "Stored XSS is the most damaging."),
    ("The author argues that output encoding is the primary defense.",
     "Output encoding is the primary defense."),
    ("- The document says: least privilege limits the damage.",
     "- Least privilege limits the damage."),
    ("innerHTML is dangerous according to the passage.", "innerHTML is dangerous."),
    ("根据原文，令牌必须与会话绑定并校验。", "令牌必须与会话绑定并校验。"),
    ("文中提到会话标识要在登录成功后重新生成。", "会话标识要在登录成功后重新生成。"),
    ("原文中明确指出，Lax 模式仍允许顶层 GET 导航。", "Lax 模式仍允许顶层 GET 导航。"),
    ("如上文所述，二次确认只用于高风险操作。", "二次确认只用于高风险操作。"),
    ("作者认为二次确认会影响体验。", "二次确认会影响体验。"),
    ("同步令牌必须与会话绑定，这是原文中提到的。", "同步令牌必须与会话绑定。"),
    # a clause inside the sentence
    ("The two layers of defense mentioned in the passage are parameters and allow-lists.",
     "The two layers of defense are parameters and allow-lists."),
    ("文中介绍的三种 XSS 由不同组件写入页面。", "三种 XSS 由不同组件写入页面。"),
    # nothing to cut: the whole sentence is about the passage
    ("Let me re-read the passage to find the answer.", None),
    ("我需要在原文中找到相关段落。", None),
    # not references: domain words that look like them
    ("The payload is written into the document object via innerHTML.",
     "The payload is written into the document object via innerHTML."),
    ("在 HTML 上下文中必须做输出编码。", "在 HTML 上下文中必须做输出编码。"),
])
def test_referring_clause_is_cut_at_sentence_level(sentence: str, expected: str | None) -> None:
    assert rewrite_sentence(sentence) == expected


def test_english_cot_with_references_is_rewritten_keeping_its_lines() -> None:
    cot = ("The question asks what makes a query safe.\n"
           "The passage explains that the driver binds each value as a parameter. "
           "Binding means the value never reaches the SQL parser as syntax.\n"
           "So concatenation is the unsafe pattern, as stated in the text.")
    verdict = hygiene(cot, ANSWER_EN, "en")
    assert verdict == CotVerdict(
        text="The question asks what makes a query safe.\n"
             "The driver binds each value as a parameter. "
             "Binding means the value never reaches the SQL parser as syntax.\n"
             "So concatenation is the unsafe pattern.",
        action="rewritten")


def test_chinese_cot_with_references_is_rewritten() -> None:
    cot = "问题问的是如何防止会话固定。原文指出，会话标识要在登录后重新生成。攻击者预先植入的标识因此失效。"
    verdict = hygiene(cot, ANSWER_ZH, "zh")
    assert verdict.action == "rewritten" and verdict.reason == ""
    assert verdict.text == "问题问的是如何防止会话固定。会话标识要在登录后重新生成。攻击者预先植入的标识因此失效。"


@pytest.mark.parametrize("cot", [
    "I need to look at the passage. The passage talks about queries. "
    "Let me find the relevant section in the text. Values are bound as parameters.",
    "我先通读原文。然后在文中找到相关段落。材料中提到了随机令牌。会话标识需要重新生成。",
])
def test_cot_mostly_about_the_passage_is_dropped(cot: str) -> None:
    assert hygiene(cot, ANSWER_EN) == CotVerdict(text="", action="dropped",
                                                 reason="cot_refers_to_source")


@pytest.mark.parametrize("cot,answer", [
    ("Parameterized queries send the query text and the values separately, so a value cannot "
     "change the statement structure.", ANSWER_EN),
    ("The answer is: parameterized queries send query text and values separately.", ANSWER_EN),
    ("会话标识必须足够随机，并在登录成功后重新生成，防止会话固定攻击。", ANSWER_ZH),
])
def test_cot_that_repeats_the_answer_is_dropped(cot: str, answer: str) -> None:
    assert hygiene(cot, answer) == CotVerdict(text="", action="dropped",
                                              reason="cot_repeats_answer")


def test_real_reasoning_is_kept_untouched() -> None:
    cot = ("If the value were pasted into the SQL text, a quote in it could close the string "
           "literal. Sending it separately means the parser has already fixed the statement "
           "before it sees the value.")
    assert hygiene(cot, ANSWER_EN) == CotVerdict(text=cot, action="kept")
    assert hygiene("", ANSWER_EN) == CotVerdict(text="", action="kept")


def test_answers_are_rewritten_or_the_sample_dropped() -> None:
    assert answer_hygiene("According to the passage, CSP does not replace encoding.") == \
        CotVerdict(text="CSP does not replace encoding.", action="rewritten")
    assert answer_hygiene("原文指出，令牌必须与会话绑定并校验。") == \
        CotVerdict(text="令牌必须与会话绑定并校验。", action="rewritten")
    leaning = "The passage only covers reflected XSS. Stored XSS lives in the database."
    assert answer_hygiene(leaning) == CotVerdict(text="", action="dropped",
                                                 reason="answer_refers_to_source")
    assert answer_hygiene(ANSWER_EN) == CotVerdict(text=ANSWER_EN, action="kept")


@pytest.mark.parametrize("text,expected", [
    ("常用的方法如下表所示，实际系统通常组合使用多种方法。", True),
    ("下表列出了常见的防御方法。", True),
    ("如图 3 所示，攻击分为三步。", True),
    ("The table below lists the allowed options.", True),
    ("The options are shown in Table 3.", True),
    ("See Figure 2 for the whole flow.", True),
    ("以下表明攻击者可以读取 Cookie。", False),
    ("线上表单也需要 CSRF 令牌。", False),
    ("A lookup table of allowed column names keeps sort keys safe.", False),
    ("The steps are listed below:\n1. Encode output.\n2. Set a CSP.", False),
    ("Options:\n\n| name | use |\n|---|---|\n| Lax | default |\n\nThe table above sums them up.",
     False),
    # Claims of absence: only a text fails to mention things.
    ("No other defenses are mentioned.", True),
    ("The exact number is not mentioned.", True),
    ("It isn't explicitly stated whether tokens expire.", True),
    ("未提及具体的超时时间。", True),
    ("If the port is not specified, 443 is used.", False),
    ("No special characters are allowed in the name.", False),
    ("The attacks mentioned earlier all rely on cookies.", False),
    ("该攻击不需要用户交互。", False),
    # UI and DOM text is not the source text.
    ("Script typed in the text field is reflected in the page.", False),
    ("Read the names from the text file line by line.", False),
    ("As described in the text, CSP limits scripts.", True),
])
def test_pointers_at_the_source_its_tables_and_figures_and_what_it_leaves_out(
        text: str, expected: bool) -> None:
    from sftforge.cleaning.source_refs import refers_to_source

    assert refers_to_source(text) is expected


@pytest.mark.parametrize("text,expected", [
    ("What does this code snippet do?", True),
    ("这个代码片段的作用是什么？", True),
    ("这段代码有什么漏洞？", True),
    ("请解释以下代码的输出。", True),
    ("Why is the above code vulnerable to SQL injection?", True),
    ("Which line of the code shown is unsafe?", True),
    ("What does the following code do?\n```python\nprint(1)\n```", False),
    ("Why is this code vulnerable: `query = \"SELECT * FROM t WHERE id=\" + uid`?", False),
    ("How should the code handle errors?", False),
    ("Why should the source code be reviewed before release?", False),
    ("The fragment identifier is never sent to the server.", False),
    ("Is the directory listing enabled by default?", False),
    ("编写一段示例代码，演示参数化查询。", False),
    ("该代码库使用了参数化查询。", False),
    ("源代码审计能发现注入漏洞。", False),
    ("This function escapes HTML before it is written.", False),
])
def test_questions_pointing_at_a_code_listing_they_do_not_quote(text: str, expected: bool) -> None:
    from sftforge.cleaning.source_refs import points_at_code

    assert points_at_code(text) is expected


def test_an_answer_may_say_this_code_about_its_questions_code() -> None:
    """The question quotes the code; the answer's "this code" is that code, not the source's."""
    answer = "This code binds the user's value as a parameter, so it can never change the query."
    assert answer_hygiene(answer).action == "kept"


def test_cot_sentence_saying_what_is_not_mentioned_is_cut() -> None:
    verdict = hygiene("Output encoding and a CSP both stop injected scripts from running. No other "
                      "defenses are mentioned.", "Use output encoding and a Content Security Policy.")
    assert verdict.action == "rewritten"
    assert verdict.text == "Output encoding and a CSP both stop injected scripts from running."


def test_question_about_an_unseen_snippet_is_left_for_the_filter() -> None:
    """No clause to cut: the question keeps its words and the clean filter drops it."""
    question = "这个代码片段的作用是什么？"
    assert question_hygiene(question) == question
    from sftforge.cleaning.normalize import refers_to_unseen_source

    assert refers_to_unseen_source(question)


def test_answer_that_leans_on_a_table_it_does_not_have_is_dropped() -> None:
    verdict = answer_hygiene("防御 CSRF 的关键是区分请求来源。常用的方法如下表所示，实际系统通常组合使用。")
    assert (verdict.action, verdict.reason) == ("dropped", "answer_refers_to_source")
