"""PII scrubbing: every kind redacted in English and Chinese text, look-alikes left alone."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sftforge.cleaning.pii import cn_id_valid, luhn_valid, scrub


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        # e-mail
        ("Mail john.doe+sec@corp.example.com today.", "Mail [EMAIL] today.", {"EMAIL": 1}),
        ("邮箱zhangsan@163.com，请尽快回复。", "邮箱[EMAIL]，请尽快回复。", {"EMAIL": 1}),
        # phones: Chinese mobile (plain, +86, 3-4-4), landline, US, international
        ("请联系张三，手机 13812345678。", "请联系张三，手机 [PHONE]。", {"PHONE": 1}),
        ("电话：+86 138 1234 5678 或 010-12345678", "电话：[PHONE] 或 [PHONE]", {"PHONE": 2}),
        ("手机号+8613912345678，座机(0755)87654321", "手机号[PHONE]，座机[PHONE]", {"PHONE": 2}),
        ("Call (415) 555-0132 or 415.555.0132.", "Call [PHONE] or [PHONE].", {"PHONE": 2}),
        ("London office: +44 20 7946 0958.", "London office: [PHONE].", {"PHONE": 1}),
        # Chinese resident ID (X check character, and a digit one)
        ("身份证 11010519491231002X，已登记", "身份证 [CN_ID]，已登记", {"CN_ID": 1}),
        ("ID number 440308199901011234 was leaked.", "ID number [CN_ID] was leaked.", {"CN_ID": 1}),
        # bank cards passing Luhn: grouped Visa, contiguous UnionPay 19 digits, Amex 4-6-5
        ("Card 4111 1111 1111 1111 was charged.", "Card [BANK_CARD] was charged.", {"BANK_CARD": 1}),
        ("银行卡号6222021234567890128，开户行北京", "银行卡号[BANK_CARD]，开户行北京", {"BANK_CARD": 1}),
        ("Amex 3782-822463-10005.", "Amex [BANK_CARD].", {"BANK_CARD": 1}),
        # IP addresses
        ("The C2 server 203.0.113.7 beacons.", "The C2 server [IP] beacons.", {"IP": 1}),
        ("攻击来源IP为192.168.10.23，端口8080", "攻击来源IP为[IP]，端口8080", {"IP": 1}),
        ("Host 2001:db8:85a3::8a2e:370:7334 and fe80::1%eth0.", "Host [IP] and [IP].", {"IP": 2}),
        ("访问 http://10.1.2.3:8080/admin 即可", "访问 http://[IP]:8080/admin 即可", {"IP": 1}),
    ],
)
def test_each_pii_kind_is_redacted(text: str, expected: str, kinds: dict[str, int]) -> None:
    assert scrub(text) == (expected, kinds)


def test_url_credentials_keep_scheme_and_host() -> None:
    text, kinds = scrub("git clone https://alice:s3cr3t@github.com/org/repo.git")
    assert text == "git clone https://[URL_CREDENTIALS]@github.com/org/repo.git"
    assert kinds == {"URL_CREDENTIALS": 1}
    zh, _ = scrub("数据库连接串 mysql://root:P@ssw0rd@db.internal:3306/app 已泄露")
    assert "root" not in zh and "P@ssw0rd" not in zh and "[URL_CREDENTIALS]@db.internal:3306/app" in zh


@pytest.mark.parametrize(
    "secret",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "sk-proj-abcdefghijklmnopqrstuvwxyz123456",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "xoxb-123456789012-abcdefghij",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_token_formats_become_secret(secret: str) -> None:
    text, kinds = scrub(f"leaked token {secret} in the log")
    assert text == "leaked token [SECRET] in the log"
    assert kinds == {"SECRET": 1}


def test_secret_assignments_keep_the_name() -> None:
    text, kinds = scrub('api_key = "a8f5f167f44f4964e6c998dee827110c"\npassword: hunter22')
    assert text == 'api_key = "[SECRET]"\npassword: [SECRET]'
    assert kinds == {"SECRET": 2}
    zh, zh_kinds = scrub("默认密码：Admin@2023，请及时修改。")
    assert zh == "默认密码：[SECRET]，请及时修改。" and zh_kinds == {"SECRET": 1}


def test_auth_headers_and_private_keys() -> None:
    text, _ = scrub("Authorization: Basic YWRtaW46YWRtaW4=\nAuthorization: Bearer abcdef1234567890XYZ")
    assert text == "Authorization: Basic [SECRET]\nAuthorization: Bearer [SECRET]"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1L\nabc+/=\n-----END RSA PRIVATE KEY-----"
    assert scrub(f"私钥如下：\n{pem}\n请妥善保管") == ("私钥如下：\n[SECRET]\n请妥善保管", {"SECRET": 1})
    cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAABG5vbmUAAAAEbm9uZQ"
    assert scrub(f"{cut}\nThe key above is truncated.") == ("[SECRET]\nThe key above is truncated.", {"SECRET": 1})


@pytest.mark.parametrize(
    "text",
    [
        "Log4Shell is CVE-2021-44228, disclosed in 2021 (see CVE-2014-0160 too).",
        "Upgrade to version 1.2.3.4 or v2.17.1; Python 3.11.7 is fine.",
        "The service listens on port 8080 and 443; 127.0.0.1:8080 and ::1 are loopback.",
        "Bind to 0.0.0.0 with netmask 255.255.255.0.",
        "Random 18 digits 440308199901011235 fail the ID checksum.",
        "Order 4111111111111112 fails Luhn.",
        "The OID 1.3.6.1.4.1.311 and the hash 3f786850e387550fdab836ed7e6dc881de23001b.",
        "Timestamp 1633036800000 ms, ISBN 978-7-111-12345-6, years 1990-2020, date 2021.10.01.",
        "Python slicing a[1::2] and C++ std::max and a time 12:30:45 are not IPv6.",
        "Settings: max_tokens: 1024, token = tokenizer(text), API_KEY=your_api_key_here.",
        "Basic authentication sends credentials on every request.",
        "2019年发布的版本 3.2.1 修复了 CVE-2019-0708 漏洞，端口 3389。",
        "价格为 13800 元，编号 2021-10-01-001。",
    ],
)
def test_look_alikes_are_not_redacted(text: str) -> None:
    assert scrub(text) == (text, {})


@pytest.mark.parametrize(("text", "expected", "kinds"), [
    ("attacker@example.com from 198.51.100.9 used sk-abcdefghijklmnopqrstuvwx1234",
     "[EMAIL] from [IP] used [SECRET]", {"EMAIL": 1, "IP": 1, "SECRET": 1}),
    ("攻击者 attacker@example.com 从 198.51.100.9 登录，手机 13912345678，使用 sk-abcdefghijklmnopqrstuvwx1234",
     "攻击者 [EMAIL] 从 [IP] 登录，手机 [PHONE]，使用 [SECRET]",
     {"EMAIL": 1, "IP": 1, "PHONE": 1, "SECRET": 1}),
])
def test_mixed_pii_in_one_text(text: str, expected: str, kinds: dict[str, int]) -> None:
    assert scrub(text) == (expected, kinds)
    assert scrub(expected) == (expected, {})  # scrubbed text stays as it is


def test_scrub_handles_empty() -> None:
    assert scrub("") == ("", {}) and scrub(None) == ("", {})


def test_validators() -> None:
    assert cn_id_valid("11010519491231002X") and cn_id_valid("11010519491231002x")
    assert not cn_id_valid("110105194912310021")  # wrong check character
    assert not cn_id_valid("110105194913310021")  # month 13
    assert not cn_id_valid("990105194912310023")  # no such region
    assert not cn_id_valid("110105203012310026", today=date(2025, 1, 1))  # born in the future
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_scrub_citations_keeps_spans_and_types_placeholders() -> None:
    from sftforge.cleaning.pii import scrub_citations

    raw = json.dumps([
        {"quote": "联系电话13812345678，身份证号11010519491231002X。", "start": 10, "end": 40},
        {"quote": "Mail ops@corp.example.com from 10.1.2.3", "start": 50, "end": 89},
        "a bare quote with 13912345678",
    ], ensure_ascii=False)
    text, kinds = scrub_citations(raw)
    assert json.loads(text) == [
        {"quote": "联系电话[PHONE]，身份证号[CN_ID]。", "start": 10, "end": 40},
        {"quote": "Mail [EMAIL] from [IP]", "start": 50, "end": 89},
        {"quote": "a bare quote with [PHONE]"},
    ]
    assert kinds == {"PHONE": 2, "CN_ID": 1, "EMAIL": 1, "IP": 1}
    assert scrub_citations("") == ("[]", {})
