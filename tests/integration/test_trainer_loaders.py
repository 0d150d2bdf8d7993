"""Exports and converter outputs load through LLaMA-Factory's and ms-swift's own data code with
no row dropped or emptied (bench/trainer_loaders.py, run by the trainers' venv), and a broken
file makes it fail. Skipped when the trainers' venvs are missing (infra/install_trainers.sh
creates them; $TRAINERS_DIR, default ~/.cache/sftforge/trainers)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sftforge.formats import from_record, write_rows
from sftforge.formats.convert import convert_file
from sftforge.formats.records import Record
from tasks.export import ExportSettings, write_release

ROOT = Path(__file__).resolve().parents[2]
TRAINERS = Path(os.environ.get("TRAINERS_DIR", str(Path.home() / ".cache" / "sftforge" / "trainers")))
PYTHONS = {t: TRAINERS / t / "bin" / "python" for t in ("llamafactory", "ms-swift")}
pytestmark = pytest.mark.skipif(not all(p.exists() for p in PYTHONS.values()),
                                reason=f"no trainers venvs in {TRAINERS} (infra/install_trainers.sh)")


def _samples() -> list[dict]:
    out = []
    for i in range(8):
        zh = i % 2 == 1
        s = {"sample_id": f"s{i}", "doc_id": "d1", "source": "x.pdf", "page": i,
             "question": f"什么是第{i}种注入？" if zh else f"What is injection kind {i}?",
             "answer": "把不可信数据当作代码执行。" if zh else "Untrusted data run as code.",
             "cot": "先回忆定义。" if i % 3 else "", "split": ["train", "train", "val", "test"][i % 4]}
        if i == 4:
            s["turns"] = [{"question": "How to prevent it?", "answer": "Parameterised queries."}]
        out.append(s)
    return out


def _run(*targets: Path) -> tuple[int, list[dict], str]:
    """Exit code (worst of both), results of both trainers, stderr tails."""
    code, results, err = 0, [], ""
    for trainer, python in PYTHONS.items():
        proc = subprocess.run([str(python), str(ROOT / "bench" / "trainer_loaders.py"),
                               *map(str, targets), "--json", "--trainers", trainer],
                              capture_output=True, text=True, timeout=1200)
        code = max(code, proc.returncode)
        results += json.loads(proc.stdout) if proc.stdout.strip().startswith("[") else []
        err += proc.stderr[-3000:]
    return code, results, err


def _converted(folder: Path) -> None:
    sft = [Record([{"role": "user", "content": "什么是 XSS？"},
                   {"role": "assistant", "content": "<think>\n回忆定义。\n</think>\n\n脚本注入。"},
                   {"role": "user", "content": "How to defend?"},
                   {"role": "assistant", "content": "Escape output."}], system="你是老师。"),
           Record([{"role": "user", "content": "What is CSRF?"},
                   {"role": "assistant", "content": "A forged request."}])]
    pair = [Record([{"role": "user", "content": "What is XSS?"}], system="Be brief.",
                   chosen="Script injection.", rejected="A stylesheet.")]
    write_rows(folder / "src_sft.jsonl", [from_record(r, "sharegpt") for r in sft])
    write_rows(folder / "src_pair.jsonl", [from_record(r, "dpo-sharegpt") for r in pair])
    for to in ("alpaca", "sharegpt", "messages", "swift"):
        convert_file(folder / "src_sft.jsonl", to, folder / "out" / f"sft_{to}.jsonl")
    for to in ("dpo-alpaca", "dpo-sharegpt", "swift"):
        convert_file(folder / "src_pair.jsonl", to, folder / "out" / f"pair_{to}.jsonl")


def test_release_and_converter_outputs_load_without_loss(tmp_path: Path) -> None:
    release = tmp_path / "release"
    write_release(release, _samples(), ExportSettings())
    _converted(tmp_path)
    code, results, err = _run(release, tmp_path / "out")
    assert code == 0, (results, err)
    files = {Path(r["file"]).name for r in results}
    assert "alpaca_train.jsonl" in files and "pair_swift.jsonl" in files
    assert len(files) == 18 + 7  # 3 formats x 3 splits x (cot, nocot) + 7 converter outputs
    assert all(r["rows_in"] == r["rows_kept"] and not r["problems"] for r in results)
    trainers = {(Path(r["file"]).name, r["trainer"]) for r in results}
    assert ("sharegpt_test_nocot.jsonl", "ms-swift") in trainers
    assert ("pair_dpo-alpaca.jsonl", "llamafactory") in trainers


def test_broken_file_fails(tmp_path: Path) -> None:
    _converted(tmp_path)
    broken = tmp_path / "out" / "sft_sharegpt.jsonl"
    rows = [json.loads(line) for line in broken.read_text("utf-8").splitlines()]
    rows[1]["conversations"].reverse()  # gpt first: LLaMA-Factory skips it
    broken.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    code, results, err = _run(broken)
    assert code == 1, err
    lf = next(r for r in results if r["trainer"] == "llamafactory")
    assert (lf["rows_in"], lf["rows_kept"]) == (2, 1)
    assert lf["problems"][0].startswith("row 2: dropped by LLaMA-Factory")
