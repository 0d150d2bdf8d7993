"""Review end to end: a real build, the review page in headless Chromium driven by keyboard,
verdicts in LanceDB, the audit in the card and in ``sftforge releases``, and the feedback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.cli import app as cli_app
from sftforge.review import reviews
from sftforge.review.app import ReviewSession, create_app, running
from sftforge.review.audit import ensure_audit
from sftforge.review.items import load_items
from sftforge.settings import Settings
from tasks.review import apply_reviews, record_audit, review_verdicts
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import handbook_corpus

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("prefect_server")]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
EDITED = "人工修订：CSRF 令牌必须随机且与会话绑定。"


@pytest.fixture()
def browser() -> Iterator[object]:
    """Debian's headless Chromium under Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run infra/install_browser.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _build(tmp_path: Path) -> tuple[BuildParams, Path]:
    corpus = handbook_corpus(tmp_path / "corpus")
    params = BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out"))
    return params, Path(build_dataset(params)["release_dir"])


def _review_with_keyboard(page, n: int) -> None:
    """Item 1 accept, item 2 reject (reason 2 + note), item 3 edit, then accept the rest."""
    progress = page.locator("#progress")
    progress.wait_for()
    assert progress.inner_text() == f"0 / {n}"
    page.keyboard.press("a")
    page.wait_for_function(f"document.getElementById('progress').textContent === '1 / {n}'")
    page.keyboard.press("r")
    page.locator("#reject-panel").wait_for(state="visible")
    page.keyboard.press("2")
    page.wait_for_function("document.activeElement === document.getElementById('note')")
    page.keyboard.type("答案与原文不符")
    page.wait_for_function("document.getElementById('note').value === '答案与原文不符'")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.getElementById('progress').textContent === '2 / {n}'")
    page.keyboard.press("e")
    page.locator("#edit-panel").wait_for(state="visible")
    page.keyboard.press("Tab")  # question box -> answer box
    page.keyboard.press("Control+A")
    page.keyboard.type(EDITED)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.getElementById('progress').textContent === '3 / {n}'")
    page.keyboard.press("k")
    assert page.locator("#position").inner_text() == f"3 of {n}"
    assert page.locator("#verdict").inner_text() == "edit"
    page.keyboard.press("j")
    for done in range(4, n + 1):
        page.keyboard.press("a")
        page.wait_for_function(f"document.getElementById('progress').textContent === '{done} / {n}'")


def test_review_in_browser_feeds_the_next_release(llm_env, browser, tmp_path: Path) -> None:
    params, release = _build(tmp_path)
    db = Settings().db_uri
    samples = read_jsonl(release / "samples.jsonl")
    ids = ensure_audit(db, release, seed=0)
    # The keyboard walk needs an accept, a reject and an edit.
    assert len(ids) >= 3, (release / "README.md").read_text("utf-8")
    assert sorted(ids) == sorted(r["sample_id"] for r in samples)  # under 100: all of them
    items = load_items(db, release, ids)
    session = ReviewSession(db, release.name, items, "tester")
    with running(create_app(session)) as base:
        page = browser.new_page()
        page.set_default_timeout(90_000)  # a busy 2-core machine builds and serves slowly
        page.goto(f"{base}/?token={session.token}")
        first = items[0]
        chunk = store.read(db, "chunks", where=f"chunk_id = '{first['chunk_id']}'").to_dicts()[0]
        assert page.locator("#passage").inner_text() == re.sub(r"\s+", " ", chunk["text"])
        assert page.locator("#where").inner_text().startswith(f"{first['source']}, page ")
        assert page.locator("#question").inner_text() == first["question"]
        _review_with_keyboard(page, len(ids))
        assert page.goto(f"{base}/?token=wrong").status == 403

    accepted_id, rejected_id, edited_id = ids[0], ids[1], ids[2]
    latest = reviews.latest(db, release.name)
    assert len(latest) == len(ids) and {v["reviewer"] for v in latest.values()} == {"tester"}
    assert (latest[rejected_id]["verdict"], latest[rejected_id]["reason"],
            latest[rejected_id]["note"]) == ("reject", "incorrect", "答案与原文不符")
    assert (latest[edited_id]["verdict"], latest[edited_id]["answer"]) == ("edit", EDITED)
    assert latest[edited_id]["question"] == items[2]["question"]
    assert latest[accepted_id]["verdict"] == "accept"

    # The audit: n - 2 of n accepted as generated, under 95% for this small release.
    n = len(ids)
    audit = record_audit(db, release)
    assert (audit["reviewed"], audit["accepted"], audit["rejected"], audit["edited"]) == (n, n - 2, 1, 1)
    assert audit["acceptance_rate"] == round((n - 2) / n, 4) and audit["status"] == "not accepted"
    card = (release / "README.md").read_text("utf-8")
    assert f"status: **not accepted** (acceptance rate {(n - 2) / n:.1%}, threshold 95%, fail)" in card
    assert "reject reasons: incorrect 1" in card
    listed = CliRunner().invoke(cli_app, ["releases", "--out", params.out_dir, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(r["version"], r["status"], r["samples"]) for r in json.loads(listed.stdout)] == [
        (release.name, "not accepted", len(samples))]

    # The feedback, as the curation subflow will apply it to the next release's rows.
    kept, drops = apply_reviews(samples, review_verdicts(db))
    assert drops == {rejected_id: "review_rejected"}
    assert [r["sample_id"] for r in kept] == [r["sample_id"] for r in samples if r["sample_id"] != rejected_id]
    edited = next(r for r in kept if r["sample_id"] == edited_id)
    assert edited["answer"] == EDITED and edited["human_edited"] is True
    assert sum(1 for r in kept if r.get("human_edited")) == 1

    # The next build applies the verdicts.
    nxt = build_dataset(params)
    rows = {r["sample_id"]: r for r in read_jsonl(Path(nxt["release_dir"]) / "samples.jsonl")}
    assert nxt["version"] != release.name and rejected_id not in rows
    assert rows[edited_id]["answer"] == EDITED and rows[edited_id]["human_edited"] is True
    assert nxt["drop_reasons"]["review"] == {"review_rejected": 1}
    next_card = (Path(nxt["release_dir"]) / "README.md").read_text("utf-8")
    assert f"Verdicts from the audit of {release.name} were applied: 1 rejected" in next_card
    assert f"acceptance rate {(n - 2) / n:.1%}" in next_card
