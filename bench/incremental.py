"""Benchmark of an incremental rebuild: a full build of N documents vs the same corpus + 1.

    .venv/bin/python bench/incremental.py                    # 12 documents, 1.0 s per LLM reply
    .venv/bin/python bench/incremental.py --docs 12 --latency 2.0
    .venv/bin/python bench/incremental.py --sections 8      # 8-chunk documents

Runs ``build_dataset`` on a temporary real Prefect server (``prefect_test_harness``), a real
LanceDB in a temp dir and generated one-topic PDFs (``tests/corpus_fixtures.py``), against the
scripted OpenAI-compatible server (``tests/fakellm.py``) answering every request after a fixed
latency, as a remote provider would. Three builds, each timed by wall clock:

1. full: N documents, nothing cached (the baseline);
2. +1: one more document: only its questions, answers and judge calls may be sent;
3. unchanged: the same corpus again (the fixed cost of a build: ingest check, dedup over the
   corpus, split, export, card).

Prints LLM requests and wall time per build and the ratios; targets: the +1 build sends only
the new document's requests, and takes <= 10% of the full build's wall time. No assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def write_docs(folder: Path, indexes: list[int], sections: int) -> None:
    """Documents of ``sections`` paragraphs (one chunk each under the bench's chunk settings):
    paragraph j of document i is topic i+j's heading and sentences plus one sentence naming
    (i, j), so no two chunks send the same request while headings recur across documents, as
    the topics of one field do (the domain tree then has a node per topic)."""
    from sftforge.demo_corpus import render_markdown_pdf
    from tests.corpus_fixtures import TOPICS

    folder.mkdir(parents=True, exist_ok=True)
    for i in indexes:
        parts = []
        for j in range(sections):
            _key, title, sentences = TOPICS[(i + j) % len(TOPICS)]
            parts.append(f"## {title}\n\n" + " ".join(sentences)
                         + f" Note {i}.{j} applies this to service number {100 * i + j}.")
        render_markdown_pdf("\n\n".join(parts) + "\n", folder / f"doc{i:02d}.pdf",
                            page_numbers=False, paper="a4")


def timed_build(corpus: Path, out: Path) -> tuple[dict, float]:
    """(summary, wall seconds) of one build."""
    from flows.build_dataset import BuildParams, build_dataset

    start = time.perf_counter()
    summary = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(out)))
    return summary, time.perf_counter() - start


def run(docs: int, latency: float, concurrency: int, sections: int) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from tests.corpus_fixtures import TOPICS, write_topics
    from tests.fakellm import FakeLLM
    from tests.fakellm_values import _last_user

    if docs + 1 > len(TOPICS):
        raise SystemExit(f"--docs must be at most {len(TOPICS) - 1} (topics in the fixture)")
    with tempfile.TemporaryDirectory(prefix="sftforge-bench-") as tmp, \
            FakeLLM(latency_s=latency) as fake, prefect_test_harness(server_startup_timeout=180):
        root = Path(tmp)
        os.environ.update({
            "SFTFORGE_HOME": str(root / "home"), "SFTFORGE_LLM_BASE_URL": fake.base_url,
            "SFTFORGE_LLM_MODEL": "fake-model", "SFTFORGE_LLM_CONCURRENCY": str(concurrency),
            "PREFECT_LOCAL_STORAGE_PATH": str(root / "prefect-results")})
        if sections > 1:  # a chunk per part: small chunks, as many as parts
            os.environ.update({"SFTFORGE_CHUNK__TARGET_TOKENS": "90",
                               "SFTFORGE_CHUNK__MAX_TOKENS": "140",
                               "SFTFORGE_CHUNK__MIN_TOKENS": "20"})
        write = (lambda c, ix: write_docs(c, ix, sections)) if sections > 1 else write_topics
        corpus, out = root / "corpus", root / "out"
        write(corpus, list(range(docs)))
        full, t_full = timed_build(corpus, out)
        n_full = fake.requests
        write(corpus, [docs])
        plus, t_plus = timed_build(corpus, out)
        # A request about an older document repeats a prompt of the full build (its passage and
        # task); the new document's requests (and the tree revision it causes) are all new.
        asked = {_last_user(b) for b in fake.log[:n_full]}
        only_new = not any(_last_user(b) in asked for b in fake.log[n_full:])
        same, t_same = timed_build(corpus, out)
        report(docs, latency, concurrency, [("full", full, t_full), ("+1 document", plus, t_plus),
                                            ("unchanged", same, t_same)], only_new)


def report(docs: int, latency: float, concurrency: int, rows: list[tuple[str, dict, float]],
           only_new: bool) -> None:
    """Print the figures and ratios against the full build measured in the same run."""
    print(f"incremental rebuild: {docs} documents + 1, scripted server latency {latency:g} s, "
          f"concurrency {concurrency}; chunks: {rows[0][1]['counts']['chunks']} -> "
          f"{rows[1][1]['counts']['chunks']}")
    print(f"{'build':<14}{'documents':>10}{'LLM requests':>14}{'exported':>10}{'wall s':>9}")
    for name, summary, wall in rows:
        print(f"{name:<14}{summary['counts']['documents']:>10}{summary['llm_requests']:>14}"
              f"{summary['counts']['exported']:>10}{wall:>9.1f}")
    (_, full, t_full), (_, plus, t_plus), (_, _same, t_same) = rows
    ratio_req = plus["llm_requests"] / max(1, full["llm_requests"])
    ratio_wall = t_plus / t_full
    print(f"+1 / full: requests {ratio_req:.3f} (per-document share {1 / docs:.3f}), "
          f"wall {ratio_wall:.3f}; unchanged / full wall {t_same / t_full:.3f}")
    slow = sorted(plus["stages"].items(), key=lambda kv: -kv[1]["seconds"])[:5]
    print("+1 build, slowest stages (task seconds): "
          + ", ".join(f"{k} {v['seconds']:.1f}" for k, v in slow))
    print(f"full build drops: {full['drop_reasons'] or 'none'}")
    print(f"requests of the +1 build all about the new document: {only_new} "
          f"[{'PASS' if only_new else 'FAIL'}]")
    print(f"wall <= 10% of the full build: {'PASS' if ratio_wall <= 0.10 else 'BELOW TARGET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=12, help="documents in the full build")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM reply")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight per role")
    parser.add_argument("--sections", type=int, default=1,
                        help="chunks per document (1: the one-chunk topic PDFs)")
    args = parser.parse_args()
    run(args.docs, args.latency, args.concurrency, args.sections)


if __name__ == "__main__":
    main()
