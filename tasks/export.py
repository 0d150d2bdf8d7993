"""export stage: split samples -> trainer files, ``dataset_info.json`` and ``samples.jsonl``.

Input: sample dicts (the flow joins ``samples``, ``clean_samples``, ``splits``, ``dedup_clusters``
and ``judgements``) with ``sample_id``, ``doc_id``, ``source``, ``page``, ``question``, ``answer``,
``cot`` and optionally ``split``, ``cluster_id``, ``scores`` ({clarity, faithfulness, relevance,
completeness, overall}), ``turns`` (follow-up ``(question, answer)`` pairs) and any other column.

Output, in the release folder (a contract other tools read; names must not change):
``<fmt>_<split>[_nocot].jsonl`` for fmt in alpaca/sharegpt/openai (``<fmt>[_nocot].jsonl`` when
no sample has a split), optional ``.json`` array twins, ``dataset_info.json`` (LLaMA-Factory
registry of every trainer file) and ``samples.jsonl`` (one row per exported sample).
CoT goes before the answer as ``<think>\\n{cot}\\n</think>\\n\\n{answer}``, the form Qwen3 and
DeepSeek-R1 chat templates expect; ``*_nocot`` files hold the bare answer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import pydantic
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sftforge.formats import row_problems
from sftforge.jsonl import read_jsonl, write_json, write_jsonl
from sftforge.release.general_mix import GeneralMix, GeneralMixSettings, rows_for
from tasks.export_dpo import DPO_FILE, write_dpo_files

Format = Literal["alpaca", "sharegpt", "openai"]
SPLIT_NAMES = ("train", "val", "test")
DATASET_PREFIX = "sftforge_"
INFO_FILE = "dataset_info.json"
SAMPLES_FILE = "samples.jsonl"
CONTRACT_COLUMNS = ("sample_id", "doc_id", "source", "page", "question", "answer", "cot")
OPTIONAL_COLUMNS = ("split", "cluster_id", "scores", "checks")
# Every trainer file this module may write; anything matching it that the current export did
# not write is stale (e.g. ``alpaca.jsonl`` left over from before splits existed) and removed.
TRAINER_FILE = re.compile(r"^(alpaca|sharegpt|openai)(_(train|val|test))?(_nocot)?\.jsonl?$")
_THINK_TAG = re.compile(r"</?think>", re.IGNORECASE)


class ExportSettings(pydantic.BaseModel):
    """Which trainer files to write."""

    formats: list[Format] = pydantic.Field(default_factory=lambda: ["alpaca", "sharegpt", "openai"])
    # Put the CoT in a <think> block before the answer.
    with_cot: bool = True
    # Also write ``*_nocot`` twins with the bare answer (only meaningful when with_cot).
    also_without_cot: bool = True
    system_prompt: str | None = None
    jsonl: bool = True
    # Also (or instead) write a ``.json`` array file, for tools that do not read JSON Lines.
    json_array: bool = False
    # General-purpose rows mixed into the train split (sftforge.release.general_mix).
    general: GeneralMixSettings = pydantic.Field(default_factory=GeneralMixSettings)

    @pydantic.model_validator(mode="after")
    def _check(self) -> "ExportSettings":
        if not self.formats:
            raise ValueError("export needs at least one format")
        if not (self.jsonl or self.json_array):
            raise ValueError("export needs jsonl or json_array")
        self.formats = list(dict.fromkeys(self.formats))
        return self


# --- one sample -> one trainer row -------------------------------------------------------

def _system(system: str | None) -> str | None:
    """The system prompt, or None when empty: an empty ``system`` field is never written."""
    return system.strip() if system and system.strip() else None


def with_think(answer: str, cot: str | None, with_cot: bool) -> str:
    """``answer`` preceded by the CoT in a <think> block when asked for and non-empty."""
    # Stray tags inside the CoT would close the block early and teach the model broken markup.
    thought = _THINK_TAG.sub("", cot or "").strip()
    if not (with_cot and thought):
        return answer
    return f"<think>\n{thought}\n</think>\n\n{answer}"


def _follow_ups(turns: Any) -> list[tuple[str, str, str | None]]:
    """Follow-up turns as (question, answer, cot); accepts pairs, dicts or their JSON text."""
    if isinstance(turns, str):
        turns = json.loads(turns) if turns.strip() else []
    out = []
    for turn in turns or []:
        if isinstance(turn, dict):
            out.append((turn["question"], turn["answer"], turn.get("cot")))
        else:
            out.append((turn[0], turn[1], None))
    return out


def conversation(sample: dict[str, Any], with_cot: bool) -> list[tuple[str, str]]:
    """(user, assistant) turns: the sample's question/answer, then its ``turns`` follow-ups."""
    first = (sample["question"], sample["answer"], sample.get("cot"))
    rest = _follow_ups(sample.get("turns"))
    # Some producers store the whole dialogue in ``turns``, first exchange included.
    if rest and rest[0][:2] == first[:2]:
        rest = rest[1:]
    return [(q, with_think(a, c, with_cot)) for q, a, c in [first, *rest]]


def to_alpaca(sample: dict[str, Any], with_cot: bool, system: str | None) -> dict[str, Any]:
    """Alpaca row: instruction/input/output, earlier turns in ``history``, ``system`` if set."""
    turns = conversation(sample, with_cot)
    row: dict[str, Any] = {"instruction": turns[-1][0], "input": "", "output": turns[-1][1]}
    if len(turns) > 1:
        row["history"] = [list(t) for t in turns[:-1]]
    if _system(system):
        row["system"] = _system(system)
    return row


def to_sharegpt(sample: dict[str, Any], with_cot: bool, system: str | None) -> dict[str, Any]:
    """ShareGPT row: ``conversations`` alternating human/gpt, ``system`` if set."""
    messages = []
    for question, answer in conversation(sample, with_cot):
        messages += [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
    row: dict[str, Any] = {"conversations": messages}
    if _system(system):
        row["system"] = _system(system)
    return row


def to_openai(sample: dict[str, Any], with_cot: bool, system: str | None) -> dict[str, Any]:
    """OpenAI chat row: ``messages`` with an optional leading system message."""
    messages = [{"role": "system", "content": _system(system)}] if _system(system) else []
    for question, answer in conversation(sample, with_cot):
        messages += [{"role": "user", "content": question},
                     {"role": "assistant", "content": answer}]
    return {"messages": messages}


CONVERTERS: dict[str, Callable[[dict[str, Any], bool, str | None], dict[str, Any]]] = {
    "alpaca": to_alpaca, "sharegpt": to_sharegpt, "openai": to_openai,
}


# --- LLaMA-Factory registry ----------------------------------------------------------------

def _entry(file_name: str, fmt: str, present: set[str]) -> dict[str, Any]:
    """One ``dataset_info.json`` entry; optional columns only when the rows carry them."""
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "query": "input", "response": "output"}
        columns.update({c: c for c in ("system", "history") if c in present})
        return {"file_name": file_name, "columns": columns}
    if fmt == "sharegpt":
        columns = {"messages": "conversations"}
        columns.update({"system": "system"} if "system" in present else {})
        tags = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                "assistant_tag": "gpt"}
        return {"file_name": file_name, "formatting": "sharegpt", "columns": columns, "tags": tags}
    if fmt == "openai":
        # LLaMA-Factory reads OpenAI messages as sharegpt with role/content tags; the system
        # prompt is the leading system message, so no system column.
        tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                "assistant_tag": "assistant", "system_tag": "system"}
        return {"file_name": file_name, "formatting": "sharegpt",
                "columns": {"messages": "messages"}, "tags": tags}
    raise ValueError(f"unknown export format {fmt!r}")


def dataset_info(
    files: dict[str, tuple[str, str]], present: dict[str, set[str]] | None = None
) -> dict[str, Any]:
    """LLaMA-Factory registry: dataset name -> (file_name, format) becomes its entry.

    ``present`` maps a dataset name to the optional columns (``system``, ``history``) its rows
    carry; a column is declared only then, because LLaMA-Factory indexes every declared column.
    """
    present = present or {}
    return {name: _entry(f, fmt, present.get(name, set())) for name, (f, fmt) in files.items()}


# --- files ---------------------------------------------------------------------------------

# --- the release ---------------------------------------------------------------------------

def usable_samples(samples: list[dict[str, Any]]) -> tuple[list[dict], list[dict[str, str]]]:
    """Samples worth exporting, sorted by ``sample_id``, and the dropped ones with reasons."""
    kept: dict[str, dict] = {}
    dropped = []
    for s in samples:
        sid, reason = s["sample_id"], None
        if sid in kept:
            reason = "duplicate sample_id"
        elif not str(s.get("question") or "").strip():
            reason = "empty question"
        elif not str(s.get("answer") or "").strip():
            reason = "empty answer"
        elif s.get("split") is not None and s["split"] not in SPLIT_NAMES:
            reason = f"unknown split {s['split']!r}"
        elif s.get("turns") and (bad := row_problems(to_openai(s, True, None), "messages")):
            reason = f"invalid dialogue: {bad[0]}"  # the trainer would drop or misread it
        if reason:
            dropped.append({"sample_id": sid, "reason": reason})
        else:
            kept[sid] = s
    return [kept[sid] for sid in sorted(kept)], dropped


def by_split(samples: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    """Samples per split (key None when no sample has a split), empty splits left out."""
    with_split = sum(1 for s in samples if s.get("split"))
    if with_split == 0:
        return {None: samples}
    if with_split < len(samples):
        # Exporting the unsplit rest into some file would leak it; the flow must split first.
        raise ValueError(f"{len(samples) - with_split} of {len(samples)} samples have no split")
    groups = {name: [s for s in samples if s["split"] == name] for name in SPLIT_NAMES}
    return {name: rows for name, rows in groups.items() if rows}


def variants(settings: ExportSettings) -> list[tuple[str, bool]]:
    """(file name suffix, with_cot) of each variant to write."""
    if settings.with_cot and settings.also_without_cot:
        return [("", True), ("_nocot", False)]
    return [("", settings.with_cot)]


def _fill_history(rows: list[dict[str, Any]]) -> None:
    # One multi-turn row makes ``history`` a declared column, so every row needs a list there.
    if any("history" in r for r in rows):
        for r in rows:
            r.setdefault("history", [])


def _fill_system(rows: list[dict[str, Any]]) -> None:
    # General rows may bring their own system prompt; a declared column needs a value in every
    # row, and "" makes LLaMA-Factory use the template's default system prompt.
    if any("system" in r for r in rows):
        for r in rows:
            r.setdefault("system", "")


def write_trainer_files(
    out_dir: Path, samples: list[dict[str, Any]], settings: ExportSettings,
    mix: GeneralMix | None = None,
) -> tuple[dict[str, int], dict[str, tuple[str, str]], dict[str, set[str]]]:
    """Write every format x variant x split (general rows appended where ``mix`` says);
    returns rows per file, registry and columns."""
    counts, files, present = {}, {}, {}
    exts = [e for e, on in ((".jsonl", settings.jsonl), (".json", settings.json_array)) if on]
    for split, group in by_split(samples).items():
        for fmt in settings.formats:
            for suffix, cot in variants(settings):
                rows = [CONVERTERS[fmt](s, cot, settings.system_prompt) for s in group]
                if mix is not None:
                    rows += rows_for(mix.for_split(split, len(group)), fmt, cot)
                    _fill_system(rows)
                _fill_history(rows)
                stem = fmt + (f"_{split}" if split else "") + suffix
                for ext in exts:
                    path = out_dir / (stem + ext)
                    if ext == ".jsonl":
                        counts[path.name] = write_jsonl(path, rows)
                    else:
                        write_json(path, rows)
                        counts[path.name] = len(rows)
                    name = DATASET_PREFIX + stem + ("_json" if ext == ".json" else "")
                    files[name] = (path.name, fmt)
                    present[name] = {c for c in ("system", "history")
                                     if any(c in r for r in rows)}
    return counts, files, present


def sample_record(sample: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """A ``samples.jsonl`` row with ``columns`` in order (None where the sample lacks one)."""
    return {c: sample.get(c) for c in columns}


def samples_columns(samples: list[dict[str, Any]]) -> list[str]:
    """Contract columns first, then optional ones present anywhere, then the rest sorted."""
    seen = {k for s in samples for k in s}
    optional = [c for c in OPTIONAL_COLUMNS if c in seen]
    rest = sorted(seen - set(CONTRACT_COLUMNS) - set(OPTIONAL_COLUMNS))
    return [*CONTRACT_COLUMNS, *optional, *rest]


def merge_registry(out_dir: Path, ours: dict[str, Any]) -> dict[str, Any]:
    """``ours`` plus entries other stages registered earlier whose file still exists."""
    path = out_dir / INFO_FILE
    old = json.loads(path.read_text("utf-8")) if path.exists() else {}
    kept = {
        name: entry for name, entry in old.items()
        if not _ours(str(entry.get("file_name", "")))
        and (out_dir / str(entry.get("file_name", ""))).exists()
    }
    return {**kept, **ours}


def _ours(name: str) -> bool:
    """A file name this module (or its DPO part) writes."""
    return bool(TRAINER_FILE.match(name) or DPO_FILE.match(name))


def remove_stale(out_dir: Path, written: Iterable[str]) -> list[str]:
    """Delete trainer files of this module that the current export did not write."""
    keep = set(written)
    stale = [p for p in out_dir.iterdir() if _ours(p.name) and p.name not in keep]
    for p in stale:
        p.unlink()
    return sorted(p.name for p in stale)


def write_release(out_dir: Path, samples: list[dict[str, Any]], settings: ExportSettings) -> dict:
    """Write trainer files, ``dataset_info.json`` and ``samples.jsonl`` into ``out_dir``.

    Returns ``{"files": {file_name: rows}, "samples": n, "dropped": [{sample_id, reason}],
    "removed": [stale file names]}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept, dropped = usable_samples(samples)
    mix = GeneralMix(settings.general) if settings.general.enabled else None
    counts, files, present = write_trainer_files(out_dir, kept, settings, mix)
    dpo_counts, dpo_entries, pairs = write_dpo_files(out_dir, kept, settings.system_prompt)
    counts.update(dpo_counts)
    removed = remove_stale(out_dir, counts)
    registry = {**dataset_info(files, present), **dpo_entries}
    write_json(out_dir / INFO_FILE, merge_registry(out_dir, registry))
    columns = samples_columns(kept)
    n = write_jsonl(out_dir / SAMPLES_FILE, (sample_record(s, columns) for s in kept))
    stats = {"files": counts, "samples": n, "dropped": dropped, "removed": removed}
    if pairs:
        stats["preferences"] = pairs
    if multi := [len(conversation(s, False)) for s in kept if s.get("turns")]:
        stats["dialogues"] = {"samples": len(multi), "by_turns": dict(Counter(map(str, multi)))}
    return {**stats, "general_mix": mix.report()} if mix is not None else stats


def run_export(out_dir: str, samples_path: str, settings: ExportSettings) -> dict:
    """Task body: export the sample dicts the flow wrote to ``samples_path`` (JSON Lines).

    A path keeps the task input small and hashable; the samples carry full texts.
    """
    stats = write_release(Path(out_dir), read_jsonl(samples_path), settings)
    get_run_logger().info(
        "export: %d samples, %d files, %d dropped", stats["samples"], len(stats["files"]),
        len(stats["dropped"]),
    )
    return stats


# No result cache: the effect is files on disk, which a cache hit would not recreate.
export_task = task(
    run_export, name="export", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE,
)
