"""PII spelled to slip past a pattern (issue 20): zero-width joiners, full-width digits,
separators between digit groups, spelled-out e-mails, passports, prose passwords; and the
scrubber's work stays linear in the text's length on adversarial input."""

from __future__ import annotations

import re
from re import _parser as sre_parse  # the stdlib's own pattern parser (static checks below)

import pytest

from sftforge.cleaning import detect_view, pii
from sftforge.cleaning.pii import scrub

ZWJ, ZWNJ, ZWSP, SHY = "\u200d", "\u200c", "\u200b", "\u00ad"


def _fw(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


@pytest.mark.parametrize(("text", "expected", "kind"), [
    # resident IDs: ZWJ-joined, 6-8-4, full-width, the 15-digit legacy form, soft hyphens
    (f"身份证号：{ZWJ.join(['110105', '19491231', '002X'])}，已登记", "身份证号：[CN_ID]，已登记", "CN_ID"),
    ("ID 440308 19990101 1234 leaked.", "ID [CN_ID] leaked.", "CN_ID"),
    (f"证件号码{_fw('440308199901011234')}。", "证件号码[CN_ID]。", "CN_ID"),
    ("旧版身份证 110105491231002 仍在用", "旧版身份证 [CN_ID] 仍在用", "CN_ID"),
    (f"id={SHY.join(['110105', '194912', '31002X'])}", "id=[CN_ID]", "CN_ID"),
    # phones: dots, ZWSP between every digit, full-width, spaces 3-4-4
    ("值班电话 138.1234.5678，夜间可拨打。", "值班电话 [PHONE]，夜间可拨打。", "PHONE"),
    (f"Call {ZWSP.join('13912345678')} now.", "Call [PHONE] now.", "PHONE"),
    (f"手机{_fw('15888886666')}（张工）", "手机[PHONE]（张工）", "PHONE"),
    # bank cards: 6-13, dots, ZWNJ-joined 4-groups
    ("退款账户：622202 1234567890128", "退款账户：[BANK_CARD]", "BANK_CARD"),
    ("Card 4111.1111.1111.1111 charged.", "Card [BANK_CARD] charged.", "BANK_CARD"),
    (f"card: {ZWNJ.join(['4111', '1111', '1111', '1111'])}", "card: [BANK_CARD]", "BANK_CARD"),
    # e-mails: spelled out, zero-width inside, full-width at sign
    ("Send it to zhang.wei [at] corp-example [dot] cn today.", "Send it to [EMAIL] today.", "EMAIL"),
    ("Contact ops-lead at acme dot com for access.", "Contact [EMAIL] for access.", "EMAIL"),
    ("reach chen_yu(at)lab.edu.cn", "reach [EMAIL]", "EMAIL"),
    (f"Mail: li{ZWJ}.na@secure{ZWJ}mail.com", "Mail: [EMAIL]", "EMAIL"),
    ("邮箱：wangfang＠example．cn", "邮箱：[EMAIL]", "EMAIL"),
    # IPv4 with leading zeros and full-width
    ("jump host 010.020.030.040 only", "jump host [IP] only", "IP"),
    (f"数据库地址：{_fw('192.168.10.25')}", "数据库地址：[IP]", "IP"),
    # passports: CN with the word, grouped, MRZ
    ("护照号码：E12345678，有效期至2030年。", "护照号码：[PASSPORT]，有效期至2030年。", "PASSPORT"),
    ("Passport no. G 8765 4321 issued.", "Passport no. [PASSPORT] issued.", "PASSPORT"),
    ("E123456784CHN8503121M3001019<<<<<<<<<<<<<<00", "[PASSPORT]", "PASSPORT"),
    # secrets in prose, both languages
    ("The admin password is Tr0ub4dor&3 until rotation.",
     "The admin password is [SECRET] until rotation.", "SECRET"),
    ("数据库密码是 Qw3rty!2024，请勿外传。", "数据库密码是 [SECRET]，请勿外传。", "SECRET"),
    ("口令：hunter2024", "口令：[SECRET]", "SECRET"),
    ("管理员密码为 Adm1n@888。", "管理员密码为 [SECRET]。", "SECRET"),
    ("Use password Winter2025! for the shared account.",
     "Use password [SECRET] for the shared account.", "SECRET"),
    (f"密{ZWJ}码：P@ssw0rd{ZWJ}2023", "密\u200d码：[SECRET]", "SECRET"),
])
def test_spelled_differently_is_still_scrubbed(text: str, expected: str, kind: str) -> None:
    out, found = scrub(text)
    assert out == expected
    assert found == {kind: 1}


@pytest.mark.parametrize("text", [
    "Released 2024-01-15, version 1.2.3, build 20240115.",
    "The password policy requires 12 characters; password is required.",
    "密码长度为 8 到 16 位，口令策略见附录。",
    "Look at example.com and at docs dot python.",
    "Ports 8080 8443 and 9090 are open; see RFC 1918.",
    "错误码 E12345678 表示超时。",  # an E-number without the word passport
    "The chart lists 10 20 30 40 50 60 70 80.",
])
def test_lookalikes_of_the_new_kinds_are_kept(text: str) -> None:
    assert scrub(text) == (text, {})


def test_view_maps_matches_back_to_whole_original_characters() -> None:
    text = f"a{ZWJ}ｂ{SHY}с"  # ZWJ, full-width b, soft hyphen, Cyrillic es
    v = detect_view.view(text)
    assert v.text == "abc"
    assert v.span(1, 3) == (2, 5)
    assert detect_view.replace_spans(v, [(1, 2, "X")]) == f"a{ZWJ}X{SHY}с"


# --- linear work ----------------------------------------------------------------------------

_ADVERSARIAL = {  # each repeated to the size asked: runs that made backtracking patterns explode
    "invisible word run": "a" * 50 + ZWSP,
    "secret keys without values": "password" * 3 + "_",
    "assignment without end": "api_key=" + "x" * 40,
    "digit groups": "1 22 333 4444 ",
    "spelled at": "a [at] b [dot] ",
    "emails without tld": "a.b.c@d-e-f.",
    "ipv6-like": "1:2:3:4:",
    "passport words": "护照 E1234 ",
}


def _work(text: str) -> int:
    pii.WORK.clear()
    scrub(text)
    return sum(pii.WORK.values())


@pytest.mark.parametrize("name", sorted(_ADVERSARIAL))
def test_scrub_work_grows_linearly_on_100kb_adversarial_runs(name: str) -> None:
    """Every rule reads the text in windows of bounded size (each window's cost is a constant),
    so the characters handed to the engine grow like the text; 10 KB vs 100 KB proves it."""
    unit = _ADVERSARIAL[name]
    small, large = ((unit * (n // len(unit) + 1))[:n] for n in (10_000, 100_000))
    w_small, w_large = _work(small), _work(large)
    overlap = pii._WINDOW / pii._STEP  # each character is read by at most this many windows
    assert w_large <= (overlap * len(large) + pii._WINDOW) * len(pii.RULES)
    assert w_large / w_small <= 11.5  # linear: a quadratic scan would give ~100


def _starts_with_repeat(body: list) -> bool:
    """True when a repeat's body begins with an unbounded repeat (``(a+)+``, ``(\\w+\\s?)*``)."""
    while body:
        op, arg = body[0]
        if str(op) == "SUBPATTERN":
            body = list(arg[-1])
            continue
        return str(op) in ("MAX_REPEAT", "MIN_REPEAT") and arg[1] == sre_parse.MAXREPEAT
    return False


def _catastrophic(tree: list) -> bool:
    """True when an unbounded repeat's iterations can begin with another unbounded repeat: the
    engine may then split one run of characters between iterations in exponentially many ways.
    (``(?:\\.[a-z]+)*`` is fine: every iteration starts with a dot the inner run cannot take.)"""
    for op, arg in tree:
        name = str(op)
        subs: list = []
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if arg[1] == sre_parse.MAXREPEAT and _starts_with_repeat(list(arg[2])):
                return True
            subs = [arg[2]]
        elif name == "SUBPATTERN":
            subs = [arg[-1]]
        elif name == "BRANCH":
            subs = list(arg[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            subs = [arg[1]]
        if any(_catastrophic(list(s)) for s in subs):
            return True
    return False


@pytest.mark.parametrize("rule", pii.RULES, ids=lambda r: f"{r.kind}:{r.pattern.pattern[:30]}")
def test_no_pattern_nests_an_unbounded_repeat(rule: pii.Rule) -> None:
    tree = sre_parse.parse(rule.pattern.pattern, rule.pattern.flags)
    assert not _catastrophic(list(tree))


def test_the_static_check_catches_catastrophic_shapes() -> None:
    for bad in (r"(a+)+$", r"(?:\w+\s?)*x", r"^(\d+)*$"):
        assert _catastrophic(list(sre_parse.parse(bad)))
    assert not _catastrophic(list(sre_parse.parse(r"\w+(?:\.\w+)*")))


def test_secret_assignment_has_only_bounded_runs() -> None:
    """The pattern that was cubic (4 KB line: 25 s) now has no unbounded repeat at all."""
    assert not re.search(r"(?<!\\)[*+]|\{\d+,\}", pii._ASSIGNMENT.pattern.replace("{4,128}", ""))


def test_a_chinese_secret_name_after_latin_letters_is_found() -> None:
    assert scrub("服务器root密码：Zx!9820qw") == ("服务器root密码：[SECRET]", {"SECRET": 1})
