"""Review end to end: a real build, the review page in headless Chromium driven by keyboard,
verdicts in LanceDB, the audit in the card and in ``sftforge releases``, and the feedback."""

from __future__ import annotations

import json
import os
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
from sftforge.review.evidence import release_summary
from sftforge.review.items import load_dropped, load_items
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


def _build(tmp_path: Path, fake) -> tuple[BuildParams, Path]:
    """The two handbooks; the answers about the English one's injection section are invented,
    so the grounding check drops them (a restorable drop for the dropped view)."""
    fake.add_fault("invented", times=-1, match=("\nQuestion:", "Injection"))
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


def _shows_what_the_verifier_saw(page, first: dict) -> None:
    """The passage is the server's Markdown rendering with cited spans marked; each check
    (the judge's scores: the verifier is not in this build) and why the sample was kept."""
    page.locator("#passage").wait_for()
    cited = [c for c in first["citations"] if c["start"] >= 0]
    assert cited and page.locator("#passage mark").count() >= 1
    marked = " ".join(page.locator("#passage mark").all_inner_texts())
    text = store.read(Settings().db_uri, "chunks",
                      where=f"chunk_id = '{first['chunk_id']}'").to_dicts()[0]["text"]
    spans = [re.sub(r"[#*_`|>]", " ", text[c["start"]:c["end"]]).split() for c in cited]
    assert all(words[0] in marked and words[-1] in marked for words in spans), (marked, spans)
    assert page.locator("#passage script, #passage img, #passage a").count() == 0
    names = page.locator("#checks tr td:first-child").all_inner_texts()
    assert names == [c["name"] for c in first["checks"]] and "faithfulness" in names
    assert "judge scores" in page.locator("#checks-kind").inner_text()
    kept = page.locator("#kept li").all_inner_texts()
    assert kept == first["kept_because"] and kept[-1].startswith("no rule, check or stage")


def _restore_first_drop(page, dropped: list[dict]) -> tuple[str, tuple[str, str]]:
    """Open the dropped view from the header, restore the first sample of the first
    restorable group; returns (sample id, (stage, reason))."""
    group = next(g for g in dropped if g["restorable"])  # grounding: ungrounded
    page.locator("#dropped-link").click()
    page.wait_for_url("**/dropped?token=*")
    headings = page.locator("h2.group").all_inner_texts()
    assert headings == [f"{g['stage']}: {g['reason']} — {g['count']} sample"
                        + ("s" if g["count"] != 1 else "") for g in dropped]
    sample_id = group["items"][0]["sample_id"]
    article = page.locator(f"article[data-sample='{sample_id}']")
    assert article.locator(".question").inner_text() == group["items"][0]["question"]
    _screenshot(page, "dropped")
    article.locator("button.restore").click()
    article.locator(".restored").wait_for()
    assert reviews.restored(Settings().db_uri) == {sample_id: group["reason"]}
    return sample_id, (group["stage"], group["reason"])


def _screenshot(page, name: str) -> None:
    """A full-page screenshot when SFTFORGE_REVIEW_SCREENSHOTS names a folder (to look at the
    page; never committed)."""
    if folder := os.environ.get("SFTFORGE_REVIEW_SCREENSHOTS"):
        page.set_viewport_size({"width": 1400, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def release_drops(release: Path) -> dict[str, dict[str, int]]:
    return release_summary(release)["drop_reasons"]


def test_review_in_browser_feeds_the_next_release(llm_env, browser, tmp_path: Path) -> None:
    params, release = _build(tmp_path, llm_env)
    db = Settings().db_uri
    samples = read_jsonl(release / "samples.jsonl")
    ids = ensure_audit(db, release, seed=0)
    # The keyboard walk needs an accept, a reject and an edit.
    assert len(ids) >= 3, (release / "README.md").read_text("utf-8")
    assert sorted(ids) == sorted(r["sample_id"] for r in samples)  # under 100: all of them
    items = load_items(db, release, ids)
    dropped = load_dropped(db, release)
    session = ReviewSession(db, release.name, items, "tester", dropped=dropped)
    with running(create_app(session)) as base:
        page = browser.new_page()
        page.set_default_timeout(90_000)  # a busy 2-core machine builds and serves slowly
        page.goto(f"{base}/?token={session.token}")
        first = items[0]
        _shows_what_the_verifier_saw(page, first)
        assert page.locator("#where").inner_text().startswith(f"{first['source']}, page ")
        assert page.locator("#question").inner_text() == first["question"]
        _screenshot(page, "review")
        _review_with_keyboard(page, len(ids))
        restored_id, restored_for = _restore_first_drop(page, dropped)
        assert page.goto(f"{base}/?token=wrong").status == 403

    accepted_id, rejected_id, edited_id = ids[0], ids[1], ids[2]
    latest = reviews.latest(db, release.name)
    assert {v["reviewer"] for v in latest.values()} == {"tester"}
    assert sorted(latest) == sorted([*ids, restored_id])  # the audit, and the restore
    assert (latest[restored_id]["verdict"], latest[restored_id]["reason"]) == (
        "restore", restored_for[1])
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

    # The next build applies the verdicts, the restore included.
    before = release_drops(release)
    nxt = build_dataset(params)
    rows = {r["sample_id"]: r for r in read_jsonl(Path(nxt["release_dir"]) / "samples.jsonl")}
    assert nxt["version"] != release.name and rejected_id not in rows
    assert rows[edited_id]["answer"] == EDITED and rows[edited_id]["human_edited"] is True
    assert nxt["drop_reasons"]["review"] == {"review_rejected": 1}
    stage, reason = restored_for
    assert nxt["drop_reasons"].get(stage, {}).get(reason, 0) == before[stage][reason] - 1
    again = {r["sample_id"]: r for r in store.read(db, "selection", where=(
        f"run_id = '{release_summary(Path(nxt['release_dir']))['run_id']}'")).to_dicts()}
    assert again[restored_id]["reason"] != reason  # kept, or dropped for another reason
    next_card = (Path(nxt["release_dir"]) / "README.md").read_text("utf-8")
    assert f"Verdicts from the audit of {release.name} were applied: 1 rejected" in next_card
    assert f"acceptance rate {(n - 2) / n:.1%}" in next_card
