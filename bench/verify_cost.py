"""Seconds per checked pair: the 1-10 judge vs the verifier's yes/no checks, same pages, one run.

    .venv/bin/python bench/verify_cost.py --pages 1          # embedded model, N=3
    .venv/bin/python bench/verify_cost.py --pages 2 --n 2
    .venv/bin/python bench/verify_cost.py --base-url http://127.0.0.1:8000/v1  # any endpoint
    .venv/bin/python bench/verify_cost.py --pairs bench/data/verify_pairs.jsonl --limit 6

With ``--pairs`` no build runs: the embedded model is started once and, pair by pair
(alternating which goes first, so both see the same load), the judge's own request
(``tasks/judge.py``: its prompt, its ``Verdict`` schema, temperature 0) and the verifier's
checks (``run_checks``, the stage's path) are sent for the same passage and pair. This measures
exactly the two checks on the same pages without minutes of generation first; on a machine
shared with other builds it is the mode that finishes.

The first ``--pages`` pages of the demo corpus (``bench/cost_per_sample.py``'s corpus) are built
once with the CLI and ``SFTFORGE_SCORING=both``: in that one build the verifier
(``tasks/verify.py``, three yes/no checks per pair) and the 1-10 judge (``tasks/judge.py``) both
run on the embedded model (started by the build), over the same cleaned pairs. The verifier's
thresholds are set to 0 for the run, so the judge sees exactly the pairs the verifier saw (its
self-check's planted pairs come on top, counted as judged pairs). Printed per stage: pairs,
requests, prompt and completion tokens (the request log), the stage's seconds and seconds per
pair; then the ratio verifier / judge against the target (<= 0.50). With the embedded model the
server's log adds prompt tokens evaluated and reused from llama.cpp's prefix cache. The machine
is shared: the load average before and after is printed. No assertions: a benchmark reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cost_per_sample import first_pages, llama_timings  # noqa: E402
from sftforge.llm.cache import DB_NAME  # noqa: E402
from sftforge.llm.gateway import LLMGateway, LLMJob  # noqa: E402
from sftforge.llm.local import LocalLLM  # noqa: E402
from sftforge.settings import ResolvedEndpoint  # noqa: E402
from sftforge.verifier.run import DEFAULT_CHECKS, run_checks  # noqa: E402
from tasks.judge import JudgeStage, Verdict  # noqa: E402

TARGET = 0.50  # verifier seconds per pair / judge seconds per pair


def build_env(n: int, base_url: str | None, models_dir: Path) -> dict[str, str]:
    """One build: both checks, the verifier dropping nothing, ``n`` questions per chunk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFTFORGE_")}
    env.update({"SFTFORGE_SCORING": "both", "SFTFORGE_VERIFY__MIN_SUPPORTED": "0",
                "SFTFORGE_VERIFY__MIN_ANSWERS": "0", "SFTFORGE_VERIFY__MIN_SELF_CONTAINED": "0",
                "SFTFORGE_QUESTIONS__MIN_PER_CHUNK": str(n),
                "SFTFORGE_QUESTIONS__MAX_PER_CHUNK": str(n),
                "SFTFORGE_MODELS_DIR": str(models_dir), "PYTHONPATH": str(ROOT)})
    if base_url:
        env.update({"SFTFORGE_LLM_BASE_URL": base_url,
                    "SFTFORGE_LLM_MODEL": os.environ.get("SFTFORGE_LLM_MODEL", "bench-model")})
    return env


def run_build(corpus: Path, work: Path, env: dict[str, str]) -> tuple[dict[str, Any], Path]:
    """Build ``corpus`` with the CLI in a fresh home; (summary.json + ``wall_s``, home)."""
    home, out = work / "home", work / "out"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sftforge.cli", "build", str(corpus), "--out",
                           str(out), "--home", str(home)], env=env, cwd=work,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"build failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    summary_path = sorted((out / "releases").glob("v*/summary.json"))[-1]
    summary = json.loads(summary_path.read_text("utf-8"))
    return {**summary, "wall_s": time.perf_counter() - start}, home


def stage_tokens(home: Path, run_id: str) -> dict[str, tuple[int, int]]:
    """stage -> (prompt, completion) tokens of the requests this run sent (request log)."""
    with sqlite3.connect(home / "llm_cache" / DB_NAME) as conn:
        rows = conn.execute("SELECT stage, SUM(prompt_tokens), SUM(completion_tokens) FROM "
                            "requests WHERE run_id = ? AND kind = 'http' GROUP BY stage",
                            (run_id,)).fetchall()
    return {stage: (int(p or 0), int(c or 0)) for stage, p, c in rows}


def figures(summary: dict[str, Any], tokens: dict[str, tuple[int, int]],
            stage: str) -> dict[str, float]:
    """One stage's cost in total and per checked pair."""
    stats = summary["stages"][stage]
    pairs = stats.get("extra", {}).get("computed", stats["items_in"])
    each = max(1, pairs)
    prompt, completion = tokens.get(stage, (0, 0))
    return {"pairs": pairs, "requests": stats["llm_requests"], "prompt tok": prompt,
            "completion tok": completion, "seconds": round(stats["seconds"], 1),
            "s / pair": round(stats["seconds"] / each, 2),
            "requests / pair": round(stats["llm_requests"] / each, 2),
            "prompt tok / pair": round(prompt / each), "completion tok / pair":
            round(completion / each, 1)}


def judge_job(row: dict[str, Any], i: int) -> LLMJob:
    """The judge stage's request for one pair."""
    messages = JudgeStage().format_input({"text": row["source"], "question": row["question"],
                                          "answer": row["answer"]})
    return LLMJob(item_id=f"judge-{i}", messages=messages, schema=Verdict, temperature=0.0)


def time_pairs(rows: list[dict[str, Any]], endpoint: ResolvedEndpoint,
               cache: Path) -> dict[str, dict[str, float]]:
    """Seconds, requests and tokens of the judge and of the verifier on the same pairs."""
    gateways = {who: LLMGateway(endpoint, cache, stage=who) for who in ("judge", "verify")}
    seconds = {"judge": 0.0, "verify": 0.0}
    for i, row in enumerate(rows):
        for who in ("judge", "verify") if i % 2 == 0 else ("verify", "judge"):
            start = time.perf_counter()
            if who == "judge":
                gateways[who].run([judge_job(row, i)])
            else:
                run_checks(gateways[who], [row], DEFAULT_CHECKS, [f"verify-{i}"])
            seconds[who] += time.perf_counter() - start
            print(f"  pair {i} {who}: {time.perf_counter() - start:.1f} s", flush=True)
    out = {}
    for who, gw in gateways.items():
        u, n = gw.usage, len(rows)
        out[who] = {"pairs": n, "requests": u["requests_sent"], "prompt tok": u["prompt_tokens"],
                    "completion tok": u["completion_tokens"], "seconds": round(seconds[who], 1),
                    "s / pair": round(seconds[who] / n, 2),
                    "requests / pair": round(u["requests_sent"] / n, 2),
                    "prompt tok / pair": round(u["prompt_tokens"] / n),
                    "completion tok / pair": round(u["completion_tokens"] / n, 1)}
    return out


def pairs_mode(path: Path, limit: int, models_dir: Path, work: Path) -> int:
    """``--pairs``: the judge and the verifier on the same pairs, one embedded server."""
    rows = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()][:limit]
    llm = LocalLLM(work, models_dir=models_dir).start()
    try:
        endpoint = ResolvedEndpoint(base_url=llm.base_url, model=llm.model, embedded=True,
                                    json_mode="schema_object", timeout_s=1800, concurrency=1)
        print(f"{len(rows)} pairs of {path.name}; embedded model, {llm.threads} thread(s); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        got = time_pairs(rows, endpoint, work / "llm_cache")
    finally:
        llm.stop()
    print(f"judge: {json.dumps(got['judge'])}\nverify: {json.dumps(got['verify'])}")
    print(report(got["judge"], got["verify"]))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


def report(judge: dict[str, float], verify: dict[str, float]) -> str:
    """Side by side, and the verdict against the target."""
    lines = [f"{'':24}{'judge':>12}{'verifier':>12}{'ratio':>8}"]
    for key in judge:
        ratio = f"{verify[key] / judge[key]:.2f}" if judge[key] else "-"
        lines.append(f"{key:24}{judge[key]:>12}{verify[key]:>12}{ratio:>8}")
    ratio = verify["s / pair"] / max(judge["s / pair"], 1e-9)
    lines.append(f"verifier seconds per pair = {ratio:.0%} of the judge's "
                 f"(target <= {TARGET:.0%}): {'met' if ratio <= TARGET else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1, help="pages of the demo corpus")
    parser.add_argument("--n", type=int, default=3, help="questions per chunk (exact)")
    parser.add_argument("--base-url", default=None, help="an endpoint instead of the embedded model")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir())
                        / "sftforge-bench-models", help="where the embedded model is joined once "
                        "(pass the tests' ~/.cache/sftforge/models to reuse it)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--pairs", type=Path, default=None,
                        help="JSONL of source/question/answer rows: time the two checks only")
    parser.add_argument("--limit", type=int, default=6, help="pairs taken from --pairs")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sftforge-bench-verify-"))
    if args.pairs:
        return pairs_mode(args.pairs, args.limit, args.models_dir, work)
    files = first_pages(work / "corpus", args.pages, work)
    print(f"corpus: first {args.pages} page(s) of the demo corpus: "
          f"{', '.join(p.name for p in files)}; {args.n} questions per chunk; "
          f"model: {args.base_url or 'embedded'}; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    summary, home = run_build(work / "corpus", work, build_env(args.n, args.base_url,
                                                               args.models_dir))
    tokens = stage_tokens(home, summary["run_id"])
    judge, verify = (figures(summary, tokens, s) for s in ("judge", "verify"))
    print(f"judge: {json.dumps(judge)}\nverify: {json.dumps(verify)}")
    print(f"server: {json.dumps(llama_timings(home / 'logs' / 'local_llm.log'))}")
    print(report(judge, verify))
    print(f"build {summary['wall_s']:.0f} s, {summary['counts']['exported']} exported; "
          f"load average after: {os.getloadavg()[0]:.1f}; work folder: {work}"
          + ("" if args.keep else " (removed)"))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
