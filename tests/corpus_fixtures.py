"""A corpus of small, distinct PDFs (one topic each, English and Chinese) for incremental-build
tests and ``bench/incremental.py``. Every document is one chunk under the default chunk
settings, so it gets a fixed number of questions; topics share no sentence, so dedup keeps them
apart. Written with pymupdf (``render_markdown_pdf``) like the other fixtures."""

from __future__ import annotations

from pathlib import Path

from sftforge.demo_corpus import render_markdown_pdf

TOPICS: list[tuple[str, str, list[str]]] = [
    ("sql_injection", "SQL Injection", [
        "Prepared statements send the query text and its values to the database separately.",
        "An attacker who controls a string literal can close it and append a UNION clause.",
        "Stored procedures do not help when they build dynamic SQL from their arguments.",
        "Least privilege limits a successful injection to the tables one account may read."]),
    ("csrf", "Cross-Site Request Forgery", [
        "A forged request rides on the cookies the browser attaches to every call to the site.",
        "Synchronizer tokens tie each form submission to a secret stored in the session.",
        "SameSite cookies stop most cross-origin form posts without any change to the forms.",
        "State-changing actions must never be reachable through a plain GET link."]),
    ("tls", "Transport Layer Security", [
        "Certificates bind a public key to a host name and are signed by a trusted authority.",
        "HSTS tells browsers to refuse plain HTTP for a domain for a fixed number of seconds.",
        "Forward secrecy keeps recorded traffic safe even if the server key leaks later.",
        "Old protocol versions such as SSLv3 must be disabled on every public listener."]),
    ("passwords", "Password Storage", [
        "Passwords are stored as slow salted hashes such as Argon2id or bcrypt, never encrypted.",
        "A unique salt per account defeats precomputed rainbow tables.",
        "Work factors are raised every few years as attackers buy faster graphics cards.",
        "Breached-password lists catch choices that are long but already public."]),
    ("ssrf", "Server-Side Request Forgery", [
        "SSRF makes the server fetch a URL chosen by the attacker, often an internal address.",
        "Cloud metadata endpoints hand out credentials to any process that asks them.",
        "Allow-lists of destination hosts are safer than deny-lists of private ranges.",
        "Redirects must be resolved and checked again before the second request leaves."]),
    ("deserialization", "Insecure Deserialization", [
        "Native object formats such as Java serialization can run code while an object loads.",
        "Gadget chains reuse classes already on the classpath to reach a dangerous method.",
        "Plain data formats like JSON with a strict schema remove the whole class of bug.",
        "Signing serialized blobs stops tampering but not a malicious signer."]),
    ("logging", "Security Logging", [
        "Audit logs record who did what and when, in a store the application cannot rewrite.",
        "Log lines must never contain passwords, tokens or full card numbers.",
        "Alerts on repeated failed logins catch credential stuffing early.",
        "Clocks of every server are synchronized so events can be ordered across machines."]),
    ("supply_chain", "Software Supply Chain", [
        "Lock files pin the exact version and hash of every dependency that ships.",
        "Typosquatted packages imitate popular names with one changed letter.",
        "Build machines that sign releases are kept apart from developer laptops.",
        "A software bill of materials lists components so advisories can be matched quickly."]),
    ("xxe", "XML External Entities", [
        "An external entity lets an XML document pull in local files or remote URLs.",
        "Parsers should disable document type definitions unless a feature truly needs them.",
        "Billion-laughs payloads expand nested entities until memory runs out.",
        "Switching an API to JSON avoids entity processing altogether."]),
    ("cors", "Cross-Origin Resource Sharing", [
        "CORS headers relax the same-origin policy for responses a browser may read.",
        "Reflecting any Origin header together with credentials exposes private data.",
        "Preflight requests ask permission before methods other than GET and POST.",
        "A wildcard origin is acceptable only for public, cookie-free resources."]),
    ("zh_upload", "文件上传安全", [
        "上传的文件必须保存在网站根目录之外，防止被直接执行。",
        "服务器应根据文件内容判断类型，而不是相信扩展名。",
        "图片可以重新编码一次，以清除隐藏在元数据中的脚本。",
        "每个用户的上传配额可以限制磁盘被恶意占满。"]),
    ("zh_access", "访问控制", [
        "每一次请求都要在服务器端检查当前用户是否有权访问该资源。",
        "只在前端隐藏按钮并不能阻止攻击者直接调用接口。",
        "可预测的订单编号容易导致越权读取他人的数据。",
        "默认拒绝的策略比逐条禁止更不容易遗漏。"]),
    ("secrets", "Secrets Management", [
        "Secrets live in a vault and reach services as short-lived credentials at start-up.",
        "Keys committed to a repository stay in its history even after the file is deleted.",
        "Rotation schedules shrink the window in which a leaked key is useful.",
        "Separate keys per environment keep a staging leak away from production data."]),
    ("clickjacking", "Clickjacking", [
        "Clickjacking hides a real page in a transparent frame under a decoy button.",
        "The frame-ancestors directive lists which sites may embed a page.",
        "Sensitive actions can ask for a second confirmation that a frame cannot fake.",
        "Old browsers understand only the X-Frame-Options header."]),
]


def topic_pdf(path: Path, index: int, revision: int = 0) -> Path:
    """Write topic ``index`` as a one-chunk PDF at ``path``; ``revision`` > 0 adds a sentence,
    so the file's bytes (and its doc_id) change while its name stays."""
    _key, title, sentences = TOPICS[index]  # the title names the file's topic only
    body = list(sentences)
    if revision:
        body.append(f"Revision {revision} adds that reviews of this control happen every quarter."
                    if title.isascii() else f"第{revision}版补充：这一控制措施每季度复查一次。")
    # One paragraph, no heading: the scripted server answers with passage sentences, and a
    # heading picked as a "sentence" would end an answer without punctuation (clean: truncated).
    markdown = " ".join(body) + "\n"
    # No running header or page number: on a one-page file nothing marks them as furniture.
    return render_markdown_pdf(markdown, path, page_numbers=False, paper="a5")


def write_topics(folder: Path, indexes: list[int]) -> list[Path]:
    """Write the topics ``indexes`` into ``folder`` as ``<key>.pdf``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    return [topic_pdf(folder / f"{TOPICS[i][0]}.pdf", i) for i in indexes]
