"""LLM calls and seconds per exported sample: per-question vs per-chunk generation, same pages.

    .venv/bin/python bench/cost_per_sample.py --pages 1            # embedded model, N=3
    .venv/bin/python bench/cost_per_sample.py --pages 2 --n 2
    .venv/bin/python bench/cost_per_sample.py --base-url http://127.0.0.1:8000/v1  # any endpoint

The first ``--pages`` pages of the bundled demo corpus (English + Chinese PDFs, in file order)
are built twice with the CLI, once per generation mode (``SFTFORGE_GENERATION__MODE``), each in
its own data home so no request cache is shared; every chunk gets exactly ``--n`` questions in
both modes. With no ``--base-url`` the build starts the embedded model (llama.cpp on the CPU):
it uses every core for minutes, so run it on an otherwise idle machine and say when it was not.

Printed side by side: exported samples, LLM requests (all, and generation + judge), requests per
exported sample, seconds of the LLM stages (model start-up excluded) and of the whole build
(Prefect and model start-up included) per exported sample, completion tokens per exported
sample (the machine-independent part of the cost), and the per-chunk/per-question ratios. With
the embedded model the server's log also tells where its time went: prompt tokens evaluated and
reused from llama.cpp's prefix cache, seconds of prompt evaluation and of generation.
Targets: <= 2.0 requests per exported sample (judge included) and >= 2x fewer LLM seconds per
exported sample in the per-chunk mode. No assertions: a benchmark reports, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sftforge.demo_corpus import write_demo_corpus  # noqa: E402

MODES = ("per_question", "per_chunk")
LLM_STAGES = ("select_chunks", "questions", "answers", "qa_pairs", "judge")
GEN_JUDGE = ("questions", "answers", "qa_pairs", "judge")
TARGET_CALLS, TARGET_SPEEDUP = 2.0, 2.0


def first_pages(out: Path, pages: int, work: Path) -> list[Path]:
    """The first ``pages`` pages of the demo corpus, one PDF per source, under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written, left = [], pages
    for src in write_demo_corpus(work / "demo-corpus"):
        if left <= 0:
            break
        with pymupdf.open(src) as doc, pymupdf.open() as part:
            take = min(left, doc.page_count)
            part.insert_pdf(doc, from_page=0, to_page=take - 1)
            part.save(out / src.name)
        written.append(out / src.name)
        left -= take
    return written


def build_env(mode: str, n: int, base_url: str | None, models_dir: Path) -> dict[str, str]:
    """The environment of one build: the mode, exactly ``n`` questions per chunk, the model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFTFORGE_")}
    env.update({"SFTFORGE_GENERATION__MODE": mode, "SFTFORGE_QUESTIONS__MIN_PER_CHUNK": str(n),
                "SFTFORGE_QUESTIONS__MAX_PER_CHUNK": str(n), "SFTFORGE_MODELS_DIR": str(models_dir),
                "PYTHONPATH": str(ROOT)})
    if base_url:
        env.update({"SFTFORGE_LLM_BASE_URL": base_url,
                    "SFTFORGE_LLM_MODEL": os.environ.get("SFTFORGE_LLM_MODEL", "bench-model")})
    return env


def run_build(mode: str, corpus: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Build ``corpus`` with the CLI in a fresh home; returns the release's summary.json plus
    ``wall_s`` (the whole command)."""
    home, out = work / f"home-{mode}", work / f"out-{mode}"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sftforge.cli", "build", str(corpus), "--out",
                           str(out), "--home", str(home)], env=env, cwd=work,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{mode} build failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    summary_path = sorted((out / "releases").glob("v*/summary.json"))[-1]
    return {**json.loads(summary_path.read_text("utf-8")), "wall_s": wall,
            "server": llama_timings(home / "logs" / "local_llm.log")}


# llama.cpp prints these per request (llama_cpp.server runs verbose).
_PROMPT_RE = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_GEN_RE = re.compile(r"^llama_perf_context_print:\s+eval time =\s*([\d.]+) ms /\s*(\d+) runs",
                     re.MULTILINE)
_REUSED_RE = re.compile(r"Llama\.generate: (\d+) prefix-match hit")


def llama_timings(log: Path) -> dict[str, float]:
    """Where the embedded server's time went, from its log: prompt tokens evaluated and
    reused (llama.cpp's prefix cache), seconds evaluating prompts and generating. Empty for
    an endpoint (no log)."""
    if not log.exists():
        return {}
    text = log.read_text("utf-8", "replace")
    prompt = [(float(ms), int(n)) for ms, n in _PROMPT_RE.findall(text)]
    gen = [(float(ms), int(n)) for ms, n in _GEN_RE.findall(text)]
    return {"prompt tok evaluated": sum(n for _, n in prompt),
            "prompt tok reused": sum(int(n) for n in _REUSED_RE.findall(text)),
            "prompt eval s": round(sum(ms for ms, _ in prompt) / 1000, 1),
            "generated tok": sum(n for _, n in gen),
            "generation s": round(sum(ms for ms, _ in gen) / 1000, 1)}


def figures(summary: dict[str, Any]) -> dict[str, float]:
    """The compared figures of one build."""
    stages = summary["stages"]
    exported = max(1, summary["counts"]["exported"])
    llm_s = sum(stages[s]["seconds"] for s in LLM_STAGES if s in stages)
    gen_judge = sum(stages[s]["llm_requests"] for s in GEN_JUDGE if s in stages)
    return {
        "chunks": summary["counts"].get("chunks", 0),
        "samples": summary["counts"]["samples"], "exported": summary["counts"]["exported"],
        "llm requests": summary["llm_requests"], "gen+judge requests": gen_judge,
        "requests / exported": round(summary["llm_requests"] / exported, 2),
        "LLM stage s": round(llm_s, 1), "LLM s / exported": round(llm_s / exported, 1),
        "build s / exported": round(summary["wall_s"] / exported, 1),
        "completion tok / exported": round(summary["tokens"]["completion"] / exported),
        **_per_exported(summary["server"], exported),
    }


def _per_exported(server: dict[str, float], exported: int) -> dict[str, float]:
    """The server's split (``llama_timings``), with its seconds also per exported sample."""
    if not server:
        return {}
    return {**server,
            "prompt eval s / exported": round(server["prompt eval s"] / exported, 1),
            "generation s / exported": round(server["generation s"] / exported, 1)}


def report(rows: dict[str, dict[str, float]]) -> str:
    """A side-by-side table and the verdict against the targets."""
    keys = list(next(iter(rows.values())))
    lines = [f"{'':28}" + "".join(f"{m:>14}" for m in rows) + f"{'ratio':>10}"]
    for key in keys:
        a, b = (rows[m][key] for m in MODES)
        ratio = f"{b / a:.2f}" if a else "-"
        lines.append(f"{key:28}{a:>14}{b:>14}{ratio:>10}")
    q, c = rows["per_question"], rows["per_chunk"]
    speedup = q["LLM s / exported"] / max(c["LLM s / exported"], 1e-9)
    lines.append(f"per_chunk: {c['requests / exported']} requests per exported sample "
                 f"(target <= {TARGET_CALLS}); {speedup:.2f}x fewer LLM seconds per exported "
                 f"sample than per_question (target >= {TARGET_SPEEDUP}x)")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1, help="pages of the demo corpus")
    parser.add_argument("--n", type=int, default=3, help="questions per chunk (exact)")
    parser.add_argument("--base-url", default=None, help="an endpoint instead of the embedded model")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir())
                        / "sftforge-bench-models", help="where the embedded model is joined once")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="run only these modes (e.g. each in its own process on a busy "
                        "machine, so both see the same load; compare the printed figures)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sftforge-bench-"))
    corpus = work / "corpus"
    files = first_pages(corpus, args.pages, work)
    print(f"corpus: first {args.pages} page(s) of the demo corpus: "
          f"{', '.join(p.name for p in files)}; {args.n} questions per chunk; "
          f"model: {args.base_url or 'embedded'}; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    rows = {}
    for mode in args.modes:
        summary = run_build(mode, corpus, work, build_env(mode, args.n, args.base_url,
                                                          args.models_dir))
        rows[mode] = figures(summary)
        print(f"{mode}: {json.dumps(rows[mode])}", flush=True)
    if len(rows) == len(MODES):
        print(report(rows))
    print(f"load average after: {os.getloadavg()[0]:.1f}; work folder: {work}"
          + ("" if args.keep else " (removed)"))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
