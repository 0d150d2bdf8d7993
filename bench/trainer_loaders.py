"""Load dataset files through the trainers' own code and fail on any row they drop or empty.

Run with each trainer's venv (``infra/install_trainers.sh``; the two trainers need different
``datasets`` releases, so one venv each), never the project's:

    ~/.cache/sftforge/trainers/llamafactory/bin/python bench/trainer_loaders.py RELEASE_DIR_OR_FILES... [--json]
    ~/.cache/sftforge/trainers/ms-swift/bin/python bench/trainer_loaders.py RELEASE_DIR_OR_FILES... [--json]

Each run checks with the trainers importable in its interpreter (or those named by --trainers).

LLaMA-Factory: every file registered in ``dataset_info.json`` beside it (a file without an entry
is an error) goes through ``llamafactory.data.loader._load_single_dataset`` (the file loading
plus the format converter, ``align_dataset``), then the row rule of its supervised/pairwise
processors (``_prompt`` of odd length, one ``_response``, two for ranking rows), and every
aligned text must be non-empty.
ms-swift: every file in a form it reads (not LLaMA-Factory's dpo-* forms) goes through
``swift.dataset.load_dataset`` (``AutoPreprocessor``, which deletes rows it cannot read);
each row must keep a non-empty last assistant message (and ``rejected_response`` for pairs).

Prints per file and trainer: rows in / rows kept after the trainer's conversion; exits 1 on
any loss, 2 when a trainer cannot be imported or a file cannot be loaded at all.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# Offline: a hub lookup here would hang on this network and hide the real result.
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("USE_MODELSCOPE_HUB", "0")

SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
INFO = "dataset_info.json"


def rows_in(path: Path) -> int:
    """Rows in the file as written (what the trainer was given)."""
    if path.suffix == ".jsonl":
        return sum(1 for line in path.open(encoding="utf-8") if line.strip())
    import datasets
    kind = {".json": "json", ".parquet": "parquet", ".csv": "csv"}[path.suffix]
    return len(datasets.load_dataset(kind, data_files=str(path), split="train"))


def _texts_ok(messages: list[dict[str, Any]]) -> bool:
    return all(isinstance(m.get("content"), str) and m["content"].strip() for m in messages)


def llamafactory_kept(path: Path, name: str, cache: str) -> tuple[int, list[str]]:
    """(rows kept, problems) after LLaMA-Factory's loader + converter for ``name``."""
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    attr = get_dataset_list([name], str(path.parent))[0]
    data_args = DataArguments(dataset_dir=str(path.parent), overwrite_cache=True)
    model_args = ModelArguments(model_name_or_path="none", cache_dir=cache)
    training_args = Seq2SeqTrainingArguments(output_dir=cache, report_to=[])
    aligned = _load_single_dataset(attr, model_args, data_args, training_args)
    kept, problems = 0, []
    for i, row in enumerate(aligned, 1):
        prompt, response = row["_prompt"], row["_response"]
        want = 2 if attr.ranking else 1
        if len(prompt) % 2 != 1 or len(response) != want:
            problems.append(f"row {i}: dropped by LLaMA-Factory (prompt {len(prompt)} "
                            f"messages, response {len(response)})")
        elif not _texts_ok(prompt + response):
            problems.append(f"row {i}: an empty message after LLaMA-Factory's conversion")
        else:
            kept += 1
    return kept, problems


def _first_row(path: Path) -> dict[str, Any]:
    if path.suffix == ".jsonl":
        for line in path.open(encoding="utf-8"):
            if line.strip():
                return json.loads(line)
    if path.suffix == ".json":
        data = json.loads(path.read_text("utf-8"))
        return data[0] if data else {}
    import datasets
    kind = {".parquet": "parquet", ".csv": "csv"}[path.suffix]
    ds = datasets.load_dataset(kind, data_files=str(path), split="train")
    return ds[0] if len(ds) else {}


def swift_reads(path: Path) -> bool:
    """ms-swift reads SFT forms and its own ``rejected_response`` pairs, not LLaMA-Factory's
    ranking forms (``chosen``/``rejected`` columns)."""
    row = _first_row(path)
    return not ("chosen" in row and "rejected_response" not in row)


def swift_kept(path: Path) -> tuple[int, list[str]]:
    """(rows kept, problems) after ms-swift's dataset loading and preprocessing."""
    from swift.dataset import load_dataset

    pair = "rejected_response" in _first_row(path)
    train, _ = load_dataset([str(path)], load_from_cache_file=False, num_proc=1)
    kept, problems = 0, []
    for i, row in enumerate(train, 1):
        messages = row.get("messages") or []
        last = messages[-1] if messages else {}
        if last.get("role") != "assistant" or not _texts_ok(messages):
            problems.append(f"row {i}: no answer or an empty message after ms-swift's preprocessing")
        elif pair and not str(row.get("rejected_response") or "").strip():
            problems.append(f"row {i}: rejected_response lost in ms-swift's preprocessing")
        else:
            kept += 1
    return kept, problems


def registry_names(folder: Path) -> dict[str, str]:
    """file name -> dataset name from ``folder/dataset_info.json`` (empty when none)."""
    path = folder / INFO
    info = json.loads(path.read_text("utf-8")) if path.exists() else {}
    return {entry["file_name"]: name for name, entry in info.items() if "file_name" in entry}


def trainer_files(targets: list[Path]) -> list[Path]:
    """Dataset files among ``targets`` (folders are listed; samples.jsonl is not a trainer file)."""
    files: list[Path] = []
    for t in targets:
        if t.is_dir():
            files += sorted(p for p in t.iterdir() if p.suffix in SUFFIXES
                            and p.name not in (INFO, "summary.json", "samples.jsonl"))
        else:
            files.append(t)
    return files


TRAINERS = {"llamafactory": "llamafactory", "ms-swift": "swift"}  # name -> module


def available_trainers() -> list[str]:
    return [name for name, module in TRAINERS.items() if importlib.util.find_spec(module)]


def check_file(path: Path, cache: str, trainers: list[str]) -> list[dict[str, Any]]:
    """One result per trainer that reads ``path``: {file, trainer, rows_in, rows_kept, problems}."""
    n = rows_in(path)
    results = []
    name = registry_names(path.parent).get(path.name)
    if "llamafactory" not in trainers or "rejected_response" in _first_row(path):
        pass  # ms-swift's own preference form: LLaMA-Factory has no reader for it
    elif name is None:
        results.append({"file": str(path), "trainer": "llamafactory", "rows_in": n,
                        "rows_kept": 0, "problems": [f"no entry for {path.name} in {INFO}"]})
    else:
        kept, problems = llamafactory_kept(path, name, cache)
        results.append({"file": str(path), "trainer": "llamafactory", "rows_in": n,
                        "rows_kept": kept, "problems": problems})
    if "ms-swift" in trainers and swift_reads(path):
        kept, problems = swift_kept(path)
        results.append({"file": str(path), "trainer": "ms-swift", "rows_in": n,
                        "rows_kept": kept, "problems": problems})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", type=Path, help="release folders or dataset files")
    parser.add_argument("--json", action="store_true", help="print one JSON list of results")
    parser.add_argument("--trainers", default=None,
                        help="comma-separated: llamafactory,ms-swift (default: those importable)")
    args = parser.parse_args(argv)
    trainers = args.trainers.split(",") if args.trainers else available_trainers()
    if not trainers or set(trainers) - set(TRAINERS):
        print(f"no trainer to check with (asked {args.trainers}, importable "
              f"{available_trainers()}); run infra/install_trainers.sh", file=sys.stderr)
        return 2
    files = trainer_files(args.targets)
    if not files:
        print("no dataset files found in " + " ".join(map(str, args.targets)), file=sys.stderr)
        return 2
    results = []
    # The trainers log to stdout; keep it for the results (--json output stays parseable).
    with tempfile.TemporaryDirectory(prefix="trainer-loaders-") as cache, \
            contextlib.redirect_stdout(sys.stderr):
        os.environ["HF_DATASETS_CACHE"] = cache  # a stale cache would hide a changed file
        for path in files:
            try:
                results += check_file(path, cache, trainers)
            except Exception as e:  # a file a trainer cannot load at all: report, go on
                results.append({"file": str(path), "trainer": "load", "rows_in": None,
                                "rows_kept": 0, "problems": [f"{type(e).__name__}: {e}"]})
    lost = [r for r in results if r["problems"] or r["rows_kept"] != r["rows_in"]]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for r in results:
            mark = "LOSS" if r in lost else "ok"
            print(f"{mark:4} {r['trainer']:12} {r['rows_in']} -> {r['rows_kept']}  {r['file']}")
            for p in r["problems"][:10]:
                print(f"       {p}")
        print(f"{len(results) - len(lost)} passed, {len(lost)} failed")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
