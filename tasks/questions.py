"""questions stage: kept ``chunks`` (``chunk_selection``) -> ``questions``, exactly N per chunk.

N comes from the chunk's length (``QuestionSettings``): exact, never "at least". The type
(factual, conceptual, reasoning, how-to, code, scenario) and difficulty of every slot come from
the question plan (``sftforge.question_plan``), not from the model: the prompt names them and
the stored question carries them. With Genre-Audience pairs (``tasks/ga_pairs.py``) each chunk
is asked once more per pair of its document; an item is (chunk, pair), keyed by ``item_id``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from sftforge import store
from sftforge.ids import child_id, sha256_text
from sftforge.llm.endpoints import language_name
from sftforge.llm.prompting import render
from sftforge.question_plan import PlanSettings, has_code, plan_document
from sftforge.settings import QuestionSettings
from sftforge.stage import BuildContext, LLMStage
from tasks.ga_pairs import pairs_of
from tasks.select_chunks import selected_chunk_ids

QType = Literal["factual", "conceptual", "reasoning", "how-to", "code", "scenario"]
Difficulty = Literal["easy", "medium", "hard"]


class QuestionItem(BaseModel):
    """One generated question (its type and difficulty are planned, not the model's choice)."""

    question: str = Field(min_length=8, max_length=300)


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


def planned_items(chunks: list[dict[str, Any]], pairs: dict[str, list[dict[str, Any]]],
                  count: Any, plan: PlanSettings) -> list[dict[str, Any]]:
    """One item per (chunk, variant): the plain questions, then one per GA pair of the chunk's
    document; each with ``item_id`` and its planned ``slots`` [(qtype, difficulty)]."""
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for c in chunks:
        by_doc.setdefault(c["doc_id"], []).append(c)
    items = []
    for doc_id, doc_chunks in by_doc.items():
        counts = [count(c) for c in doc_chunks]
        code = [has_code(c["text"]) for c in doc_chunks]  # code questions only where code is
        for pair in [None, *pairs.get(doc_id, [])]:
            stream = doc_id if pair is None else f"{doc_id}|{pair['pair_id']}"
            for chunk, slots in zip(doc_chunks, plan_document(stream, counts, plan, code)):
                items.append({
                    **chunk, "slots": slots, "ga_pair_id": pair["pair_id"] if pair else "",
                    "genre": pair["genre"] if pair else "",
                    "audience": pair["audience"] if pair else "",
                    "item_id": chunk["chunk_id"] if pair is None
                    else child_id(chunk["chunk_id"], "ga", pair["pair_id"])})
    return items


class QuestionsStage(LLMStage):
    """``chunks`` (text, heading_path, n_tokens, lang) (+ ``ga_pairs``) -> ``questions``
    (question_id, item_id, chunk_id, doc_id, idx, question, qtype, difficulty, ga_pair_id,
    genre, audience, fingerprint)."""

    name: ClassVar[str] = "questions"
    reads: ClassVar[tuple[str, ...]] = ("chunks",)
    writes: ClassVar[str] = "questions"
    role: ClassVar[str] = "question"
    prompt: ClassVar[str] = "questions"
    key: ClassVar[str] = "item_id"
    settings: QuestionSettings = Field(default_factory=QuestionSettings)
    plan: PlanSettings = Field(default_factory=PlanSettings)

    def inputs(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """The chunks the chunk selection kept (all chunks when it is not part of the build),
        once plain and once per GA pair of their document, each with its planned slots."""
        chunks = chunks_of(ctx.db_uri, ctx.doc_ids)
        if "select_chunks" in ctx.fingerprints:
            kept = selected_chunk_ids(ctx.db_uri, ctx.doc_ids, ctx.fp("select_chunks"))
            chunks = [c for c in chunks if c["chunk_id"] in kept]
        pairs = pairs_of(ctx.db_uri, ctx.doc_ids, ctx.fp("ga_pairs")) \
            if "ga_pairs" in ctx.fingerprints else {}
        return planned_items(chunks, pairs, self.count, self.plan)

    def done(self, ctx: BuildContext, rows: list[dict[str, Any]]) -> set[str]:
        have = store.read(ctx.db_uri, "questions", columns=["item_id"], where=(
            f"fingerprint = '{ctx.fp(self.name)}' AND " + store.sql_in("doc_id", ctx.doc_ids)))
        return set(have["item_id"].to_list())

    def count(self, chunk: dict[str, Any]) -> int:
        """How many questions this chunk gets."""
        return questions_per_chunk(chunk["n_tokens"], self.settings)

    def schema_for(self, row: dict[str, Any]) -> type[BaseModel]:
        return question_schema(self.count(row))

    def format_input(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return render("questions", text=row["text"], heading_path=row["heading_path"],
                      n=self.count(row), language_name=language_name(row.get("lang")),
                      slots=row["slots"], genre=row.get("genre") or "",
                      audience=row.get("audience") or "")

    def format_output(self, value: dict[str, Any], row: dict[str, Any],
                      reasoning: str = "") -> list[dict[str, Any]]:
        """``questions`` rows of one item; a question repeated within it is dropped. Type and
        difficulty are the planned ones of the slot, whatever the model wrote."""
        fp, rows, seen = row["output_fingerprint"], [], set()
        for idx, item in enumerate(value["questions"]):
            key = sha256_text(item["question"].strip().lower())
            if key in seen:
                continue
            seen.add(key)
            qtype, difficulty = row["slots"][idx]
            rows.append({
                "question_id": child_id(row["item_id"], fp, idx), "item_id": row["item_id"],
                "chunk_id": row["chunk_id"], "doc_id": row["doc_id"], "idx": idx,
                "question": item["question"].strip(), "qtype": qtype, "difficulty": difficulty,
                "ga_pair_id": row["ga_pair_id"], "genre": row["genre"],
                "audience": row["audience"], "fingerprint": fp,
            })
        return rows
