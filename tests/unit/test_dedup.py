"""dedup stage: exact pass, cluster-then-compare search, clusters/groups in LanceDB, report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sftforge import store
from sftforge.embedding.near_dup import stable_ids
from tasks.dedup import (
    DedupSettings, calibration_report, dedup_samples, duplicate_reason,
    exact_pairs, exact_pass, near_duplicate_pairs,
)

# Each topic: two rewordings (same question, same answer content) per language. XSS vs CSRF and
# SQL vs command injection are different questions from the same field: never duplicates.
PAIRS = {
    "xss": {
        "en": [("What is stored XSS and how can a web application prevent it?",
                "Stored cross-site scripting happens when attacker-supplied script is saved on the server, for example in a comment, and later served to other users. Prevent it by encoding output for the HTML context and by sanitising rich text on input."),
               ("How does persistent cross-site scripting work, and what stops it?",
                "In persistent XSS the malicious script is kept by the application, such as in a forum post, and runs in the browser of every visitor who views it. The defence is context-aware output encoding, plus sanitising any HTML users may submit.")],
        "zh": [("什么是存储型XSS？Web应用如何防御它？",
                "存储型跨站脚本是指攻击者提交的脚本被保存在服务器上，例如评论中，之后被展示给其他用户并执行。防御方法是按照输出位置的HTML上下文进行编码，并在输入时对富文本进行净化。"),
               ("持久型跨站脚本攻击的原理是什么，应该怎样防范？",
                "持久型XSS中，恶意脚本被应用程序保存下来（比如论坛帖子），每个浏览该内容的访客的浏览器都会执行它。防范措施是根据上下文对输出做编码，同时对允许用户提交的HTML进行过滤净化。")],
    },
    "csrf": {
        "en": [("How does a CSRF attack work and how do anti-CSRF tokens stop it?",
                "Cross-site request forgery makes a logged-in user's browser send a state-changing request to a site, because the browser attaches the session cookie automatically. An anti-CSRF token is a secret random value embedded in forms that the server checks, and a forged request from another site cannot know it."),
               ("Explain cross-site request forgery and why synchronizer tokens prevent it.",
                "In CSRF, a malicious page causes the victim's browser to submit a request to a site where they are authenticated, relying on cookies being sent automatically. Synchronizer tokens defend against this: the server puts an unpredictable value in each form and rejects requests without it, which a third-party page cannot read.")],
        "zh": [("CSRF攻击是如何发生的？防CSRF令牌为什么能阻止它？",
                "跨站请求伪造利用浏览器会自动携带会话Cookie的特点，让已登录用户的浏览器向目标网站发送改变状态的请求。防CSRF令牌是嵌入在表单中的随机秘密值，服务器会校验它，而其他站点伪造的请求无法得知这个值。"),
               ("请解释跨站请求伪造，以及同步令牌为何可以防御它。",
                "在CSRF攻击中，恶意页面让受害者的浏览器向其已认证的网站提交请求，依赖的是Cookie会被自动发送。同步令牌的防御方式是：服务器在每个表单中放入不可预测的值，并拒绝缺少该值的请求，第三方页面读取不到这个值。")],
    },
    "sqli": {
        "en": [("Why do parameterised queries prevent SQL injection?",
                "With a parameterised query the SQL text and the user data are sent to the database separately. The database compiles the statement first and treats the bound values purely as data, so input such as a quote followed by OR 1=1 can never change the structure of the query."),
               ("How do prepared statements with bound parameters stop SQL injection?",
                "Prepared statements keep code and data apart: the query is parsed with placeholders, and user values are bound afterwards. Because the values are never interpreted as SQL, an attacker cannot alter the query logic by injecting quotes or extra clauses.")],
        "zh": [("为什么参数化查询可以防止SQL注入？",
                "使用参数化查询时，SQL语句和用户数据是分开发送给数据库的。数据库先编译语句，再把绑定的值纯粹当作数据处理，所以像单引号加OR 1=1这样的输入永远无法改变查询结构。"),
               ("预编译语句加绑定参数是如何阻止SQL注入的？",
                "预编译语句把代码和数据分离：先用占位符解析查询，之后再绑定用户的值。由于这些值从不被当作SQL解释，攻击者无法通过注入引号或额外子句来篡改查询逻辑。")],
    },
    "cmdi": {
        "en": [("How can OS command injection be prevented in a web application?",
                "Avoid passing user input to a shell at all: call the program directly with an argument list instead of building a command string. If input must reach a command, validate it against a strict allow-list, since shell metacharacters like ; and | let attackers chain their own commands."),
               ("What is the best way to stop operating system command injection?",
                "Do not invoke a shell with strings built from user data; run the executable through an API that takes arguments as a list. Where input is unavoidable, accept only values from an allow-list, because characters such as semicolons and pipes allow an attacker to append arbitrary commands.")],
        "zh": [("Web应用应该如何防止操作系统命令注入？",
                "尽量不要把用户输入交给shell：直接以参数列表的方式调用程序，而不是拼接命令字符串。如果输入必须进入命令，就用严格的白名单校验，因为分号、竖线等shell元字符能让攻击者串联执行自己的命令。"),
               ("阻止系统命令注入的最佳做法是什么？",
                "不要用由用户数据拼出的字符串去调用shell，而应通过接收参数列表的接口运行可执行文件。在无法避免使用输入的地方，只接受白名单中的取值，因为分号和管道符等字符可以让攻击者追加任意命令。")],
    },
}


def clean_row(sid: str, question: str, answer: str, kept: bool = True) -> dict:
    return {"sample_id": sid, "question": question, "answer": answer, "cot": "", "kept": kept,
            "reason": "" if kept else "too short", "pii": "", "fingerprint": "clean-fp"}


def planted_rows() -> list[dict]:
    return [clean_row(f"{topic}-{lang}-{k}", q, a) for topic, langs in PAIRS.items()
            for lang, pairs in langs.items() for k, (q, a) in enumerate(pairs)]


@pytest.fixture()
def db(tmp_path: Path) -> str:
    uri = str(tmp_path / "db")
    store.upsert(uri, "clean_samples", planted_rows())
    return uri


def clusters(db_uri: str) -> dict[str, dict]:
    return {r["sample_id"]: r for r in store.read(db_uri, "dedup_clusters").iter_rows(named=True)}


def test_exact_pass_folds_case_width_space_and_punctuation() -> None:
    frame = pl.DataFrame({
        "sample_id": ["a", "b", "c", "d", "e", "f"],
        "question": ["What is XSS?", "  what IS xss ", "ＷＨＡＴ ｉｓ ＸＳＳ？", "什么是 XSS？", "什么是xss?", "What is CSRF?"],
        "answer": ["Script injection.", "script injection", "Script injection。", "脚本注入。", "脚本注入", "Script injection."],
        "score": [3.0, 4.5, None, None, None, 5.0],
    })
    out = {r["sample_id"]: r for r in exact_pass(frame).iter_rows(named=True)}
    assert out["a"]["exact_key"] == out["b"]["exact_key"] == out["c"]["exact_key"]
    assert out["d"]["exact_key"] == out["e"]["exact_key"] != out["a"]["exact_key"]
    assert out["f"]["exact_key"] != out["a"]["exact_key"]
    # best judge score wins the group; without scores the longer answer (then smaller id) wins
    assert out["b"]["duplicate_of"] is None and out["a"]["duplicate_of"] == "b" == out["c"]["duplicate_of"]
    assert out["d"]["duplicate_of"] is None and out["e"]["duplicate_of"] == "d"
    assert out["f"]["duplicate_of"] is None


def planted_vectors(n: int, dim: int = 384, dups: int = 100, seed: int = 7) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    src, dst = rng.choice(n - dups, dups, replace=False), np.arange(n - dups, n)
    noise = rng.standard_normal((dups, dim)).astype(np.float32)
    noise -= (noise * v[src]).sum(1, keepdims=True) * v[src]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    cos = rng.uniform(0.9, 0.98, dups).astype(np.float32)[:, None]
    v[dst] = cos * v[src] + np.sqrt(1 - cos**2) * noise
    return v, dups


def test_near_duplicate_pairs_recall_against_exact_pairs() -> None:
    vectors, planted = planted_vectors(5000)
    ei, ej, ecos = exact_pairs(vectors, 0.88, block=1024)
    ai, aj, acos = near_duplicate_pairs(vectors, 0.88, k=None, block=1024)
    exact = set(zip(ei.tolist(), ej.tolist()))
    found = set(zip(ai.tolist(), aj.tolist()))
    assert len(exact) >= planted
    assert found <= exact  # cosines are exact, only recall is approximate
    assert len(found & exact) / len(exact) >= 0.97
    assert np.all(ai < aj) and np.all(acos >= 0.88)
    by_pair = dict(zip(zip(ei.tolist(), ej.tolist()), ecos.tolist()))
    assert all(abs(by_pair[p] - c) < 1e-4 for p, c in zip(zip(ai.tolist(), aj.tolist()), acos.tolist()))


def test_pair_search_handles_tiny_inputs() -> None:
    assert all(len(x) == 0 for x in near_duplicate_pairs(np.ones((1, 4), np.float32), 0.9))
    i, j, cos = exact_pairs(np.array([[1, 0], [2, 0], [0, 1]], np.float32), 0.9)
    assert i.tolist() == [0] and j.tolist() == [1] and cos[0] == pytest.approx(1.0)


def test_planted_paraphrases_found_and_different_questions_kept(db: str) -> None:
    ids = [r["sample_id"] for r in planted_rows()]
    stats = dedup_samples(db, ids, DedupSettings())
    rows = clusters(db)
    for topic in PAIRS:
        for lang in ("en", "zh"):
            a, b = rows[f"{topic}-{lang}-0"], rows[f"{topic}-{lang}-1"]
            assert a["cluster_id"] == b["cluster_id"], (topic, lang)
            assert a["kept"] != b["kept"] and {a["method"], b["method"]} == {"", "semantic"}
    # different questions of one field are never merged, and translations are not dropped
    for lang in ("en", "zh"):
        assert rows[f"xss-{lang}-0"]["cluster_id"] != rows[f"csrf-{lang}-0"]["cluster_id"]
        assert rows[f"sqli-{lang}-0"]["cluster_id"] != rows[f"cmdi-{lang}-0"]["cluster_id"]
    assert rows["sqli-en-0"]["cluster_id"] != rows["sqli-zh-0"]["cluster_id"]
    assert stats["in"] == 16 and stats["kept"] == 8 and stats["semantic_duplicates"] == 8
    assert stats["clusters"] == 8 and stats["exact_duplicates"] == 0
    dup = next(r for r in rows.values() if not r["kept"])
    assert 0.7 <= dup["similarity"] < 1.0
    assert duplicate_reason(dup["method"], dup["duplicate_of"], dup["similarity"]).startswith("near duplicate of ")
    groups = dict(store.read(db, "dedup_groups").select("sample_id", "group_id").iter_rows())
    assert groups["sqli-en-0"] == groups["sqli-en-1"]


def test_incremental_run_marks_new_duplicate_of_old_and_embeds_only_new(db: str) -> None:
    first = [f"{t}-{lang}-0" for t in PAIRS for lang in ("en", "zh")]
    one = dedup_samples(db, first, DedupSettings())
    assert one["embedded"] == 8 and one["kept"] == 8
    second = [f"{t}-{lang}-1" for t in PAIRS for lang in ("en", "zh")]
    scores = {sid: 4.0 for sid in first}  # the old samples were judged better
    two = dedup_samples(db, second, DedupSettings(), scores)
    assert two["embedded"] == 8 and two["earlier"] == 8
    assert two["semantic_duplicates"] == 8 and two["kept"] == 0
    rows = clusters(db)
    assert rows["sqli-zh-1"]["duplicate_of"] == "sqli-zh-0"
    assert rows["sqli-zh-1"]["cluster_id"] == rows["sqli-zh-0"]["cluster_id"] == "sqli-zh-0"
    again = dedup_samples(db, second, DedupSettings(), scores)
    assert again["embedded"] == 0 and again["written"] == 0


def test_best_score_is_kept_then_longer_answer(db: str) -> None:
    extra = [clean_row("x-copy", "WHAT is stored XSS and how can a web application prevent it",
                       PAIRS["xss"]["en"][0][1].upper()),
             clean_row("x-gone", "What is stored XSS?", "Dropped by clean.", kept=False)]
    store.upsert(db, "clean_samples", extra)
    ids = [r["sample_id"] for r in planted_rows()] + ["x-copy", "x-gone"]
    stats = dedup_samples(db, ids, DedupSettings(), scores={"xss-en-1": 4.5, "x-copy": 3.0})
    rows = clusters(db)
    assert "x-gone" not in rows
    assert rows["xss-en-1"]["kept"] and not rows["xss-en-0"]["kept"]
    assert rows["x-copy"]["duplicate_of"] == "xss-en-1"
    assert rows["xss-en-0"]["method"] == "semantic"
    assert stats["exact_duplicates"] == 0  # x-copy is exact to xss-en-0, not to the kept one
    best = dedup_samples(db, ids, DedupSettings(), scores={"x-copy": 5.0})
    rows = clusters(db)
    assert rows["x-copy"]["kept"] and rows["xss-en-0"]["method"] == "exact"
    assert rows["xss-en-0"]["similarity"] == 1.0 and best["exact_duplicates"] == 1
    assert rows["x-copy"]["cluster_id"] == rows["xss-en-0"]["cluster_id"]


def test_stable_ids_inherit_names_and_never_reuse_one() -> None:
    ids = ["a", "b", "c", "d", "e"]
    # old clusters: {a, b} named "a", {c} named "c"; now {a}, {b, c}, {d, e}
    names = stable_ids(np.array([0, 1, 1, 2, 2]), ids, {"a": "a", "b": "a", "c": "c"})
    assert names[0] == "a"
    assert names[1] == names[2] == "c"
    assert names[3] == names[4] == "d"
    merged = stable_ids(np.array([0, 0, 0, 1, 1]), ids, {"a": "a", "b": "a", "c": "c"})
    assert merged[:3] == ["a"] * 3 and len(set(merged)) == 2


def test_calibration_report_lists_bands_with_both_languages(db: str) -> None:
    report = calibration_report(db, DedupSettings(), cutoffs=(0.9, 0.8, 0.7), per_cutoff=20)
    assert report.startswith("# Dedup threshold calibration: `use-multilingual`")
    assert "| 0.70 |" in report and "## cosine 0.70 to 0.80" in report
    assert "zh/zh" in report and "en/en" in report
    assert "为什么参数化查询可以防止SQL注入？" in report
    short = calibration_report(db, DedupSettings(), cutoffs=(0.9, 0.8, 0.7), per_cutoff=1)
    assert short.count("| zh/zh |") + short.count("| en/en |") + short.count("| en/zh |") <= 3
