"""Each LLM stage's declaration on its own: format_input / format_output, no Prefect, LanceDB
or HTTP."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sftforge.settings import QuestionSettings
from tasks.answers import Answer, AnswersStage
from tasks.judge import JudgeStage, Verdict
from tasks.questions import QuestionsStage

CHUNK = {"chunk_id": "c1", "item_id": "c1", "doc_id": "d1", "idx": 0, "heading_path": "Sessions",
         "slots": [("factual", "easy"), ("reasoning", "hard")], "ga_pair_id": "", "genre": "",
         "audience": "",
         "text": "Session identifiers must be long and random. Cookies that carry them should "
                 "be marked Secure and HttpOnly.", "n_tokens": 320, "lang": "en"}
ZH_CHUNK = {**CHUNK, "chunk_id": "c2", "lang": "zh", "n_tokens": 100, "slots": [("factual", "easy")],
            "text": "会话标识必须足够长且随机。携带会话标识的Cookie应设置Secure和HttpOnly属性。"}
OUT = {"output_fingerprint": "fp1", "output_model": "m1"}


def test_questions_declaration_asks_for_exactly_n_in_the_chunk_language() -> None:
    stage = QuestionsStage(settings=QuestionSettings(tokens_per_question=150))
    messages = stage.format_input(CHUNK)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert CHUNK["text"] in messages[1]["content"] and "exactly 2 different questions" in (
        messages[1]["content"])
    assert "English" in messages[0]["content"]
    assert "reasoning" in messages[1]["content"] and "hard" in messages[1]["content"]  # the plan
    assert "简体中文" in stage.format_input(ZH_CHUNK)[0]["content"]
    schema = stage.schema_for(CHUNK).model_json_schema()["properties"]["questions"]
    assert schema["minItems"] == schema["maxItems"] == 2


def test_questions_format_output_makes_ids_from_the_fingerprint_and_drops_repeats() -> None:
    item = {"question": "Why must session identifiers be random?"}
    value = {"questions": [item, {**item, "question": " why must SESSION identifiers be random? "},
                           {**item, "question": "Which cookie flags protect a session id?"}]}
    chunk = {**CHUNK, "slots": [("factual", "easy"), ("conceptual", "medium"),
                                ("reasoning", "hard")]}
    rows = QuestionsStage().format_output(value, {**chunk, **OUT})
    assert [r["idx"] for r in rows] == [0, 2]
    assert rows[1]["question"] == "Which cookie flags protect a session id?"
    assert (rows[1]["qtype"], rows[1]["difficulty"]) == ("reasoning", "hard")  # planned slot
    assert {r["fingerprint"] for r in rows} == {"fp1"} and rows[0]["chunk_id"] == "c1"
    other = QuestionsStage().format_output(value, {**chunk, **OUT, "output_fingerprint": "fp2"})
    assert rows[0]["question_id"] != other[0]["question_id"]


def test_answers_declaration_verifies_citations_and_keeps_the_reasoning() -> None:
    question = {**CHUNK, "question_id": "q1", "question": "How are session cookies protected?",
                "qtype": "factual", "difficulty": "easy", "source": "a.pdf", "page_start": 3}
    messages = AnswersStage().format_input(question)
    assert CHUNK["text"] in messages[1]["content"] and "Question: How are" in messages[1]["content"]
    value = Answer(reasoning="Cookie flags.", answer="Mark them Secure and HttpOnly.",
                   citations=["marked Secure and HttpOnly", "invented quote not in the chunk"])
    [row] = AnswersStage().format_output(value.model_dump(), {**question, **OUT}, "think first")
    assert row["cot"] == "think first" and row["model"] == "m1" and row["page"] == 3
    assert row["citations_removed"] == 1
    assert '"quote": "marked Secure and HttpOnly"' in row["citations"] and '"page": 3' in row["citations"]
    [plain] = AnswersStage().format_output(value.model_dump(), {**question, **OUT})
    assert plain["cot"] == "Cookie flags."


def test_judge_declaration_scores_and_flags() -> None:
    sample = {"sample_id": "s1", "question": "Q?", "answer": "A.", "text": CHUNK["text"]}
    messages = JudgeStage().format_input(sample)
    assert "<source>" in messages[1]["content"] and "<answer>\nA.\n</answer>" in messages[1]["content"]
    verdict = Verdict(clarity=8, faithfulness=6, relevance=9, completeness=5, reason="ok")
    [row] = JudgeStage().format_output(verdict.model_dump(), {**sample, **OUT})
    assert row["overall"] == 7.0 and not row["injection_suspected"] and row["model"] == "m1"
    flagged = JudgeStage().format_output({**verdict.model_dump(), "addresses_reviewer": True},
                                         {**sample, **OUT})[0]
    assert flagged["injection_suspected"]
    with pytest.raises(ValidationError):
        Verdict(clarity=11, faithfulness=6, relevance=9, completeness=5, reason="x")
