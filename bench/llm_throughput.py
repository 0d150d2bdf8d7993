"""Benchmark: do the LLM stages fill the endpoint? 24 small documents, a 1 s-latency endpoint.

    .venv/bin/python bench/llm_throughput.py                  # 24 documents, 1 s, concurrency 16
    .venv/bin/python bench/llm_throughput.py --docs 8 --concurrency 8

A real Prefect server (``prefect_test_harness``), a real LanceDB and generated PDFs
(``bench/incremental.py write_docs``: two chunks each), against the scripted OpenAI-compatible
server (``tests/fakellm.py``) answering every request after a fixed latency, as a remote
provider would. Two measurements in the same run:

1. all documents in one build: each LLM stage sends all its pending items through one gateway
   run, bounded by the endpoint's concurrency (the stage contract, ``sftforge/stage.py``);
2. the baseline, one document at a time: the same documents added to the corpus one by one,
   each build paying only for the new document (what a per-document batch loop does).

Prints requests, wall time of the LLM stages (summed ``seconds`` of the stages that sent
requests) and efficiency = ideal / that wall time, where ideal = requests x latency /
concurrency + (LLM stages that sent requests) x latency. Target: efficiency >= 0.90.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.incremental import write_docs  # noqa: E402

# One question per chunk, no variants, follow-ups or self-check pairs: the requests are the
# questions -> answers -> judge chain of every chunk, plus the domain tree's one request.
ENV = {"SFTFORGE_GA__PAIRS_PER_DOC": "0", "SFTFORGE_DIALOGUES__ENABLED": "off",
       "SFTFORGE_PREFERENCES__ENABLED": "off", "SFTFORGE_ANSWERS__MODE": "json",
       "SFTFORGE_GENERATION__MODE": "per_question", "SFTFORGE_JUDGE__SELF_CHECK_PAIRS": "0",
       "SFTFORGE_QUESTIONS__MAX_PER_CHUNK": "1", "SFTFORGE_CHUNK__TARGET_TOKENS": "90",
       "SFTFORGE_CHUNK__MAX_TOKENS": "140", "SFTFORGE_CHUNK__MIN_TOKENS": "20"}


def llm_seconds(summary: dict) -> tuple[float, int]:
    """(wall seconds of the stages that sent LLM requests, how many such stages)."""
    stages = [s for s in summary["stages"].values() if s["llm_requests"]]
    if os.environ.get("BENCH_VERBOSE"):
        print({s["stage"]: (s["llm_requests"], s["seconds"]) for s in stages})
    return sum(s["seconds"] for s in stages), len(stages)


def build(corpus: Path, out: Path) -> dict:
    from flows.build_dataset import BuildParams, build_dataset

    return build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))


def figures(requests: int, seconds: float, stages: int, latency: float, concurrency: int) -> dict:
    """Requests, LLM wall time, ideal time and efficiency of one measurement."""
    ideal = requests * latency / concurrency + stages * latency
    return {"requests": requests, "llm_seconds": round(seconds, 2), "ideal": round(ideal, 2),
            "efficiency": round(ideal / seconds, 3) if seconds else 0.0}


def measure(root: Path, fake: object, docs: int, one_by_one: bool) -> tuple[int, float, int]:
    """(requests, LLM seconds, LLM stages per build) for ``docs`` documents."""
    home, corpus, out = root / "home", root / "corpus", root / "out"
    os.environ["SFTFORGE_HOME"] = str(home)
    before, seconds, stages = fake.requests, 0.0, 0
    batches = [[i] for i in range(docs)] if one_by_one else [list(range(docs))]
    for batch in batches:
        write_docs(corpus, batch, 2)
        s, n = llm_seconds(build(corpus, out))
        seconds, stages = seconds + s, max(stages, n)
    return fake.requests - before, seconds, stages


def run(docs: int, latency: float, concurrency: int) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from tests.fakellm import FakeLLM

    with tempfile.TemporaryDirectory(prefix="sftforge-bench-") as tmp, \
            FakeLLM(latency_s=latency) as fake, prefect_test_harness(server_startup_timeout=180):
        os.environ.update({**ENV, "SFTFORGE_LLM_BASE_URL": fake.base_url,
                           "SFTFORGE_LLM_MODEL": "fake-model",
                           "SFTFORGE_LLM_CONCURRENCY": str(concurrency),
                           "PREFECT_LOCAL_STORAGE_PATH": str(Path(tmp) / "prefect-results")})
        together = measure(Path(tmp) / "together", fake, docs, one_by_one=False)
        apart = measure(Path(tmp) / "apart", fake, docs, one_by_one=True)
    rows = {"all documents in one build": figures(*together[:2], together[2], latency, concurrency),
            "one document at a time (baseline)": figures(
                *apart[:2], together[2], latency, concurrency)}
    print(f"LLM throughput: {docs} documents x 2 chunks, scripted endpoint latency {latency:g} s, "
          f"concurrency {concurrency}")
    print(f"{'':36} {'requests':>9} {'LLM wall s':>11} {'ideal s':>8} {'efficiency':>11}")
    for name, r in rows.items():
        print(f"{name:36} {r['requests']:>9} {r['llm_seconds']:>11} {r['ideal']:>8} "
              f"{r['efficiency']:>11}")
    eff = rows["all documents in one build"]["efficiency"]
    print(f"target efficiency >= 0.90: {'met' if eff >= 0.9 else 'NOT met'} ({eff}); "
          f"speed-up over the baseline: "
          f"{rows['one document at a time (baseline)']['llm_seconds'] / max(together[1], 1e-9):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM reply")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    run(args.docs, args.latency, args.concurrency)


if __name__ == "__main__":
    main()
