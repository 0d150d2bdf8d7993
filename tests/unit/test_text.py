"""sftforge.text: token estimate, language detection, sentence split, garbled score, Markdown."""

from sftforge.text import (
    detect_lang,
    estimate_tokens,
    garbled_share,
    join_lines,
    markdown_blocks,
    split_sentences,
)


def test_tokens_count_each_cjk_character_once():
    assert estimate_tokens("跨站脚本攻击") == 6
    assert estimate_tokens("") == 0


def test_tokens_english_prose_about_1_3_per_word():
    text = "Attackers inject scripts into pages that other users open later"  # 10 words
    assert 12 <= estimate_tokens(text) <= 15


def test_tokens_mixed_and_code():
    assert estimate_tokens("使用 SQL 注入") == 4 + 2  # 4 Han + ceil(1.3) for "SQL"
    blob = "a3f9c2e8b7d6" * 20  # one long "word": the chars/4 rule applies
    assert estimate_tokens(blob) == 60


def test_detect_lang_by_script_share():
    zh = "跨站脚本（XSS）是一种常见的漏洞，攻击者利用 SQL 注入和 OWASP Top 10 中的其他风险。"
    en = "The attacker sends hostile data to an interpreter, and the application runs it. " * 3
    fr = "Le pirate envoie des données hostiles à un interpréteur et le serveur les exécute. " * 3
    assert detect_lang(zh) == "zh"
    assert detect_lang(en) == "en"
    assert detect_lang(fr) == "other"
    assert detect_lang("これはクロスサイトスクリプティングの説明です。") == "ja"
    assert detect_lang("12345 !!! ...") == "other"


def test_split_sentences_english_keeps_abbreviations():
    text = "Use prepared statements, e.g. in Java. See Fig. 3 for details! Is it safe? Yes."
    assert split_sentences(text) == [
        "Use prepared statements, e.g. in Java.",
        "See Fig. 3 for details!",
        "Is it safe?",
        "Yes.",
    ]


def test_split_sentences_chinese_terminators_and_quotes():
    text = "跨站脚本是漏洞。攻击者会注入脚本！你安全吗？先检查输出；再看输入……他说：“修好了。”然后结束"
    assert split_sentences(text) == [
        "跨站脚本是漏洞。", "攻击者会注入脚本！", "你安全吗？", "先检查输出；", "再看输入……",
        "他说：“修好了。”", "然后结束",
    ]


def test_join_lines_hyphens_and_cjk():
    assert join_lines(["bypass authenti-", "cation checks"]) == "bypass authentication checks"
    assert join_lines(["a DOM-", "based bug"]) == "a DOM-based bug"
    assert join_lines(["跨站脚本是一种", "常见漏洞"]) == "跨站脚本是一种常见漏洞"
    assert join_lines(["跨 站 脚 本", "uses XSS"]) == "跨站脚本 uses XSS"


def test_garbled_share_clean_text_scores_zero():
    assert garbled_share("Cross-site scripting lets attackers run script.") == 0.0
    assert garbled_share("跨站脚本是一种常见的网页漏洞。") == 0.0
    assert garbled_share("Le café est à côté de l'hôtel, où l'équipe a créé un rôle.") < 0.1
    assert garbled_share("Die Größe der Übermittlung ist für Angriffe maßgeblich.") < 0.1
    urls = "See https://owasp.org/www-project-top-ten/2017/A1_2017-Injection and more. " * 5
    assert garbled_share(urls) == 0.0


def test_garbled_share_flags_broken_extraction():
    assert garbled_share("\ufffd\ufffd\ufffd\ufffd ab") > 0.5  # missing glyph maps
    assert garbled_share("\ue001\ue002\ue003\ue004\ue005 x") > 0.5  # private-use glyphs
    mojibake = "跨站脚本是一种常见的网页漏洞".encode("utf-8").decode("cp1252", errors="replace")
    assert garbled_share(mojibake) > 0.5
    assert garbled_share("ä¸­æ–‡æµ‹è¯•") > 0.5  # re-decodable mojibake
    jammed = "êđlloOgµr∂lđčOworlčaOthisOisOµOtđstOofOtđxtOandOmore " * 8
    assert garbled_share(jammed) > 0.5


def test_markdown_blocks_structure_and_pages():
    src = (
        "# Guide\n\nIntro line one\nline two.\n\n## 表格\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```sql\nSELECT 1;\n  -- indented\n```\n\n- item one\n- item two\n\n$$ E = mc^2 $$\n"
        "\f## Page two\n\n中文段落\n第二行\n"
    )
    blocks = markdown_blocks(src)
    assert [(b["kind"], b.get("level")) for b in blocks] == [
        ("heading", 1), ("paragraph", None), ("heading", 2), ("table", None), ("code", None),
        ("list", None), ("formula", None), ("heading", 2), ("paragraph", None),
    ]
    assert blocks[1]["text"] == "Intro line one line two."
    assert blocks[3]["text"] == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert blocks[4]["text"] == "SELECT 1;\n  -- indented"
    assert blocks[-1] == {"kind": "paragraph", "text": "中文段落第二行", "page": 2}
    assert blocks[0]["page"] == 1
