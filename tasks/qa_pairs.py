"""qa_pairs stage: kept ``chunks`` -> ``questions`` + ``samples``, one LLM request per chunk.

The per-chunk generation mode: one request asks for the chunk's N question-answer pairs with
their reasoning, instead of one request for the questions and one per answer. It writes the same
``questions`` and ``samples`` rows the questions and answers stages write (same columns, same id
scheme) and stands in for both fingerprints, so every later stage works unchanged. On a CPU the
number of requests decides the build time: the passage is read once per chunk, not N+1 times.

N is the questions stage's exact count (``QuestionSettings``); the reply schema holds exactly N
pairs, so a short or long reply is re-asked by the gateway and, if still wrong, ledgered in
``failures`` with its reason (retried in the next pass and the next build, never dropped
silently).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from sftforge import store
from sftforge.ids import child_id
from sftforge.llm.endpoints import language_name
from sftforge.llm.gateway import LLMJob
from sftforge.llm.prompting import render
from sftforge.question_plan import PlanSettings
from sftforge.settings import QuestionSettings
from sftforge.stage import BuildContext, LLMStage, Stage
from tasks.answers import AnswersStage
from tasks.questions import QuestionsStage

GenerationMode = Literal["per_question", "per_chunk", "auto"]
# Every string bound stays under ~1000 characters (llama.cpp grammar limit). On a CPU the
# generated tokens are most of the cost, so reasoning and answers are shorter than the
# per-question stage's and one quote is asked.
# Completion budget per pair (quote + question + reasoning + answer run ~100-250 tokens).
TOKENS_PER_PAIR = 350


class GenerationSettings(BaseModel):
    """How samples are generated: ``per_question`` (a request for a chunk's questions, then one
    per answer), ``per_chunk`` (one request for all pairs of a chunk, and one judge request per
    chunk) or ``auto`` (per_chunk on the embedded local model, per_question elsewhere)."""

    mode: GenerationMode = "auto"


def resolve_mode(settings: GenerationSettings, embedded: bool) -> str:
    """``per_question`` or ``per_chunk`` for this build (``embedded``: the local model is used)."""
    if settings.mode == "auto":
        return "per_chunk" if embedded else "per_question"
    return settings.mode


class QAPair(BaseModel):
    """One pair, evidence first: the quoted source sentence, then a question it answers, the
    reasoning and the answer.

    The field order is the generation order (llama.cpp's grammar keeps it): a small model that
    copies its evidence before asking and answering writes questions the passage answers, in
    the passage's terms. Measured with the embedded model on the demo corpus's five English
    chunks (15 pairs) against the answer-then-quote order: answers with a grounding score >= 0.6
    7 -> 14, quotes found in the chunk 11 -> 15, completion tokens 2095 -> 1687.
    """

    quote: str = Field(max_length=240)
    question: str = Field(min_length=8, max_length=300)
    reasoning: str = Field(max_length=400)
    answer: str = Field(min_length=1, max_length=700)


def qa_schema(n: int) -> type[BaseModel]:
    """Reply schema holding exactly ``n`` pairs (the list length is enforced both ways)."""
    return create_model(f"QAPairs{n}", pairs=(list[QAPair], Field(min_length=n, max_length=n)))


class QAPairsStage(LLMStage):
    """Kept ``chunks`` (text, heading_path, n_tokens, lang, source, page_start) -> ``questions``
    (question_id, chunk_id, doc_id, idx, question, qtype, difficulty, fingerprint) and
    ``samples`` (the columns :class:`tasks.answers.AnswersStage` writes)."""

    name: ClassVar[str] = "qa_pairs"
    provides: ClassVar[tuple[str, ...]] = ("questions", "answers")
    reads: ClassVar[tuple[str, ...]] = ("chunks",)
    writes: ClassVar[str] = "samples"
    role: ClassVar[str] = "answer"
    prompt: ClassVar[str] = "qa_pairs"
    key: ClassVar[str] = "chunk_id"
    settings: QuestionSettings = Field(default_factory=QuestionSettings)
    plan: PlanSettings = Field(default_factory=PlanSettings)

    def _questions(self) -> QuestionsStage:
        """The questions stage these pairs stand in for: its chunks, counts and plan."""
        return QuestionsStage(settings=self.settings, plan=self.plan)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """The chunks the questions stage would ask about, in document order, each with its
        planned (type, difficulty) slots."""
        return self._questions().inputs(ctx)

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        have = store.read(ctx.db_uri, "samples", columns=["chunk_id"], where=(
            f"fingerprint = '{ctx.fp(self.name)}' AND " + store.sql_in("doc_id", ctx.doc_ids)))
        return set(have["chunk_id"].to_list())

    def count(self, chunk: dict[str, Any]) -> int:
        """How many pairs this chunk gets (the questions stage's exact count)."""
        return self._questions().count(chunk)

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel]:
        return qa_schema(self.count(row))

    def job(self, row: dict[str, Any]) -> LLMJob:
        # N pairs need N times the completion budget of one; a cut reply is a failure.
        return LLMJob(item_id=row[self.key], messages=self.format_input(row),
                      schema=self.schema_for(row), temperature=self.temperature,
                      max_tokens=TOKENS_PER_PAIR * self.count(row) + 200)

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("qa_pairs", text=row["text"], heading_path=row["heading_path"],
                      n=self.count(row), language_name=language_name(row.get("lang")),
                      slots=row["slots"])

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """``samples`` rows of one chunk (plus ``idx``, the question's index, for ``write``).
        Type and difficulty are the planned ones of the slot, whatever the model wrote."""
        fp, rows = row["output_fingerprint"], []
        for idx, pair in enumerate(value["pairs"]):
            question_id = child_id(row["chunk_id"], fp, idx)
            qtype, difficulty = row["slots"][idx]
            question = {"question_id": question_id, "question": pair["question"].strip(),
                        "qtype": qtype, "difficulty": difficulty, "idx": idx}
            quote = pair["quote"].strip()
            answer = {"answer": pair["answer"], "reasoning": pair["reasoning"],
                      "citations": [quote] if quote else []}
            # A provider's reasoning channel covers the whole reply, not one pair: the pair's own
            # reasoning field is its chain of thought.
            rows.extend(AnswersStage().format_output(answer, {**row, **question}, ""))
            rows[-1]["idx"] = idx
        return rows

    def write(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> None:
        """``questions`` rows from the samples' question columns, then the ``samples`` rows."""
        questions = [{"question_id": r["question_id"], "chunk_id": r["chunk_id"],
                      "doc_id": r["doc_id"], "idx": r["idx"], "question": r["question"],
                      "qtype": r["qtype"], "difficulty": r["difficulty"],
                      "fingerprint": r["fingerprint"]} for r in rows]
        store.upsert(ctx.db_uri, "questions", questions)
        store.upsert(ctx.db_uri, "samples", [{k: v for k, v in r.items() if k != "idx"}
                                             for r in rows])
