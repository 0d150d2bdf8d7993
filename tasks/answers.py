"""answers stage: ``questions`` (+ their ``chunks``) -> ``samples``.

Each answer is grounded in its chunk, with the reasoning chain (CoT) in its own ``cot`` column
(from the provider's ``reasoning_content`` / ``<think>`` block, else the model's ``reasoning``
field) and citations: quotes verified in the chunk (``sftforge.grounding.citations``), each with
its character span and page; quotes not found in the chunk are removed.

Output mode follows the answer endpoint: the embedded grammar-constrained model
(``json_mode == "schema_object"``) answers in bounded JSON (:class:`Answer`); any other endpoint
(a teacher model) answers in free Markdown with no small length cap (prompt ``answers_text``,
gateway job without schema), its CoT from ``reasoning_content``/``<think>`` and its quotes from a
trailing ``QUOTES:`` block (``sftforge.grounding.quote_block``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field

from sftforge import store
from sftforge.grounding.citations import verify_citations
from sftforge.grounding.quote_block import split_quote_block
from sftforge.ids import child_id, fingerprint
from sftforge.llm.endpoints import language_name
from sftforge.llm.prompting import prompt_sha, render
from sftforge.llm.gateway import LLMJob
from sftforge.stage import BuildContext, LLMStage

# Bounds are part of the JSON schema sent to the model. llama.cpp turns each into grammar
# repetitions; past ~1000 characters in one string the server rejects the grammar and drops
# the connection (measured with llama-cpp-python 0.3.36), so every bound stays below that.
Quote = Annotated[str, Field(max_length=200)]


class Answer(BaseModel):
    """The model's answer to one question."""

    reasoning: str = Field(max_length=900)
    answer: str = Field(min_length=1, max_length=1000)
    citations: list[Quote] = Field(default_factory=list, max_length=3)


AnswerMode = Literal["auto", "json", "text"]


class AnswerSettings(BaseModel):
    """How answers are asked for."""

    # auto: bounded JSON on the embedded grammar-constrained model (json_mode schema_object),
    # free Markdown text on any other endpoint; json/text force one.
    mode: AnswerMode = "auto"
    # Room for a teacher's Markdown answer (and, on reasoning models, its thinking): the
    # endpoint's max_tokens (default 1024) is sized for bounded JSON.
    text_max_tokens: int = Field(8192, ge=256)


_CHUNK_COLUMNS = ["chunk_id", "text", "heading_path", "lang", "source", "page_start"]


def questions_with_chunks(db_uri: str, doc_ids: list[str], q_fp: str) -> list[dict[str, Any]]:
    """Current questions of the documents joined with their chunk (text, heading_path, lang,
    source, page_start), ordered by chunk and index."""
    where = f"fingerprint = '{q_fp}' AND " + store.sql_in("doc_id", doc_ids)
    questions = store.read(db_uri, "questions", where=where)
    if questions.is_empty():
        return []
    chunks = store.read(db_uri, "chunks", columns=_CHUNK_COLUMNS, where=store.sql_in(
        "chunk_id", questions["chunk_id"].unique().to_list()))
    frame = questions.drop("fingerprint").join(chunks, on="chunk_id")
    return frame.sort(["doc_id", "chunk_id", "idx"]).to_dicts()


class AnswersStage(LLMStage):
    """``questions`` + ``chunks`` -> ``samples`` (sample_id, question_id, chunk_id, doc_id,
    source, page, question, answer, cot, citations, citations_removed, qtype, difficulty, model,
    fingerprint)."""

    upstream: ClassVar[str | None] = "questions"
    name: ClassVar[str] = "answers"
    reads: ClassVar[tuple[str, ...]] = ("questions", "chunks")
    writes: ClassVar[str] = "samples"
    role: ClassVar[str] = "answer"
    prompt: ClassVar[str] = "answers"
    schema: ClassVar[type[BaseModel]] = Answer
    key: ClassVar[str] = "question_id"
    # Left out of the dump (and so of the base fingerprint): JSON-mode fingerprints stay what
    # they were before the setting existed; text mode adds itself below.
    mode: AnswerMode = Field("auto", exclude=True)
    text_max_tokens: int = Field(8192, exclude=True)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        mode = answer_mode(ctx, self.mode)  # rows carry it: jobs and outputs need no context
        return [{**r, "answer_mode": mode}
                for r in questions_with_chunks(ctx.db_uri, ctx.doc_ids, ctx.fp("questions"))]

    def fingerprint(self, ctx: BuildContext) -> str:
        base = super().fingerprint(ctx)
        if answer_mode(ctx, self.mode) == "json":
            return base  # unchanged: JSON-mode answers already made stay valid
        return fingerprint(self.name, base=base, mode="text", prompt=prompt_sha("answers_text"),
                           max_tokens=self.text_max_tokens)

    def job(self, row: dict[str, Any]) -> LLMJob:
        job = super().job(row)
        if row.get("answer_mode") == "text":
            job.max_tokens = self.text_max_tokens
        return job

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel] | None:
        return Answer if row.get("answer_mode", "json") == "json" else None

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        have = store.read(ctx.db_uri, "samples", columns=["question_id"], where=(
            f"fingerprint = '{ctx.fp(self.name)}' AND " + store.sql_in("doc_id", ctx.doc_ids)))
        return set(have["question_id"].to_list())

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        prompt = "answers" if row.get("answer_mode", "json") == "json" else "answers_text"
        return render(prompt, text=row["text"], question=row["question"],
                      heading_path=row["heading_path"], language_name=language_name(row["lang"]),
                      audience=row.get("audience") or "")

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        fp = row["output_fingerprint"]
        if "text" in value:  # free-text mode: the Markdown answer, quotes in a trailing block
            answer, cited = split_quote_block(value["text"])
            value = {"answer": answer, "citations": cited}
        quotes, removed = verify_citations(value.get("citations", []), row["text"],
                                           row["page_start"])
        return [{
            "sample_id": child_id(row["question_id"], fp, 0),
            "question_id": row["question_id"], "chunk_id": row["chunk_id"],
            "doc_id": row["doc_id"], "source": row["source"], "page": row["page_start"],
            "question": row["question"], "answer": value["answer"].strip(),
            "cot": (reasoning or value.get("reasoning") or "").strip(),
            "citations": json.dumps(quotes, ensure_ascii=False), "citations_removed": removed,
            "qtype": row["qtype"], "difficulty": row["difficulty"], "model": row["output_model"],
            "fingerprint": fp,
            "genre": row.get("genre") or "", "audience": row.get("audience") or "",
        }]


def answer_mode(ctx: BuildContext, setting: AnswerMode = "auto") -> str:
    """``"json"`` or ``"text"``: ``setting`` unless auto; auto = json for the embedded
    grammar-constrained model (``json_mode == "schema_object"``), text for any other endpoint."""
    if setting != "auto":
        return setting
    return "json" if ctx.endpoints["answer"].json_mode == "schema_object" else "text"
