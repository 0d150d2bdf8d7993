"""Per-file limits of ingest (issue 20): each file is parsed in a worker process; a file over the
size or page limit, or slower than the time limit, is quarantined with a reason that names the
file, the limit and what to do, and the next file is ingested as usual."""

from __future__ import annotations

import pytest

from sftforge import store
from sftforge.parsing import isolate
from sftforge.settings import IngestLimits, OcrSettings
from sftforge.stage import BuildContext
from tasks.ingest import IngestStage, ingest_file
from tests import pdf_fixtures as fx


def test_worker_returns_results_and_reraises_errors():
    assert isolate.call("math:sqrt", (16,), 60) == 4.0
    with pytest.raises(ValueError):
        isolate.call("math:sqrt", (-1,), 60)


def test_worker_is_stopped_at_its_deadline_and_replaced():
    with pytest.raises(isolate.Timeout) as err:
        isolate.call("time:sleep", (60,), 1.0)
    assert err.value.seconds == 1.0
    assert isolate.call("math:sqrt", (9,), 60) == 3.0  # a fresh worker


def test_a_crashed_worker_is_reported():
    with pytest.raises(isolate.WorkerDied):
        isolate.call("os:_exit", (3,), 60)


@pytest.mark.parametrize("limits, words", [
    (IngestLimits(max_bytes=1000), ["over the limit of", "limits.max_bytes",
                                    "SFTFORGE_LIMITS__MAX_BYTES"]),
    (IngestLimits(max_pages=2), ["pages, over the limit of 2 pages", "limits.max_pages",
                                 "SFTFORGE_LIMITS__MAX_PAGES"]),
    # no parse answers within a microsecond: the deadline passes before any reply can come
    (IngestLimits(seconds_per_file=1e-6), ["longer than 0 s", "limits.seconds_per_file",
                                           "SFTFORGE_LIMITS__SECONDS_PER_FILE"]),
], ids=["bytes", "pages", "seconds"])
def test_file_over_a_limit_is_quarantined_and_the_next_goes_on(tmp_path, limits, words):
    big = fx.good_english_pdf(tmp_path / "big.pdf")
    small = fx.good_chinese_pdf(tmp_path / "small.pdf")
    uri = str(tmp_path / "db")
    bad = ingest_file(str(big), uri, limits=limits, ocr=OcrSettings(enabled=False))
    assert bad["status"] == "quarantined" and bad["reason"].startswith("big.pdf: ")
    for w in words:
        assert w in bad["reason"]
    assert ingest_file(str(small), uri)["status"] == "ok"
    assert store.count(uri, "documents", "status = 'ok'") == 1


def test_new_limits_retry_a_file_quarantined_for_a_limit(tmp_path):
    path = fx.good_english_pdf(tmp_path / "a.pdf")
    uri = str(tmp_path / "db")
    ctx = BuildContext(db_uri=uri, home=str(tmp_path), run_id="t")
    tight = IngestLimits(max_bytes=1000)
    ingest_file(str(path), uri, limits=tight)
    assert IngestStage(paths=[str(path)], limits=tight).pending(ctx) == []
    assert len(IngestStage(paths=[str(path)]).pending(ctx)) == 1
