"""PII and secret scrubbing with typed placeholders.

``scrub(text) -> (text, {kind: count})`` replaces, in this order (earlier kinds hide their
characters from later ones, e.g. a password inside a URL is not also an email):

=====================  =================================================================
``[SECRET]``           private key blocks, JWTs, AWS/GitHub/Slack/OpenAI/Stripe/Google/...
                       tokens, ``Authorization: Bearer|Basic`` values, and the value of
                       ``api_key=...`` / ``password: ...`` / ``密码：...`` assignments
``[URL_CREDENTIALS]``  ``user:pass`` of a URL; scheme, host and path stay
``[EMAIL]``            e-mail addresses
``[IP]``               IPv4 (octets validated) and IPv6 (validated with ``ipaddress``)
``[CN_ID]``            18-digit Chinese resident ID: region prefix, real birth date and the
                       ISO 7064 MOD 11-2 check character must all agree
``[BANK_CARD]``        13-19 digits (contiguous or in 4-digit groups) passing Luhn
``[PHONE]``            Chinese mobile (``1[3-9]`` + 9 digits, optional +86) and landline
                       (``010-12345678``), ``+`` international numbers, US ``(415) 555-0132``
=====================  =================================================================

Policy: everything that matches is redacted, including documentation values such as
``attacker@example.com`` or ``203.0.113.7``: the rules stay simple and deterministic, and an
internal manual may well use "example" ranges for real hosts. The only exceptions are values
that identify nobody and are core vocabulary of the field: loopback and unspecified addresses
(``127.0.0.1``, ``0.0.0.0``, ``::1``) and netmasks (``255.255.255.0``).

Numbers are matched with ASCII word boundaries (``re.ASCII``), so ``手机13812345678`` is found
but digits inside hashes or longer numbers are not; years, version numbers, ports, CVE ids and
IP addresses never have the shape of a phone number here.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Callable

KINDS = ("SECRET", "URL_CREDENTIALS", "EMAIL", "IP", "CN_ID", "BANK_CARD", "PHONE")


@dataclass(frozen=True)
class Rule:
    """One detector: ``replace(match)`` returns the replacement, or ``None`` to keep the match."""

    kind: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str | None]
    # Cheap pre-check; the rule is skipped when the text has no match for it.
    hint: re.Pattern[str] | None = None


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | flags)


def _placeholder(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"[{kind}]"


# --- secrets -------------------------------------------------------------------------------

# A key cut off before its END line still loses its base64 (and PEM header) lines.
_PRIVATE_KEY = _rx(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:\n[ \t]*(?:[A-Za-z0-9+/=]{8,}|(?:Proc-Type|DEK-Info|Comment):[^\n]*)[ \t]*)*)",
    re.DOTALL,
)
_JWT = _rx(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_TOKENS = _rx(
    r"\b(?:"
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}"  # AWS access key id
    r"|sk-(?:proj-|ant-|or-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic / OpenRouter style
    r"|[sprk]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}"  # Hugging Face, npm
    r")(?![A-Za-z0-9_-])"
)
_AUTH_HEADER = _rx(r"(?i)\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/-]{12,}=*)")
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|secret|token|passwd|password|pwd|access[_-]?key"
    r"|private[_-]?key|credential|sessid|session[_-]?id)s?[A-Za-z0-9_-]*|密码|口令|密钥|秘钥|令牌"
)
_SECRET_HINT = re.compile(r"(?i)key|secret|token|passw|pwd|credential|sess|密码|口令|密钥|秘钥|令牌")
_ASSIGNMENT = _rx(
    rf"(?i)(?<![A-Za-z0-9_])({_SECRET_NAME})([\"']?\s*(?:=>|:=|[:=]|：)\s*)([\"'`]?)"
    r"((?:(?![\"'`,;()<>{}\[\]])[\x21-\x7e]){4,})(\3)"  # ASCII: a CJK comma ends it
)
_PLACEHOLDER_HINT = re.compile(r"(?i)your|example|xxx|\*\*\*|\.\.\.|changeme|placeholder|redacted")
_IDENTIFIER_PATH = re.compile(r"[A-Za-z_][A-Za-z_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PASSWORD_NAME = re.compile(r"(?i)pass|pwd|密码|口令")


def _looks_secret(name: str, value: str, quoted: bool) -> bool:
    """True for a credential literal, False for code references, env lookups and placeholders."""
    if value.startswith(("$", "%", "[")) or _PLACEHOLDER_HINT.search(value):
        return False
    if not quoted and _IDENTIFIER_PATH.fullmatch(value):
        return False  # `token = tokenizer` or `key: settings.secret` is code, not a secret
    if value.isdigit():  # `max_tokens: 1024` is a setting; `密码：123456` is a password
        return bool(_PASSWORD_NAME.search(name))
    return len(value) >= 6 or any(c.isdigit() for c in value)


def _replace_assignment(m: re.Match[str]) -> str | None:
    name, sep, quote, value = m.group(1), m.group(2), m.group(3), m.group(4)
    if not _looks_secret(name, value, bool(quote)):
        return None
    return f"{name}{sep}{quote}[SECRET]{quote}"


def _replace_auth_header(m: re.Match[str]) -> str | None:
    token = m.group(3)
    # "Basic authentication" is prose; credentials carry digits, base64 padding or mixed case.
    if not (re.search(r"[0-9+/=]", token) or (token.lower() != token and token.upper() != token)):
        return None
    return f"{m.group(1)}{m.group(2)}[SECRET]"


# --- URLs, e-mail, IP ----------------------------------------------------------------------

# The password part runs to the last "@" before the host: passwords may contain "@".
_URL_CREDENTIALS = _rx(r"(?i)\b([a-z][a-z0-9+.-]{1,15}://)[^\s/@:\[\]]+:[^\s/]*@")
_EMAIL = _rx(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![\w-])"
)
_IPV6 = _rx(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})"
    r"(?:%[0-9A-Za-z_-]+)?(?![\w:])"
)
_IPV4 = _rx(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_VERSION_BEFORE = _rx(r"(?i)(?<![a-z])(?:version|ver\.?|release|build|版本号?)\s*[:：]?\s*$")


def _harmless_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.is_loopback or ip.is_unspecified:
        return True
    bits = f"{int(ip):0{ip.max_prefixlen}b}"
    return ip.version == 4 and "01" not in bits and bits.startswith("1")  # netmask


def _replace_ipv6(m: re.Match[str]) -> str | None:
    cand = m.group()
    groups = cand.split("%")[0].split(":")
    # `a[1::2]` or `std::max` must stay: real addresses have 3+ colons or a long hex group.
    if cand.count(":") < 3 and not (re.search("[A-Fa-f]", cand) and max(map(len, groups)) >= 3):
        return None
    try:
        ip = ipaddress.IPv6Address(cand.split("%")[0])
    except ValueError:
        return None
    return None if _harmless_ip(ip) else "[IP]"


def _replace_ipv4(m: re.Match[str]) -> str | None:
    if _VERSION_BEFORE.search(m.string[max(0, m.start() - 12):m.start()]):
        return None
    try:
        ip = ipaddress.IPv4Address(m.group())
    except ValueError:  # octet > 255 or leading zeros
        return None
    return None if _harmless_ip(ip) else "[IP]"


# --- numbers: Chinese ID, bank card, phone -------------------------------------------------

_CN_ID = _rx(r"(?<!\w)[1-9]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?!\w)")
_CN_REGIONS = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 "
    "64 65 71 81 82 83".split()
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_valid(number: str, today: date | None = None) -> bool:
    """True when ``number`` is a well-formed 18-character Chinese resident ID."""
    if len(number) != 18 or number[:2] not in _CN_REGIONS:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= (today or date.today()):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def _replace_cn_id(m: re.Match[str]) -> str | None:
    return "[CN_ID]" if cn_id_valid(m.group()) else None


_BANK_CARD = _rx(
    r"(?<![\w+-])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5}"
    r"|\d{13,19})(?![\w-])"
)


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _replace_bank_card(m: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", m.group())
    # No card network starts with 0 or 1; 13-digit millisecond timestamps start with 1.
    if digits[0] in "01" or len(set(digits)) == 1:
        return None
    return "[BANK_CARD]" if luhn_valid(digits) else None


_PHONE_PATTERNS = (
    # Chinese mobile, optionally +86 / 0086 / (+86), contiguous or 3-4-4.
    r"(?:(?:\+|00)86[ -]?|\(\+?86\)[ -]?)?1[3-9]\d(?:\d{8}|([ -])\d{4}\1\d{4})",
    r"(?:\(0\d{2,3}\)[ -]?|0\d{2,3}-)\d{7,8}(?:-\d{1,4})?",  # Chinese landline
    r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{2,5}){2,5}",  # international with +
    r"(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}([ .-])\d{3}\2\d{4})",  # US/NANP
)
_PHONE = _rx(r"(?<![\w+.-])(?:" + "|".join(_PHONE_PATTERNS) + r")(?![\w-]|\.\d)")


def _replace_phone(m: re.Match[str]) -> str | None:
    n = sum(c.isdigit() for c in m.group())
    return "[PHONE]" if 7 <= n <= 15 else None


RULES: tuple[Rule, ...] = (
    Rule("SECRET", _PRIVATE_KEY, _placeholder("SECRET")),
    Rule("URL_CREDENTIALS", _URL_CREDENTIALS, lambda m: f"{m.group(1)}[URL_CREDENTIALS]@"),
    Rule("SECRET", _JWT, _placeholder("SECRET")),
    Rule("SECRET", _TOKENS, _placeholder("SECRET")),
    Rule("SECRET", _AUTH_HEADER, _replace_auth_header),
    Rule("SECRET", _ASSIGNMENT, _replace_assignment, _SECRET_HINT),
    Rule("EMAIL", _EMAIL, _placeholder("EMAIL")),
    Rule("IP", _IPV6, _replace_ipv6),
    Rule("IP", _IPV4, _replace_ipv4),
    Rule("CN_ID", _CN_ID, _replace_cn_id),
    Rule("BANK_CARD", _BANK_CARD, _replace_bank_card),
    Rule("PHONE", _PHONE, _replace_phone),
)


def scrub(text: str | None) -> tuple[str, dict[str, int]]:
    """``text`` with every PII match replaced by its placeholder, and the count of each kind."""
    if not text:
        return "", {}
    found: Counter[str] = Counter()
    for rule in RULES:
        if rule.hint is not None and not rule.hint.search(text):
            continue
        def sub(m: re.Match[str], rule: Rule = rule) -> str:
            new = rule.replace(m)
            if new is None:
                return m.group()
            found[rule.kind] += 1
            return new

        text = rule.pattern.sub(sub, text)
    return text, dict(found)


def scrub_citations(citations_json: str | None) -> tuple[str, dict[str, int]]:
    """``samples.citations`` (JSON list of {quote, start, end}) with every quote scrubbed.

    Quotes are copied from the raw chunk, so they carry whatever PII the source had; each
    keeps its ``start``/``end`` span into the chunk and shows the typed placeholder instead of
    the value. Returns the JSON text (same shape, ``ensure_ascii=False``) and {kind: count}.
    Raises ``ValueError`` naming the problem when the text is not a JSON list.
    """
    if not citations_json or not citations_json.strip():
        return "[]", {}
    items = json.loads(citations_json)
    if not isinstance(items, list):
        raise ValueError(f"citations must be a JSON list of quotes, got {type(items).__name__}")
    found: Counter[str] = Counter()
    out = []
    for item in items:
        if isinstance(item, str):  # a bare quote without its span
            item = {"quote": item}
        quote, kinds = scrub(str(item.get("quote") or ""))
        found.update(kinds)
        out.append({**item, "quote": quote})
    return json.dumps(out, ensure_ascii=False), dict(found)
