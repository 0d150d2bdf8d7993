"""A tiny corpus leaves val/test empty: the card and the CLI say so and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sftforge.cli import app
from sftforge.release.split_warnings import split_warnings

pytestmark = pytest.mark.usefixtures("prefect_server")

EN = """# Password storage

Passwords must never be stored in plain text. A slow, salted hash such as Argon2, scrypt or
bcrypt makes every guess expensive for an attacker who steals the table. A unique salt per
user stops precomputed rainbow tables, and a pepper kept outside the database adds a secret the
thief does not have. Rehash a password with stronger parameters at the next successful login.
"""
ZH = """# 会话管理

会话标识必须足够随机，至少包含一百二十八位熵，否则攻击者可以猜测有效会话。登录成功后应当立即更换
会话标识，以防止会话固定攻击。会话 Cookie 应设置 HttpOnly、Secure 和 SameSite 属性，减少脚本读取和
跨站请求的风险。用户退出或长时间不活动时，服务器端必须使会话失效。
"""


def test_tiny_corpus_warns_about_empty_splits_in_card_and_cli(
        llm_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "passwords.md").write_text(EN, "utf-8")
    (corpus / "sessions_zh.md").write_text(ZH, "utf-8")
    monkeypatch.setenv("SFTFORGE_QUESTIONS__MAX_PER_CHUNK", "1")
    result = CliRunner().invoke(app, ["build", str(corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    release = sorted((tmp_path / "out" / "releases").glob("v*"))[-1]
    summary = json.loads((release / "summary.json").read_text("utf-8"))
    splits = summary["distributions"]["splits"]
    n = summary["counts"]["exported"]
    assert 1 <= n <= 2 and sum(splits.values()) == n  # one sample per document at most
    empty = [s for s in ("train", "val", "test") if s not in splits]
    assert empty  # two samples cannot fill three splits
    (warning,) = summary["split_warnings"]
    expected = split_warnings(splits, {"train": 0.8, "val": 0.1, "test": 0.1})
    assert [warning] == expected
    named = " and ".join(empty) if len(empty) <= 2 else "train, val and test"
    assert warning.startswith(f"{named} {'is' if len(empty) == 1 else 'are'} empty: {n} exported")
    assert "too few for a 80/10/10 train/val/test split" in warning
    assert "add documents" in warning and "SFTFORGE_SPLIT__MIN_PER_SPLIT" in warning
    card = (release / "README.md").read_text("utf-8")
    assert f"## Split warnings\n\n- **Warning:** {warning}\n" in card
    assert f"warning: {warning}" in result.output
