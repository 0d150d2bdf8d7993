"""Arrow schemas of the LanceDB tables, one per stage output.

Fixed schemas keep column types stable across runs (an empty batch never changes a type) and
let every stage create its table before the first write. Id columns are content hashes.
"""

from __future__ import annotations

import pyarrow as pa

S = pa.string()
I = pa.int64()
F = pa.float64()
B = pa.bool_()

TABLES: dict[str, tuple[str, pa.Schema]] = {
    # ingest: one row per input file, parsed or quarantined.
    "documents": ("doc_id", pa.schema([
        ("doc_id", S), ("path", S), ("source", S), ("title", S), ("lang", S),
        ("n_pages", I), ("status", S), ("reason", S), ("toc", S), ("blocks", S),
        ("fingerprint", S), ("ingested_at", S),
        # screening: spans a reader cannot see (left out of blocks), a redacted sample of
        # them, and flags: JSON list of {flag, detail} (hidden_text, hidden_instructions,
        # prompt_injection)
        ("hidden_spans", I), ("hidden_sample", S), ("flags", S),
    ])),
    # chunk: structure-aware pieces of one document with their heading path and page span.
    "chunks": ("chunk_id", pa.schema([
        ("chunk_id", S), ("doc_id", S), ("source", S), ("idx", I), ("text", S),
        ("heading_path", S), ("page_start", I), ("page_end", I), ("n_tokens", I),
        ("lang", S), ("fingerprint", S),
    ])),
    # select_chunks: kind and substance of each chunk, and whether it gets questions (why not).
    "chunk_selection": ("chunk_id", pa.schema([
        ("chunk_id", S), ("doc_id", S), ("kind", S), ("substance", F), ("selected", B),
        ("reason", S), ("fingerprint", S),
    ])),
    # questions: exactly N per chunk.
    "questions": ("question_id", pa.schema([
        ("question_id", S), ("chunk_id", S), ("doc_id", S), ("idx", I), ("question", S),
        ("qtype", S), ("difficulty", S), ("fingerprint", S),
        # planned slots and GA variants: item_id = chunk_id, or (chunk, GA pair) for a pair
        ("item_id", S), ("ga_pair_id", S), ("genre", S), ("audience", S),
    ])),
    # answers: one sample per question, answer grounded in the chunk, CoT apart.
    "samples": ("sample_id", pa.schema([
        ("sample_id", S), ("question_id", S), ("chunk_id", S), ("doc_id", S), ("source", S),
        ("page", I), ("question", S), ("answer", S), ("cot", S), ("citations", S),
        ("citations_removed", I), ("qtype", S), ("difficulty", S), ("model", S), ("fingerprint", S),
        ("genre", S), ("audience", S),
    ])),
    # ga_pairs: genre x audience pairs proposed per document (GA augmentation).
    "ga_pairs": ("pair_id", pa.schema([
        ("pair_id", S), ("doc_id", S), ("idx", I), ("genre", S), ("audience", S),
        ("fingerprint", S),
    ])),
    # domain_tree: topic tree of the corpus; ids and labels stay, nodes are retired, not deleted.
    # origin: llm | pinned (from the user's tree file); status: active | retired.
    "domain_nodes": ("node_id", pa.schema([
        ("node_id", S), ("parent_id", S), ("label", S), ("description", S), ("level", I),
        ("origin", S), ("status", S), ("created_run", S),
    ])),
    # domain_tree: the documents the tree has taken in, and the nodes each one supports.
    "domain_tree_docs": ("doc_id", pa.schema([
        ("doc_id", S), ("node_ids", S), ("run_id", S),
    ])),
    # tag_nodes: the domain node of each question (embedding similarity to node descriptions).
    "question_nodes": ("question_id", pa.schema([
        ("question_id", S), ("doc_id", S), ("node_id", S), ("similarity", F), ("fingerprint", S),
    ])),
    # the failure ledger: every item an LLM stage gave up on, with its reason and raw output.
    "failures": ("failure_id", pa.schema([
        ("failure_id", S), ("stage", S), ("item_id", S), ("doc_id", S), ("error", S),
        ("raw_output", S), ("attempts", I), ("fingerprint", S), ("failed_at", S),
    ])),
    # clean: cleaned text of each sample plus keep/drop and the drop reason; ``trimmed`` is the
    # JSON list of unsupported last sentences cut from the answer ("" when none).
    "clean_samples": ("sample_id", pa.schema([
        ("sample_id", S), ("question", S), ("answer", S), ("cot", S), ("citations", S),
        ("cot_reason", S), ("kept", B), ("reason", S), ("pii", S), ("fingerprint", S),
        ("trimmed", S),
        # sample rules and observed labels: flags (JSON list of findings kept, e.g.
        # heading_citation under "flag"), question_original (the question before its subject
        # was supplied, "" when not rewritten), qtype/difficulty as observed, the plan's beside
        ("flags", S), ("question_original", S), ("qtype", S), ("difficulty", S),
        ("planned_qtype", S), ("planned_difficulty", S),
    ])),
    # dedup: cluster of each kept sample; non-representatives are duplicates of the kept one.
    "dedup_clusters": ("sample_id", pa.schema([
        ("sample_id", S), ("cluster_id", S), ("duplicate_of", S), ("method", S),
        ("similarity", F), ("kept", B), ("fingerprint", S),
    ])),
    # dedup: looser near-duplicate groups, so related samples never straddle two splits.
    "dedup_groups": ("sample_id", pa.schema([
        ("sample_id", S), ("group_id", S), ("fingerprint", S),
    ])),
    # grounding: share of an answer's sentences its chunk supports (no LLM), per answer text.
    "groundings": ("grounding_id", pa.schema([
        ("grounding_id", S), ("sample_id", S), ("score", F), ("unsupported", S),
        ("fingerprint", S),
    ])),
    # judge: scores per sample and judge fingerprint; thresholds are applied elsewhere.
    "judgements": ("judgement_id", pa.schema([
        ("judgement_id", S), ("sample_id", S), ("clarity", I), ("faithfulness", I),
        ("relevance", I), ("completeness", I), ("overall", F), ("reason", S),
        ("injection_suspected", B), ("model", S), ("fingerprint", S),
    ])),
    # verify: P(yes) of each yes/no check per sample text and verifier fingerprint (None: not
    # asked); method: "logprobs" or "reply"; thresholds are applied elsewhere.
    "verifications": ("verification_id", pa.schema([
        ("verification_id", S), ("sample_id", S), ("supported", F), ("answers", F),
        ("self_contained", F), ("method", S), ("model", S), ("fingerprint", S),
    ])),
    # selection: per build, whether each candidate sample is kept, and which stage dropped it.
    "selection": ("selection_id", pa.schema([
        ("selection_id", S), ("run_id", S), ("sample_id", S), ("doc_id", S), ("stage", S),
        ("kept", B), ("reason", S),
    ])),
    # split: stable train/val/test assignment of each selected sample.
    "splits": ("sample_id", pa.schema([
        ("sample_id", S), ("cluster_id", S), ("split", S), ("group_key", S),
    ])),
    # dialogues: follow-up turns of a kept sample (cleaned, PII-scrubbed), kept or why not.
    "dialogues": ("dialogue_id", pa.schema([
        ("dialogue_id", S), ("sample_id", S), ("doc_id", S), ("turns", S), ("n_turns", I),
        ("kept", B), ("reason", S), ("pii", S), ("model", S), ("fingerprint", S),
    ])),
    # preferences: a deliberately degraded answer per kept sample (cleaned, PII-scrubbed).
    "rejected_answers": ("rejected_id", pa.schema([
        ("rejected_id", S), ("sample_id", S), ("doc_id", S), ("question", S), ("rejected", S),
        ("kind", S), ("kept", B), ("reason", S), ("pii", S), ("model", S), ("fingerprint", S),
    ])),
    # preferences: the judge's scores of each rejected answer (the judgements columns).
    "rejected_judgements": ("judgement_id", pa.schema([
        ("judgement_id", S), ("rejected_id", S), ("sample_id", S), ("clarity", I),
        ("faithfulness", I), ("relevance", I), ("completeness", I), ("overall", F),
        ("reason", S), ("injection_suspected", B), ("model", S), ("fingerprint", S),
    ])),
    # preferences: per build, whether each kept sample makes a DPO pair, and why not.
    "preference_pairs": ("pair_id", pa.schema([
        ("pair_id", S), ("run_id", S), ("sample_id", S), ("rejected_id", S),
        ("chosen_score", F), ("rejected_score", F), ("margin", F), ("kept", B), ("reason", S),
    ])),
    # review: the audit sample drawn from one release (stratified, reproducible by seed).
    "audit_samples": ("audit_id", pa.schema([
        ("audit_id", S), ("release_version", S), ("sample_id", S), ("position", I),
        ("stratum", S), ("seed", I),
    ])),
    # review: every human verdict (accept / reject / edit), kept as a log; the latest wins.
    "reviews": ("review_id", pa.schema([
        ("review_id", S), ("release_version", S), ("sample_id", S), ("reviewer", S),
        ("reviewed_at", S), ("verdict", S), ("reason", S), ("note", S), ("question", S),
        ("answer", S), ("origin", S),
    ])),
}


def key_of(table: str) -> str:
    """Id column of ``table``."""
    return TABLES[table][0]


def schema_of(table: str) -> pa.Schema:
    """Arrow schema of ``table``."""
    return TABLES[table][1]
