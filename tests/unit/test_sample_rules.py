"""Sample rules (heading citations, vacuous answers, questions without their subject) and the
observed labels, English and Chinese. The measured rates come from bench/rules_heldout.py on
sets written apart from these cases."""

from __future__ import annotations

import pytest

from sftforge.cleaning.rules import CleanSettings
from sftforge.cleaning.labels import observed_difficulty, observed_labels, observed_qtype
from sftforge.cleaning.sample_rules import (
    SampleRuleSettings,
    apply_sample_rules,
    make_self_contained,
    rule_reasons,
)
from tasks.clean import clean_sample

XSS = ("# Cross-Site Scripting (XSS)\n## Building the Defense\n### Output Encoding\n"
       "Encoding on output is the primary defense against XSS: the browser then shows the "
       "payload as text. Content Security Policy adds a second layer.")
XSS_PATH = ["Cross-Site Scripting (XSS)", "Building the Defense", "Output Encoding"]
SQLI = ("# SQL注入\n## 参数化查询\n防御SQL注入最有效的方法是使用参数化查询，数据与语句分开发送。"
        "存储过程如果拼接字符串，同样存在注入风险。")
SQLI_PATH = ["SQL注入", "参数化查询"]


# --- heading_citation -----------------------------------------------------------------------

@pytest.mark.parametrize(("question", "answer", "source", "path", "quotes"), [
    ("What is the primary defense against XSS?", "Encoding on output.", XSS, XSS_PATH,
     ["Building the Defense"]),
    ("What is the primary defense against XSS?", "Encoding on output.", XSS, XSS_PATH,
     ["Output Encoding", "Cross-Site Scripting (XSS)"]),
    ("What adds a second layer against XSS?", "A Content Security Policy.", XSS, XSS_PATH,
     ["the browser then shows the payload as text"]),  # a sentence, but not this answer's
    ("防御SQL注入最有效的方法是什么？", "使用参数化查询。", SQLI, SQLI_PATH, ["参数化查询"]),
    ("存储过程能防止SQL注入吗？", "拼接字符串的存储过程同样有注入风险。", SQLI, SQLI_PATH,
     ["## SQL注入"]),
])
def test_headings_are_no_evidence(question: str, answer: str, source: str, path: list[str],
                                  quotes: list[str]) -> None:
    assert "heading_citation" in rule_reasons(question, answer, source=source,
                                              citations=quotes, heading_path=path)


@pytest.mark.parametrize(("question", "answer", "source", "path", "quotes"), [
    ("What is the primary defense against XSS?", "Encoding on output.", XSS, XSS_PATH,
     ["Output Encoding", "Encoding on output is the primary defense against XSS"]),
    ("What does a Content Security Policy add?", "A second layer of defense.", XSS, XSS_PATH,
     ["Content Security Policy adds a second layer"]),
    ("防御SQL注入最有效的方法是什么？", "使用参数化查询。", SQLI, SQLI_PATH,
     ["防御SQL注入最有效的方法是使用参数化查询"]),
    ("存储过程一定安全吗？", "不一定。", SQLI, SQLI_PATH,  # a yes/no answer: the claim is the question's
     ["存储过程如果拼接字符串，同样存在注入风险"]),
    ("What is the primary defense against XSS?", "Encoding on output.", XSS, XSS_PATH, []),
])
def test_evidence_quotes_pass(question: str, answer: str, source: str, path: list[str],
                              quotes: list[str]) -> None:
    assert "heading_citation" not in rule_reasons(question, answer, source=source,
                                                  citations=quotes, heading_path=path)


# --- vacuous_answer -------------------------------------------------------------------------

@pytest.mark.parametrize(("question", "answer"), [
    ("What is the fix for XSS?", "The fix is also always the same in principle."),
    ("How should stored XSS be handled?", "It depends on the situation."),
    ("What should a developer do about SQL injection?", "Take the appropriate measures carefully."),
    ("如何处理SQL注入？", "这需要根据具体情况进行处理。"),
    ("XSS的防御措施有哪些？", "应当采取适当的措施，视情况而定。"),
])
def test_vacuous_answers_are_dropped(question: str, answer: str) -> None:
    assert "vacuous_answer" in rule_reasons(question, answer, source="")


@pytest.mark.parametrize(("question", "answer"), [
    ("Which port does HTTPS use?", "Port 443."),
    ("What is the fix for XSS?", "Encode output for its context."),
    ("Is input validation enough against XSS?", "No."),
    ("如何防止SQL注入？", "使用参数化查询。"),
    ("参数化查询能防止SQL注入吗？", "可以。"),
    ("HTTPS默认使用哪个端口？", "443端口。"),
    ("Which is safer for passwords, bcrypt or MD5?", "bcrypt."),
    ("防御SQL注入应该用参数化查询还是字符串转义？", "参数化查询。"),
])
def test_short_concrete_answers_are_kept(question: str, answer: str) -> None:
    assert rule_reasons(question, answer, source="") == []


# --- question_without_subject ---------------------------------------------------------------

@pytest.mark.parametrize("question", [
    "What is the main defense?", "What are its limitations?", "How does it work?",
    "How is this attack detected?", "What does this function return?", "What are the risks?",
    "这种方法的主要风险是什么？", "该漏洞如何利用？", "其原理是什么？", "它有什么缺点？", "主要风险是什么？",
    "这是为什么？",
])
def test_questions_without_subject(question: str) -> None:
    assert "question_without_subject" in rule_reasons(question, "Output encoding.", source="")


@pytest.mark.parametrize("question", [
    "What is the main defense against XSS?", "Is it safe to build SQL with string concatenation?",
    "SQL injection is common; how is it prevented?", "What is the purpose of find_user?",
    "What kind of XSS is stored XSS?", "Why is it important that cookies are HttpOnly?",
    "应该如何防御SQL注入？", "SQL注入中，该漏洞如何利用？", "参数化查询为什么能防止SQL注入？",
    "XSS及其变体有哪些？", "XSS有哪些类型，其中哪种最危险？",
    "What is the attack that uses stored scripts called?",
    "What makes it dangerous to turn off autoescaping?",
])
def test_questions_with_subject(question: str) -> None:
    assert rule_reasons(question, "Output encoding and parameterized queries.", source="") == []


@pytest.mark.parametrize(("question", "path", "fixed"), [
    ("What is the main defense?", XSS_PATH,
     "What is the main defense against cross-site scripting (XSS)?"),
    ("What are its limitations?", XSS_PATH, "What are the limitations of output encoding?"),
    ("How is this attack detected?", XSS_PATH, "How is cross-site scripting (XSS) detected?"),
    ("这种方法的主要风险是什么？", SQLI_PATH, "参数化查询的主要风险是什么？"),
    ("该漏洞如何利用？", SQLI_PATH, "SQL注入如何利用？"),
    ("如何防御？", SQLI_PATH, "SQL注入如何防御？"),
    ("其原理是什么？", SQLI_PATH, "参数化查询的原理是什么？"),
])
def test_subject_is_supplied_from_the_heading_path(question: str, path: list[str],
                                                   fixed: str) -> None:
    assert make_self_contained(question, path, None) == fixed


@pytest.mark.parametrize(("question", "path"), [
    ("What is the main defense?", ["Building the Defense"]),  # no heading names an attack
    ("What are its limitations?", ["Cross-Site Scripting (XSS)", "Building the Defense"]),
    ("What does this cookie store?", XSS_PATH),  # not a kind of thing a heading can name
    ("这是什么？", SQLI_PATH),
    ("此时应该怎么做？", SQLI_PATH),
    ("What is the main defense?", []),
])
def test_uncertain_subject_is_not_guessed(question: str, path: list[str]) -> None:
    assert make_self_contained(question, path, None) is None


def test_node_label_supplies_the_subject_when_the_path_has_none() -> None:
    assert make_self_contained("What is the main defense?", [], "Cross-Site Request Forgery") \
        == "What is the main defense against cross-site request forgery?"
    assert make_self_contained("What is the main defense against XSS?", [], None) \
        == "What is the main defense against XSS?"


def test_rewrite_and_drop_follow_the_settings() -> None:
    args = dict(source=XSS, citations=[], heading_path=XSS_PATH)
    fixed = apply_sample_rules("What is the main defense?", "Encoding on output.", **args,
                               settings=SampleRuleSettings())
    assert (fixed.reason, fixed.rewritten_from) == ("", "What is the main defense?")
    assert fixed.question.endswith("against cross-site scripting (XSS)?")
    strict = apply_sample_rules("What is the main defense?", "Encoding on output.", **args,
                                settings=SampleRuleSettings(question_without_subject="drop"))
    assert strict.reason == "question_without_subject"
    flagged = apply_sample_rules("What is the primary defense against XSS?", "Encoding on output.",
                                 source=XSS, citations=["Building the Defense"],
                                 heading_path=XSS_PATH,
                                 settings=SampleRuleSettings(heading_citation="flag"))
    assert (flagged.reason, flagged.flags) == ("", ["heading_citation"])


def test_clean_sample_stores_the_rewrite_and_the_reasons() -> None:
    row = {"sample_id": "s1", "question": "What is the main defense?",
           "answer": "Encoding on output is the primary defense.", "cot": "",
           "citations": '[{"quote": "Encoding on output is the primary defense against XSS"}]',
           "qtype": "scenario", "difficulty": "hard"}
    out = clean_sample(row, "en", CleanSettings(), XSS, " > ".join(XSS_PATH[:2]))
    assert out["kept"] and out["question_original"] == "What is the main defense?"
    assert out["question"] == "What is the main defense against cross-site scripting (XSS)?"
    assert (out["qtype"], out["planned_qtype"], out["planned_difficulty"]) == \
        ("factual", "scenario", "hard")
    cited = clean_sample({**row, "question": "What is the main defense against XSS?",
                          "citations": '["Building the Defense"]'}, "en", CleanSettings(),
                         XSS, " > ".join(XSS_PATH[:2]))
    assert (cited["kept"], cited["reason"]) == (False, "heading_citation")


# --- observed labels ------------------------------------------------------------------------

@pytest.mark.parametrize(("question", "answer", "qtype"), [
    ("Which port does HTTPS use?", "Port 443.", "factual"),
    ("What are two habits that prevent XSS?", "Encoding output and validating input.", "factual"),
    ("What is cross-site scripting?", "An injection flaw in which a page runs script an "
     "attacker planted in it, in the victim's browser session.", "conceptual"),
    ("Why does output encoding stop XSS?", "Because the browser shows the payload as text.",
     "reasoning"),
    ("How do I escape HTML in a Jinja template?", "Turn on autoescaping.", "how-to"),
    ("What is the purpose of find_user?", "It looks up a user by name.", "code"),
    ("Suppose a form echoes its input unescaped. What can an attacker do?",
     "Run script in other users' sessions.", "scenario"),
    ("HTTPS默认使用哪个端口？", "443端口。", "factual"),
    ("什么是跨站脚本？", "一种注入漏洞，页面会执行攻击者植入的脚本。", "conceptual"),
    ("为什么输出编码能防止XSS？", "因为浏览器把载荷当作文本显示。", "reasoning"),
    ("如何防止SQL注入？", "使用参数化查询。", "how-to"),
    ("请写出一个参数化查询的例子。", "`cursor.execute('SELECT * FROM t WHERE id = ?', (uid,))`", "code"),
    ("假设某网站把用户输入直接拼接进SQL语句，会有什么风险？", "攻击者可以注入SQL。", "scenario"),
])
def test_observed_qtype(question: str, answer: str, qtype: str) -> None:
    assert observed_qtype(question, answer) == qtype


@pytest.mark.parametrize(("answer", "qtype", "difficulty"), [
    ("Port 443.", "factual", "easy"),
    ("使用参数化查询。", "how-to", "easy"),
    ("A Content Security Policy lists the sources a page may load script from. It limits "
     "the damage of an injection flaw. It does not fix the flaw itself.", "conceptual", "medium"),
    ("攻击者观察几个令牌后就能预测后续令牌。由于服务器信任任何有效令牌，攻击者因此可以接管其他用户的会话。"
     "令牌必须来自密码学安全的随机数生成器，否则账户会被接管。", "reasoning", "hard"),
])
def test_observed_difficulty(answer: str, qtype: str, difficulty: str) -> None:
    assert observed_difficulty(answer, qtype) == difficulty


def test_labels_are_what_the_sample_is_not_the_plan() -> None:
    # Planned scenario/hard in the demo; the pair is a plain fact list.
    assert observed_labels("What are two habits that prevent XSS?",
                           "Encoding output and validating input.") == ("factual", "easy")


def test_card_counts_observed_labels_rewrites_and_flags() -> None:
    from sftforge.release.card_render import _sample_notes
    from tasks.card import distributions

    base = {"split": "train", "difficulty": "easy", "source": "a.pdf", "citations": []}
    dist = distributions([
        {**base, "qtype": "factual", "planned_qtype": "scenario"},
        {**base, "qtype": "factual", "planned_qtype": "factual", "question_original": "Why?",
         "flags": ["heading_citation"]},
    ])
    assert (dist["qtype"], dist["qtype_as_planned"]) == ({"factual": 2}, 0.5)
    assert (dist["questions_rewritten"], dist["flags"]) == (1, {"heading_citation": 1})
    notes = " ".join(_sample_notes(dist))
    assert "50% are the type their plan asked for" in notes
    assert "1 questions were given their subject" in notes and "1 kept with a rule flag" in notes
