"""dedup stage: kept ``clean_samples`` -> ``dedup_clusters`` (+ ``dedup_groups`` for the split).

Two passes over the corpus, in one union-find closure:

1. exact: a hash of the normalised question + answer (NFKC, lower case, whitespace and
   punctuation removed), so width, case and spacing variants collapse;
2. semantic: embeddings of ``question + "\\n" + answer`` (stored in LanceDB, one table per model,
   only new texts embedded), all pairs above the cosine threshold found by cluster-then-compare
   (``sftforge.embedding.near_dup``), edges only between samples of the same language so a translation is
   never dropped as a duplicate of its original.

With ``with_earlier``, every earlier sample with a stored embedding or an earlier
``dedup_clusters`` row takes part too; the build stage clusters only its own candidates (every
sample of the documents in its input), so a removed or replaced document never drops a sample. Each cluster keeps
its best sample (judge score, then longer answer, then smaller id) and the rest point at it.
Groups for the split use the lower ``group_threshold`` and ignore language, since a translated
test item leaks as surely as a paraphrased one.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import BaseModel, Field

from sftforge import selection, store
from sftforge.embedding import embedders as embed
from sftforge.ids import canonical_json, fingerprint, sha256_text
from sftforge.embedding.near_dup import (  # noqa: F401 (exact_pairs is part of this stage's API)
    DEFAULT_PROBES,
    components,
    exact_pairs,
    near_duplicate_pairs,
    stable_ids,
)
from sftforge.schemas import schema_of
from sftforge.stage import BuildContext, CurationStage, StageStats
from tasks.judge import rank_scores

log = logging.getLogger(__name__)

# Calibrated (threshold, group_threshold) per model from the planted web-security set in
# /work/notes/dedup_report.md: USE puts every planted paraphrase >= 0.71 and every different
# question <= 0.67 (en) / 0.62 (zh). minilm and e5 have no clean gap; theirs favour precision.
CALIBRATED: dict[str, tuple[float, float]] = {
    embed.MULTILINGUAL: (0.70, 0.65),
    embed.ENGLISH: (0.80, 0.70),
    "e5-small": (0.94, 0.93),
}
GROUPS_TABLE = "dedup_groups"
GROUPS_SCHEMA = schema_of(GROUPS_TABLE)
# Unicode punctuation, symbols and whitespace: folded away by the exact pass.
_FOLD = r"[\p{P}\p{S}\s]+"


class DedupSettings(BaseModel):
    """Dedup parameters; ``None`` thresholds mean the chosen model's calibrated values."""

    threshold: float | None = None
    group_threshold: float | None = None
    embedder: str = "auto"
    kmeans_k: int | None = None
    probes: int = DEFAULT_PROBES
    # Drop a sample as a duplicate of one in another language (off: translations are kept).
    cross_lingual: bool = False

    def resolved(self, model: str) -> tuple[float, float]:
        """``(threshold, group_threshold)`` for ``model``; group never above the threshold."""
        thr, grp = CALIBRATED.get(model, CALIBRATED[embed.MULTILINGUAL])
        thr = self.threshold if self.threshold is not None else thr
        grp = self.group_threshold if self.group_threshold is not None else min(grp, thr)
        return thr, min(grp, thr)


def dedup_fingerprint(settings: DedupSettings, model: str) -> str:
    """Stage fingerprint: model, thresholds, search parameters and the embedded text recipe."""
    thr, grp = settings.resolved(model)
    return fingerprint("dedup", model=model, threshold=thr, group_threshold=grp,
                       k=settings.kmeans_k, probes=settings.probes,
                       cross_lingual=settings.cross_lingual, text="question\\nanswer")


def normalised_key(texts: pl.Expr) -> pl.Expr:
    """Exact-pass key of a text column: NFKC, lower case, punctuation/space removed, hashed.

    The 64-bit polars hash is only compared within one run (never stored), so its value may
    change between polars versions without harm; a collision needs ~4e9 distinct texts.
    """
    folded = texts.str.normalize("NFKC").str.to_lowercase().str.replace_all(_FOLD, "")
    return folded.hash(seed=0).cast(pl.Utf8)


def rank_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``_rank`` (0 = best) by score desc (missing last), answer length desc, sample_id."""
    score = frame["score"] if "score" in frame.columns else pl.Series([None] * len(frame), dtype=pl.Float64)
    ranked = frame.with_columns(score.cast(pl.Float64).fill_nan(None).alias("_score"),
                                pl.col("answer").str.len_chars().alias("_len"))
    order = ranked.select(pl.int_range(pl.len()).alias("_pos"), "_score", "_len", "sample_id").sort(
        ["_score", "_len", "sample_id"], descending=[True, True, False], nulls_last=True)
    rank = np.empty(len(frame), np.int64)
    rank[order["_pos"].to_numpy()] = np.arange(len(frame))
    return ranked.with_columns(pl.Series("_rank", rank)).drop(["_score", "_len"])


def exact_pass(frame: pl.DataFrame) -> pl.DataFrame:
    """Exact duplicates by normalised question + answer.

    Input columns: ``sample_id``, ``question``, ``answer`` (optional ``score``). Output:
    ``sample_id``, ``exact_key``, ``duplicate_of`` (the group's best sample, null for it).
    """
    keyed = rank_columns(frame).with_columns(
        normalised_key(pl.col("question") + "\n" + pl.col("answer")).alias("exact_key"))
    best = keyed.sort("_rank").group_by("exact_key", maintain_order=True).agg(
        pl.col("sample_id").first().alias("_best"))
    out = keyed.join(best, on="exact_key", how="left", maintain_order="left")
    return out.select("sample_id", "exact_key", pl.when(pl.col("_best") != pl.col("sample_id"))
                      .then(pl.col("_best")).otherwise(None).alias("duplicate_of"))


def read_kept(db_uri: str) -> pl.DataFrame:
    """Kept ``clean_samples`` rows: ``sample_id``, ``question``, ``answer``."""
    frame = store.read(db_uri, "clean_samples", columns=["sample_id", "question", "answer", "kept"])
    return frame.filter(pl.col("kept").fill_null(False)).drop("kept").with_columns(
        pl.col("question").fill_null(""), pl.col("answer").fill_null(""))


def earlier_ids(db_uri: str, model: str) -> set[str]:
    """Samples deduped or embedded by earlier builds (every earlier version)."""
    seen = set(store.read(db_uri, "dedup_clusters", columns=["sample_id"])["sample_id"].to_list())
    return seen | set(embed.stored_keys(db_uri, model)["sample_id"].to_list())


def load_universe(db_uri: str, sample_ids: list[str], settings: DedupSettings,
                  with_earlier: bool = True) -> tuple[pl.DataFrame, str]:
    """The samples to cluster and the model: ``sample_ids`` (``is_new``) plus, when
    ``with_earlier``, every earlier deduped or embedded one.

    Output columns: ``sample_id``, ``question``, ``answer``, ``text``, ``lang``, ``is_new``,
    sorted by ``sample_id`` so every run sees the same order.
    """
    kept = read_kept(db_uri)
    wanted = set(sample_ids)
    new = kept.filter(pl.col("sample_id").is_in(list(wanted)))
    new_langs = embed.detect_langs(sample_text_series(new).to_list())
    model = embed.choose_embedder(set(new_langs), settings.embedder)
    pool = wanted | earlier_ids(db_uri, model) if with_earlier else wanted
    frame = kept.filter(pl.col("sample_id").is_in(list(pool))).sort("sample_id")
    text = sample_text_series(frame)
    return frame.with_columns(
        text.alias("text"), pl.Series("lang", embed.detect_langs(text.to_list()), pl.Utf8),
        pl.col("sample_id").is_in(list(wanted)).alias("is_new")), model


def sample_text_series(frame: pl.DataFrame) -> pl.Series:
    """Embedded text of each row: ``question + "\n" + answer``.

    Measured on the planted set: the question alone misses paraphrases (margin -0.33 with USE:
    reworded questions share few words) and the answer alone barely separates (+0.01); the pair
    carries both what is asked and what is taught, and that pair is what an SFT duplicate is.
    """
    return frame.select(pl.col("question") + "\n" + pl.col("answer"))["question"]


def aligned_vectors(db_uri: str, model: str, sample_ids: list[str]) -> np.ndarray:
    """Vectors of ``sample_ids`` in that order (rows must have been embedded)."""
    ids, vectors = embed.load_vectors(db_uri, model, sample_ids)
    pos = {sid: n for n, sid in enumerate(ids)}
    missing = [s for s in sample_ids if s not in pos]
    if missing:
        raise RuntimeError(f"{len(missing)} samples have no stored embedding, e.g. {missing[:3]}")
    return vectors[[pos[s] for s in sample_ids]]


def semantic_edges(vectors: np.ndarray, langs: list[str], settings: DedupSettings,
                   thr: float, grp: float) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(dedup edges, group edges)`` as ``(i, j)`` position arrays from one pair search.

    One search at the lower group threshold serves both; dedup edges also need the same
    language unless ``cross_lingual``.
    """
    i, j, cos = near_duplicate_pairs(vectors, grp, settings.kmeans_k, settings.probes)
    keep = cos >= thr
    if not settings.cross_lingual:
        codes = pl.Series(langs).cast(pl.Categorical).to_physical().to_numpy()
        keep &= codes[i] == codes[j]
    return (i[keep], j[keep]), (i, j)


def best_of(labels: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Position of the best-ranked member of each row's component (the kept representative)."""
    order = np.lexsort((rank, labels))
    sorted_labels = labels[order]
    first = np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]
    rep_for_label = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    rep_for_label[sorted_labels[first]] = order[first]
    return rep_for_label[labels]


def exact_edges(frame: pl.DataFrame, exact: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``(member, representative)`` of the exact pass, as positions in ``frame``."""
    pos = frame.select("sample_id", pl.int_range(pl.len()).alias("p"))
    dups = exact.filter(pl.col("duplicate_of").is_not_null())
    dups = dups.join(pos, on="sample_id").join(pos.rename({"sample_id": "duplicate_of", "p": "q"}),
                                               on="duplicate_of")
    return dups["p"].to_numpy().astype(np.int64), dups["q"].to_numpy().astype(np.int64)


def cluster_rows(frame: pl.DataFrame, vectors: np.ndarray, edges: tuple[np.ndarray, np.ndarray],
                 previous: dict[str, str], fp: str) -> pl.DataFrame:
    """``dedup_clusters`` rows for every sample of ``frame`` (needs ``_rank``, ``exact_key``).

    ``method`` is "exact" when a duplicate's normalised text equals its representative's,
    else "semantic"; ``similarity`` is the cosine to the representative (1.0 for exact/kept).
    """
    ids = frame["sample_id"].to_list()
    labels = components(len(ids), *edges)
    rep = best_of(labels, frame["_rank"].to_numpy())
    kept = rep == np.arange(len(ids))
    keys = frame["exact_key"].to_numpy()
    is_exact = ~kept & (keys == keys[rep])
    cos = np.einsum("ij,ij->i", vectors, vectors[rep]).astype(np.float64)
    rep_ids = np.asarray(ids, dtype=object)[rep]
    return pl.DataFrame({
        "sample_id": ids,
        "cluster_id": stable_ids(labels, ids, previous),
        "duplicate_of": [None if k else r for k, r in zip(kept, rep_ids)],
        "method": np.where(kept, "", np.where(is_exact, "exact", "semantic")).tolist(),
        "similarity": np.where(kept | is_exact, 1.0, np.round(cos, 4)),
        "kept": kept,
        "fingerprint": [fp] * len(ids),
    }, schema={"sample_id": pl.Utf8, "cluster_id": pl.Utf8, "duplicate_of": pl.Utf8,
               "method": pl.Utf8, "similarity": pl.Float64, "kept": pl.Boolean, "fingerprint": pl.Utf8})


def previous_names(db_uri: str, table: str, column: str) -> dict[str, str]:
    """``sample_id -> column`` from an earlier build's ``table`` (empty if none)."""
    if not store.table_exists(db_uri, table):
        return {}
    frame = pl.from_arrow(store.connect(db_uri).open_table(table).to_arrow().select(["sample_id", column]))
    return dict(zip(frame["sample_id"].to_list(), frame[column].to_list()))


def write_changed(db_uri: str, table: str, rows: pl.DataFrame, schema: pa.Schema) -> int:
    """Upsert the rows of ``rows`` that differ from what ``table`` holds; returns rows written."""
    if store.table_exists(db_uri, table):
        old = pl.from_arrow(store.connect(db_uri).open_table(table).to_arrow().select(schema.names))
        rows = rows.join(old.cast(dict(rows.schema)), on=schema.names, how="anti", nulls_equal=True)
    return store.upsert(db_uri, table, rows.to_arrow(), key="sample_id", schema=schema)


def duplicate_reason(method: str, duplicate_of: str | None, similarity: float | None) -> str:
    """Drop reason of a ``dedup_clusters`` row for the dataset card ("" when kept)."""
    if not duplicate_of:
        return ""
    if method == "exact":
        return f"exact duplicate of {duplicate_of}"
    return f"near duplicate of {duplicate_of} (cosine {similarity:.2f})"


def _stats(frame: pl.DataFrame, rows: pl.DataFrame, groups: pl.DataFrame) -> dict[str, int]:
    """Counts over the requested samples (``is_new``) for the stage summary."""
    new = rows.filter(frame["is_new"])
    multi = rows.group_by("cluster_id").len().filter(pl.col("len") > 1)["cluster_id"]
    multi_groups = groups.group_by("group_id").len().filter(pl.col("len") > 1)["group_id"]
    return {
        "kept": int(new["kept"].sum()),
        "exact_duplicates": int((new["method"] == "exact").sum()),
        "semantic_duplicates": int((new["method"] == "semantic").sum()),
        "clusters": int(new.filter(pl.col("cluster_id").is_in(multi.implode()))["cluster_id"].n_unique()),
        "groups": int(groups.filter(frame["is_new"] & pl.col("group_id").is_in(multi_groups.implode()))
                      ["group_id"].n_unique()),
        "earlier": int((~frame["is_new"]).sum()),
    }


def dedup_samples(db_uri: str, sample_ids: list[str], settings: DedupSettings,
                  scores: dict[str, float] | None = None,
                  with_earlier: bool = True) -> dict[str, Any]:
    """Cluster the kept ``clean_samples`` rows of ``sample_ids`` with every earlier sample
    (only with each other when not ``with_earlier``).

    Reads ``clean_samples`` (question, answer, kept), ``embeddings_<model>``, earlier
    ``dedup_clusters``/``dedup_groups``; writes ``dedup_clusters`` (sample_id, cluster_id,
    duplicate_of, method, similarity, kept, fingerprint) and ``dedup_groups`` (sample_id,
    group_id, fingerprint), changed rows only. ``scores``: sample_id -> judge overall.
    """
    frame, model = load_universe(db_uri, sample_ids, settings, with_earlier)
    thr, grp = settings.resolved(model)
    fp = dedup_fingerprint(settings, model)
    embedded = embed.embed_and_store(db_uri, model, dict(zip(frame["sample_id"], frame["text"])))
    stats: dict[str, Any] = {"in": len(set(sample_ids)), "embedded": embedded, "model": model,
                             "threshold": thr, "group_threshold": grp, "fingerprint": fp}
    if frame.is_empty():
        return {**stats, "kept": 0, "exact_duplicates": 0, "semantic_duplicates": 0,
                "clusters": 0, "groups": 0, "earlier": 0, "written": 0}
    score_col = pl.Series("score", [(scores or {}).get(s) for s in frame["sample_id"]], pl.Float64)
    frame = rank_columns(frame.with_columns(score_col))
    exact = exact_pass(frame)
    frame = frame.join(exact.select("sample_id", "exact_key"), on="sample_id", maintain_order="left")
    vectors = aligned_vectors(db_uri, model, frame["sample_id"].to_list())
    (di, dj), (gi, gj) = semantic_edges(vectors, frame["lang"].to_list(), settings, thr, grp)
    ei, ej = exact_edges(frame, exact)
    rows = cluster_rows(frame, vectors, (np.r_[ei, di], np.r_[ej, dj]),
                        previous_names(db_uri, "dedup_clusters", "cluster_id"), fp)
    group_labels = components(len(frame), np.r_[ei, gi], np.r_[ej, gj])
    ids = frame["sample_id"].to_list()
    groups = pl.DataFrame({"sample_id": ids, "group_id": stable_ids(
        group_labels, ids, previous_names(db_uri, GROUPS_TABLE, "group_id")), "fingerprint": fp})
    written = write_changed(db_uri, "dedup_clusters", rows, schema_of("dedup_clusters"))
    write_changed(db_uri, GROUPS_TABLE, groups, GROUPS_SCHEMA)
    stats = {**stats, **_stats(frame, rows, groups), "written": written}
    log.info("dedup %s", stats)
    return stats


def _short(text: str, width: int = 90) -> str:
    """One-line, pipe-safe excerpt for a Markdown table cell."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _band_examples(frame: pl.DataFrame, pairs: pl.DataFrame, per_cutoff: int) -> list[str]:
    """Table lines for up to ``per_cutoff`` pairs spread over the band's cosine range."""
    band = pairs.sort("cos", descending=True)
    picks = np.unique(np.linspace(0, len(band) - 1, min(per_cutoff, len(band))).round().astype(int))
    lines = ["| cos | langs | sample A (question / answer) | sample B (question / answer) |",
             "|---|---|---|---|"]
    for row in band[picks.tolist()].iter_rows(named=True):
        a, b = frame.row(row["i"], named=True), frame.row(row["j"], named=True)
        cell = lambda r: _short(r["question"], 70) + " / " + _short(r["answer"], 90)  # noqa: E731
        lines.append(f"| {row['cos']:.3f} | {a['lang']}/{b['lang']} | {cell(a)} | {cell(b)} |")
    return lines


def calibration_report(db_uri: str, settings: DedupSettings,
                       cutoffs: tuple[float, ...] = (0.95, 0.9, 0.85, 0.8, 0.75),
                       per_cutoff: int = 5, sample_ids: list[str] | None = None) -> str:
    """Markdown report of sample pairs per cosine band so a user can choose the threshold.

    Reads kept ``clean_samples`` (only ``sample_ids`` when given: a release shows its own
    build's texts, never those of documents it no longer covers) and their stored embeddings
    (embedding what is missing). For each band ``[cutoff, next higher cutoff)``: pair count,
    samples a threshold at that cutoff would drop (same-language pairs, as the stage does),
    and example pairs with both texts.
    """
    kept = read_kept(db_uri).sort("sample_id")
    if sample_ids is not None:
        kept = kept.filter(pl.col("sample_id").is_in(sample_ids))
    text = sample_text_series(kept)
    frame = kept.with_columns(pl.Series("lang", embed.detect_langs(text.to_list()), pl.Utf8))
    model = embed.choose_embedder(set(frame["lang"].to_list()), settings.embedder)
    embed.embed_and_store(db_uri, model, dict(zip(frame["sample_id"], text)))
    vectors = aligned_vectors(db_uri, model, frame["sample_id"].to_list())
    cuts = sorted(cutoffs, reverse=True)
    i, j, cos = near_duplicate_pairs(vectors, cuts[-1], settings.kmeans_k, settings.probes)
    langs = frame["lang"].to_numpy()
    pairs = pl.DataFrame({"i": i, "j": j, "cos": cos, "same": langs[i] == langs[j]})
    thr, grp = settings.resolved(model)
    out = [f"# Dedup threshold calibration: `{model}`", "",
           f"{len(frame)} kept samples; current threshold {thr:.2f}, group threshold {grp:.2f}. "
           "Pairs in other languages are never dropped (unless `cross_lingual`), only grouped.", "",
           "| cutoff | pairs in band | pairs >= cutoff | samples dropped at cutoff |", "|---|---|---|---|"]
    sections: list[str] = []
    for n, cut in enumerate(cuts):
        upper = cuts[n - 1] if n else 1.01
        band = pairs.filter((pl.col("cos") >= cut) & (pl.col("cos") < upper))
        above = pairs.filter((pl.col("cos") >= cut) & pl.col("same"))
        labels = components(len(frame), above["i"].to_numpy(), above["j"].to_numpy())
        dropped = len(frame) - len(np.unique(labels))
        out.append(f"| {cut:.2f} | {len(band)} | {len(pairs.filter(pl.col('cos') >= cut))} | {dropped} |")
        sections += ["", f"## cosine {cut:.2f} to {min(upper, 1.0):.2f}: {len(band)} pairs", ""]
        sections += _band_examples(frame, band, per_cutoff) if len(band) else ["(none)"]
    return "\n".join(out + sections) + "\n"


def drop_reasons(db_uri: str, sample_ids: list[str]) -> dict[str, str]:
    """sample_id -> ``duplicate_<method>`` for the samples that are not their cluster's kept one."""
    rows = store.read(db_uri, "dedup_clusters", where=store.sql_in("sample_id", sample_ids),
                      columns=["sample_id", "kept", "method"])
    dups = rows.filter(~rows["kept"])
    return {s: f"duplicate_{m}" for s, m in zip(dups["sample_id"].to_list(),
                                                 dups["method"].to_list())}


class DedupStage(CurationStage):
    """Candidates' ``clean_samples`` (+ judge scores) -> ``dedup_clusters``/``dedup_groups``;
    drops every sample that is not its cluster's best-judged member.

    Global: every build clusters all its candidates, embedding only new texts
    (``embeddings_<model>``), so it runs every build instead of on pending items. Only this
    build's candidates take part: every sample of a document still in the input is one, so
    what is left out are samples of removed or replaced documents (and of old fingerprints),
    which are not in the release and must not drop a sample that is.
    """

    name: ClassVar[str] = "dedup"
    reads: ClassVar[tuple[str, ...]] = ("clean_samples", "judgements", "verifications",
                                        "selection")
    writes: ClassVar[str] = "dedup_clusters"
    settings: DedupSettings = Field(default_factory=DedupSettings)

    def select(self, ctx: BuildContext) -> StageStats:
        ids = self.candidates(ctx)
        scores = rank_scores(ctx, ids)  # the judge's overall, or the verifier's weakest check
        stats = dedup_samples(ctx.db_uri, ids, self.settings, scores,
                              with_earlier=False) if ids else {}
        drops = drop_reasons(ctx.db_uri, ids) if ids else {}
        selection.drop(ctx.db_uri, ctx.run_id, self.name, drops)
        return StageStats(stage=self.name, items_in=len(ids), kept=len(ids) - len(drops),
                          dropped=dict(Counter(drops.values())), extra=stats)
