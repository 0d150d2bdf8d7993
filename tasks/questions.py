"""questions stage: kept ``chunks`` (``chunk_selection``) -> ``questions``, exactly N per chunk.

N comes from the chunk's length (``QuestionSettings``): exact, never "at least". Each question
carries a type (factual, conceptual, reasoning, how-to, scenario) and a difficulty.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from sftforge import store
from sftforge.ids import child_id, sha256_text
from sftforge.llm.endpoints import language_name
from sftforge.llm.prompting import render
from sftforge.settings import QuestionSettings
from sftforge.stage import BuildContext, LLMStage
from tasks.select_chunks import selected_chunk_ids

QType = Literal["factual", "conceptual", "reasoning", "how-to", "scenario"]
Difficulty = Literal["easy", "medium", "hard"]


class QuestionItem(BaseModel):
    """One generated question."""

    question: str = Field(min_length=8, max_length=300)
    qtype: QType
    difficulty: Difficulty


def questions_per_chunk(n_tokens: int, settings: QuestionSettings) -> int:
    """Exact number of questions for a chunk of ``n_tokens`` tokens."""
    n = round(n_tokens / max(1, settings.tokens_per_question))
    return max(settings.min_per_chunk, min(settings.max_per_chunk, n))


def question_schema(n: int) -> type[BaseModel]:
    """Answer schema holding exactly ``n`` questions (the list length is enforced both ways)."""
    return create_model(
        f"Questions{n}",
        questions=(list[QuestionItem], Field(min_length=n, max_length=n)),
    )


def chunks_of(db_uri: str, doc_ids: list[str]) -> list[dict[str, Any]]:
    """Current ``chunks`` rows of the documents, in document order."""
    chunks = store.read(db_uri, "chunks", where=store.sql_in("doc_id", doc_ids))
    return chunks.sort(["doc_id", "idx"]).to_dicts()


class QuestionsStage(LLMStage):
    """``chunks`` (text, heading_path, n_tokens, lang) -> ``questions`` (question_id, chunk_id,
    doc_id, idx, question, qtype, difficulty, fingerprint)."""

    name: ClassVar[str] = "questions"
    reads: ClassVar[tuple[str, ...]] = ("chunks",)
    writes: ClassVar[str] = "questions"
    role: ClassVar[str] = "question"
    prompt: ClassVar[str] = "questions"
    key: ClassVar[str] = "chunk_id"
    settings: QuestionSettings = Field(default_factory=QuestionSettings)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """The chunks the chunk selection kept (all chunks when it is not part of the build)."""
        chunks = chunks_of(ctx.db_uri, ctx.doc_ids)
        if "select_chunks" not in ctx.fingerprints:
            return chunks
        kept = selected_chunk_ids(ctx.db_uri, ctx.doc_ids, ctx.fp("select_chunks"))
        return [c for c in chunks if c["chunk_id"] in kept]

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        have = store.read(ctx.db_uri, "questions", columns=["chunk_id"], where=(
            f"fingerprint = '{ctx.fp(self.name)}' AND " + store.sql_in("doc_id", ctx.doc_ids)))
        return set(have["chunk_id"].to_list())

    def count(self, chunk: dict[str, Any]) -> int:
        """How many questions this chunk gets."""
        return questions_per_chunk(chunk["n_tokens"], self.settings)

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel]:
        return question_schema(self.count(row))

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("questions", text=row["text"], heading_path=row["heading_path"],
                      n=self.count(row), language_name=language_name(row.get("lang")))

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """``questions`` rows of one chunk; a question repeated within the chunk is dropped."""
        fp, rows, seen = row["output_fingerprint"], [], set()
        for idx, item in enumerate(value["questions"]):
            key = sha256_text(item["question"].strip().lower())
            if key in seen:
                continue
            seen.add(key)
            rows.append({
                "question_id": child_id(row["chunk_id"], fp, idx), "chunk_id": row["chunk_id"],
                "doc_id": row["doc_id"], "idx": idx, "question": item["question"].strip(),
                "qtype": item["qtype"], "difficulty": item["difficulty"], "fingerprint": fp,
            })
        return rows
