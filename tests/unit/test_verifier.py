"""The verifier's yes/no probabilities, its fallback and its thresholds (real HTTP to the
scripted server, the real openai client path)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import pytest

from sftforge.llm.yes_no import p_yes_from_top, p_yes_from_word
from sftforge.settings import ResolvedEndpoint
from sftforge.verifier.checks import CHECKS, check_messages
from sftforge.verifier.run import verify_rows
from sftforge.verifier.settings import VerifySettings, apply_checks, settings_dump, verdicts
from tests.fakellm import FakeLLM

SOURCE = ("Prepared statements keep user data apart from the SQL code, so input can never "
          "change the structure of a query. A web application firewall only lowers the risk.")
GOOD = {"source": SOURCE, "question": "Why do prepared statements stop SQL injection?",
        "answer": "Prepared statements keep user data apart from the SQL code, so input never "
                  "changes the structure of the query."}
INVENTED = {**GOOD, "answer": "Because Oracle patented them in 1987 and browsers enforce it."}
ZH_SOURCE = "内容安全策略可以限制页面能加载的脚本来源，从而减轻跨站脚本攻击的危害。"
ZH_GOOD = {"source": ZH_SOURCE, "question": "内容安全策略如何减轻跨站脚本攻击？",
           "answer": "内容安全策略限制页面能加载的脚本来源，从而减轻跨站脚本攻击的危害。"}


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def endpoint(fake: FakeLLM, **kw: object) -> ResolvedEndpoint:
    return ResolvedEndpoint(base_url=fake.base_url, model="fake-model", max_retries=1,
                            timeout_s=5, **kw)


def test_p_yes_is_the_yes_mass_over_yes_and_no_variants() -> None:
    top = [("Yes", math.log(0.5)), (" yes", math.log(0.1)), ("No", math.log(0.2)),
           ("The", math.log(0.15)), ("否", math.log(0.05))]
    assert p_yes_from_top(top) == pytest.approx(0.6 / 0.85)
    assert p_yes_from_top([("是", math.log(0.3)), ("不", math.log(0.1))]) == pytest.approx(0.75)
    assert p_yes_from_top([("The", -0.1), ("Maybe", -2.0)]) is None


def test_one_word_replies() -> None:
    assert [p_yes_from_word(w) for w in ("Yes.", " no", "是", "否。", "不是", "**No**")] == \
        [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert p_yes_from_word("Nothing") is None and p_yes_from_word("Maybe") is None


def test_checks_share_the_pair_prefix_and_end_with_the_question() -> None:
    """The passage and pair come first and identically, the check last (prompt cache)."""
    asked = [check_messages(SOURCE, GOOD["question"], GOOD["answer"], c) for c in CHECKS]
    assert len({m[0]["content"] for m in asked}) == 1
    users = [m[1]["content"] for m in asked]
    prefix = users[0].rsplit("\n\n", 1)[0]
    assert all(u.startswith(prefix) for u in users)
    assert [u.endswith(CHECKS[c]["en"]) for u, c in zip(users, CHECKS)] == [True] * 3
    zh = check_messages(ZH_SOURCE, ZH_GOOD["question"], ZH_GOOD["answer"], "supported")
    assert zh[1]["content"].endswith(CHECKS["supported"]["zh"]) and "原文" in zh[0]["content"]


def test_logprobs_give_probabilities_that_separate_good_from_invented(
        fake: FakeLLM, tmp_path: Path) -> None:
    out = verify_rows([GOOD, INVENTED, ZH_GOOD], endpoint(fake, embedded=True),
                      cache_dir=tmp_path)
    assert [r["method"] for r in out] == ["logprobs"] * 3
    assert out[0]["supported"] > 0.8 > 0.3 > out[1]["supported"]
    assert out[2]["supported"] > 0.8 and out[2]["answers"] > 0.8
    body = fake.log[0]
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["temperature"] == 0
    # on the embedded model: the checks of one pair back to back, pairs in order
    heads = [m["messages"][1]["content"].rsplit("\n\n", 1)[0] for m in fake.log]
    assert heads == [heads[0]] * 3 + [heads[3]] * 3 + [heads[6]] * 3 and heads[0] != heads[3]
    sent = fake.requests
    assert verify_rows([GOOD], endpoint(fake), cache_dir=tmp_path) == out[:1]
    assert fake.requests == sent  # the request cache answered


@pytest.mark.parametrize("fault", ["no_logprobs", "reject_logprobs"])
def test_endpoint_without_logprobs_falls_back_to_the_word(
        fake: FakeLLM, tmp_path: Path, fault: str) -> None:
    fake.add_fault(fault, times=-1)
    good, invented = verify_rows([GOOD, INVENTED], endpoint(fake), ("supported",),
                                 cache_dir=tmp_path)
    assert good == {"supported": 1.0, "method": "reply"}
    assert invented == {"supported": 0.0, "method": "reply"}


def test_malformed_reply_is_a_failure_with_its_reason(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("malformed_yes_no", times=-1, match="directly and completely")
    out = verify_rows([GOOD], endpoint(fake), cache_dir=tmp_path)[0]
    assert out["error"].startswith("answers: malformed yes/no reply: 'Maybe'")
    assert "supported" in out and "answers" not in out
    fake.clear_faults()  # failures are not cached: asked again, answered
    assert "answers" in verify_rows([GOOD], endpoint(fake), cache_dir=tmp_path)[0]


def test_thresholds_name_the_first_failed_check() -> None:
    s = VerifySettings(min_supported=0.5, min_answers=0.6, min_self_contained=0.3)
    good = {"supported": 0.9, "answers": 0.7, "self_contained": 0.8}
    assert apply_checks(good, s) == (True, "")
    assert apply_checks({**good, "supported": 0.49}, s) == (False, "unsupported")
    assert apply_checks({**good, "answers": 0.59, "self_contained": 0.1}, s) == \
        (False, "does_not_answer")
    assert apply_checks({**good, "self_contained": 0.29}, s) == (False, "not_self_contained")
    assert apply_checks(None, s) == (False, "verify_failed")
    assert apply_checks({"supported": 0.9}, s) == (False, "verify_failed")
    assert apply_checks({**good, "answers": 0.59}, s.model_copy(update={"min_answers": 0.5})) \
        == (True, "")
    assert verdicts({"a": good, "b": {**good, "supported": 0.1}}, ["a", "b", "c"], s) == \
        {"b": "unsupported", "c": "verify_failed"}


def test_chinese_pairs_are_held_to_their_own_thresholds() -> None:
    s = VerifySettings(min_supported=0.5, min_answers=0.5, min_supported_zh=None,
                       min_answers_zh=0.8)
    probs = {"supported": 0.9, "answers": 0.7, "self_contained": 0.8}
    assert apply_checks(probs, s, "en") == (True, "")
    assert apply_checks(probs, s, "zh") == (False, "does_not_answer")
    assert s.threshold("supported", "zh") == 0.5  # no Chinese setting: the English one
    assert verdicts({"a": probs, "b": probs}, ["a", "b"], s, {"b": "zh"}) == \
        {"b": "does_not_answer"}
    # Thresholds are applied, not stored: none of them is part of the fingerprint.
    assert settings_dump(s) == settings_dump(VerifySettings())


def test_the_cache_key_tells_a_logprobs_request_from_a_plain_one() -> None:
    from sftforge.llm.cache import request_key

    plain = {"model": "m", "messages": [{"role": "user", "content": "Is it?"}],
             "temperature": 0.0, "max_tokens": 1}
    asked = {**plain, "logprobs": True, "top_logprobs": 10}
    assert request_key(plain) != request_key(asked) != request_key({**asked, "top_logprobs": 5})


@pytest.mark.parametrize("scoring,judge_embedded,expected", [
    ("auto", True, ["verify", "verify_select"]),
    ("auto", False, ["judge", "thresholds"]),
    ("both", False, ["verify", "verify_select", "judge", "thresholds"]),
    ("judge", True, ["judge", "thresholds"]),
])
def test_the_verifier_replaces_the_judge_on_the_embedded_model(
        scoring: str, judge_embedded: bool, expected: list[str]) -> None:
    from flows.build_dataset import BuildParams, stages_of

    params = BuildParams(input_path=".", scoring=scoring, generation={"mode": "per_question"})
    names = [s.name for s in stages_of(params, [], False, judge_embedded)["curate"]]
    assert [n for n in names if n in ("verify", "verify_select", "judge", "thresholds")] == expected
    assert ("rejected" in names) == ("judge" in expected)  # DPO pairs need the judge
    off = BuildParams(input_path=".", judge_enabled=False)
    assert not {"verify", "judge"} & {s.name for s in stages_of(off, [], False, True)["curate"]}
