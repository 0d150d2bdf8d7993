"""Unsupported tails: cut from an answer whose head the chunk supports, nothing else touched."""

from __future__ import annotations

import json

from sftforge.cleaning.rules import CleanSettings
from sftforge.grounding.score import MIN_GROUNDING, grounding_score
from sftforge.grounding.trim import trim_unsupported_tail
from tasks.clean import clean_sample

EN = ("Parameters bind values only. They cannot be used for table or column names. When a query "
      "must sort by a column the user chooses, map the choice to a fixed list of allowed column "
      "names in code and reject anything else.")
ZH = ("参数化查询把查询文本和参数值分开发送，驱动程序不会让参数值改变语句结构。表名和列名不能作为参数，"
      "应当映射到代码中的固定白名单。")
HEAD = ("To sort by a user-chosen column, map the user's choice to a fixed list of allowed column "
        "names in code and reject anything else.")
TAIL = "This guarantees that attackers can never compromise the server or steal any passwords."


def test_generic_tail_is_cut_and_the_head_kept_verbatim() -> None:
    answer = f"{HEAD} {TAIL}"
    assert grounding_score(answer, EN) < 1.0  # an unsupported claim the export would teach
    cut = trim_unsupported_tail(answer, EN)
    assert cut.text == HEAD and cut.removed == [TAIL]
    assert grounding_score(cut.text, EN) == 1.0


def test_chinese_tail_is_cut() -> None:
    head = "参数化查询把查询文本和参数值分开发送，因此参数值不能改变语句结构。"
    tail = "这种方法在所有系统中都能彻底阻止一切网络攻击，并且让服务器速度提升三倍。"
    cut = trim_unsupported_tail(head + tail, ZH)
    assert cut.text == head and cut.removed == [tail]


def test_supported_answers_and_middle_claims_are_left_alone() -> None:
    supported = f"Parameters bind values only. {HEAD}"
    assert trim_unsupported_tail(supported, EN).removed == []
    middle = f"{HEAD} {TAIL} Parameters cannot be used for table or column names."
    assert trim_unsupported_tail(middle, EN).text == middle  # only a tail is cut


def test_no_cut_that_leaves_no_supported_claim_or_removes_most_of_the_answer() -> None:
    invented = f"{TAIL} Rotating keys every hour also stops all replay attacks on every server."
    assert trim_unsupported_tail(invented, EN).removed == []
    mostly = (f"Parameters bind values only. {TAIL} Rotating encryption keys every hour also "
              "stops every replay attack against cloud servers and mobile applications.")
    assert trim_unsupported_tail(mostly, EN).removed == []  # the score decides: ungrounded
    assert grounding_score(mostly, EN) < MIN_GROUNDING


def test_line_breaks_of_the_kept_head_survive() -> None:
    answer = f"Two rules:\n\n- Parameters bind values only.\n- {HEAD}\n\n{TAIL}"
    cut = trim_unsupported_tail(answer, EN)
    assert cut.text == f"Two rules:\n\n- Parameters bind values only.\n- {HEAD}"


def test_a_numbered_item_cut_leaves_no_dangling_number() -> None:
    answer = (f"Steps:\n1. Parameters bind values only.\n2. {HEAD}\n3. {TAIL}")
    cut = trim_unsupported_tail(answer, EN)
    assert cut.text == f"Steps:\n1. Parameters bind values only.\n2. {HEAD}"
    assert cut.removed and cut.removed[-1].endswith("passwords.")


def test_no_cut_inside_a_prose_enumeration() -> None:
    """"Several rules. First, A." is a broken answer: the tail with "Second" stays, for the
    score to judge the whole answer."""
    head = f"Two rules keep sort columns safe. First, {HEAD[0].lower()}{HEAD[1:]}"
    second = f"{head} Second, this guarantees attackers can never steal any passwords."
    assert trim_unsupported_tail(second, EN).removed == []
    also = f"{head} {TAIL}"  # "First" with its next item cut away
    assert trim_unsupported_tail(also, EN).removed == []
    both = f"{head} Second, parameters bind values only. {TAIL}"  # the list closes before the cut
    assert trim_unsupported_tail(both, EN).removed == [TAIL]
    zh = ("参数化查询有两个要点。首先，参数化查询把查询文本和参数值分开发送。"
          "其次，这种方法在所有系统中都能彻底阻止一切网络攻击，并且让服务器速度提升三倍。")
    assert trim_unsupported_tail(zh, ZH).removed == []


def test_clean_records_the_cut_sentences_and_scrubs_them() -> None:
    row = {"sample_id": "s1", "question": "How should a user-chosen sort column be handled?",
           "answer": f"{HEAD} Mail admin@example.com and they guarantee attackers never win.",
           "cot": ""}
    out = clean_sample(row, "en", CleanSettings(), chunk_text=EN)
    assert out["kept"] and out["answer"] == HEAD
    removed = json.loads(out["trimmed"])
    assert len(removed) == 1 and "admin@example.com" not in removed[0]
    assert json.loads(out["pii"]) == {}  # PII that left the answer is not counted as scrubbed
    off = clean_sample(row, "en", CleanSettings(trim_unsupported_tail=False), chunk_text=EN)
    assert off["answer"].startswith(HEAD) and off["trimmed"] == "" and "admin" not in off["answer"]
