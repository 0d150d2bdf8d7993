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
from typing import Callable, Iterator

from sftforge.cleaning import detect_view

# The one list of PII kinds: the scrubber's placeholders, the gate's PII findings and the card.
PII_KINDS = ("URL_CREDENTIALS", "EMAIL", "IP", "CN_ID", "BANK_CARD", "PHONE", "PASSPORT")
KINDS = ("SECRET", *PII_KINDS)


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
# Every quantifier is bounded and no two adjacent ones can trade characters without limit, so a
# keyword costs at most a constant number of steps (the former unbounded name and value runs
# made a 4 KB line of word characters cost 25 s).
# A Chinese name needs no word boundary: "root密码：..." is a password too.
_SECRET_NAME = (
    r"(?<![A-Za-z0-9_])[A-Za-z0-9_.-]{0,32}?(?:api[_-]?key|apikey|secret|token|passwd|password|pwd|access[_-]?key"
    r"|private[_-]?key|credential|sessid|session[_-]?id)s?[A-Za-z0-9_-]{0,32}"
    r"|密码|口令|密钥|秘钥|令牌"
)
_SECRET_HINT = re.compile(r"(?i)key|secret|token|passw|pwd|credential|sess|密码|口令|密钥|秘钥|令牌")
# "=" / ":" assignments, and prose: "the admin password is X", "use password X", "密码是 X".
_PROSE_SEP = r"\s{1,3}(?:is|was|=)?\s{0,3}|\s{0,3}(?:是|为|為|即|：|:)\s{0,3}"
_ASSIGNMENT = _rx(
    rf"(?i)({_SECRET_NAME})"
    rf"([\"']?\s{{0,3}}(?:=>|:=|[:=]|：)\s{{0,3}}|{_PROSE_SEP})([\"'`]?)"
    r"((?:(?![\"'`,;()<>{}\[\]])[\x21-\x7e]){4,128})(\3)"  # ASCII: a CJK comma ends it
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


def _prose_secret(sep: str, value: str) -> bool:
    """A value after "is" / a space / "是" is a password only when it looks like one: letters
    mixed with digits or symbols ("password is required" and "password policy" are prose)."""
    if re.search(r"[是为為即]", sep) and value.isdigit():
        return len(value) >= 6
    kinds = (any(c.isalpha() for c in value), any(c.isdigit() for c in value),
             any(not c.isalnum() for c in value))
    return len(value) >= 6 and sum(kinds) >= 2


def _replace_assignment(m: re.Match[str]) -> str | None:
    name, sep, quote, value = m.group(1), m.group(2), m.group(3), m.group(4)
    tail = ""
    if not quote and value.endswith("."):  # the sentence's full stop, not the password's
        value, tail = value[:-1], "."
    prose = not re.search(r"[=:：]", sep)
    if prose and not quote and not _prose_secret(sep, value):
        return None
    if not _looks_secret(name, value, bool(quote)):
        return None
    return f"{name}{sep}{quote}[SECRET]{quote}{tail}"


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
# Spelled out: "name [at] host [dot] cn", "name(at)lab.edu.cn", "name at host dot com",
# "名字 艾特 host 点 com". A bare " at " needs a spelled-out dot too ("look at example.com"
# is prose). Labels are bounded so a long run of words costs a constant per start.
_AT_MARK = r"\s{0,2}[\[({<]\s{0,2}(?:at|AT|艾特)\s{0,2}[\])}>]\s{0,2}"
_DOT_MARK = r"\s{0,2}[\[({<]\s{0,2}(?:dot|DOT|点)\s{0,2}[\])}>]\s{0,2}|\s(?:dot|DOT)\s|\s{0,2}点\s{0,2}"
_LABEL = r"[A-Za-z0-9-]{1,63}"
# The bare "at ... dot" form ends in a common top-level domain ("and at docs dot python" is prose).
_TLDS = r"com|net|org|cn|io|edu|gov|info|biz|co|uk|de|jp|me|dev|ai|hk|tw|us|ru|fr"
_EMAIL_SPELLED = _rx(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
    rf"(?:{_AT_MARK}{_LABEL}(?:(?:\.|{_DOT_MARK}){_LABEL}){{0,5}}(?:\.|{_DOT_MARK})[A-Za-z]{{2,24}}"
    rf"|\s{{1,2}}(?:at|AT|艾特)\s{{1,2}}{_LABEL}(?:(?:\.|{_DOT_MARK}){_LABEL}){{0,5}}"
    rf"(?:{_DOT_MARK})(?i:{_TLDS}))(?![\w-])"
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
    octets = [int(o) for o in m.group().split(".")]  # "010.020.030.040" is 10.20.30.40
    if max(octets) > 255:
        return None
    ip = ipaddress.IPv4Address(".".join(map(str, octets)))
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


def cn_id15_valid(number: str) -> bool:
    """True for a well-formed 15-digit (pre-1999) resident ID: region and a real 19xx birth date."""
    if len(number) != 15 or not number.isdigit() or number[:2] not in _CN_REGIONS:
        return False
    try:
        date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError:
        return False
    return True


# Digits in groups joined by one space, dot, dash or slash each ("138.1234.5678", the 6-8-4
# ID, the 6-10 card), contiguous ones too. One pass: a run starts only where no digit group
# precedes it, so a failed candidate is never retried from inside itself.
_DIGIT_RUN = _rx(r"(?<![\w.+-])(?<!\d[ ./-])\d+(?:[ ./-]\d+)*[Xx]?(?![\w-]|\.\d)")


def _replace_digit_run(m: re.Match[str]) -> str | None:
    """[CN_ID], [PHONE] or [BANK_CARD] for a run whose digits, however grouped, are one."""
    groups = re.split(r"[ ./-]", m.group())
    if len(groups) > 2 and min(len(g) for g in groups[1:-1]) < 3:
        return None  # dates (2024-01-15), versions (1.2.3) and IPs (10.0.12.7)
    digits = "".join(groups)
    if (len(digits) == 18 and cn_id_valid(digits)) or cn_id15_valid(digits):
        return "[CN_ID]"
    if not digits.isdigit():
        return None
    if re.fullmatch(r"(?:86)?1[3-9]\d{9}", digits) and len(groups) <= 4:
        return "[PHONE]"
    if 13 <= len(digits) <= 19 and digits[0] not in "01" and len(set(digits)) > 1:
        return "[BANK_CARD]" if luhn_valid(digits) else None
    return None


# Chinese passports (E/G + 8 digits, EA-EH + 7) next to a word that says so; the MRZ lines of
# any passport (the second carries the number, the first the holder's name).
_PASSPORT = _rx(r"(?i)(?:passport|护照|旅行证件)[^\n\w]{0,3}(?:no\.?|number|号码?|number:)?[^\w\n]{0,4}"
                r"((?:[EG]|E[A-HJ-NP-Z])[ ]?\d{3,4}[ ]?\d{4})(?!\w)")
_MRZ = _rx(r"(?m)^(?:P[A-Z<][A-Z<]{3}[A-Z<]{30,39}"
           r"|[A-Z0-9<]{9}[0-9<][A-Z<]{3}\d{6}[0-9<][MFX<]\d{6}[0-9<][A-Z0-9<]{14,16})[ \t]*$")


def _replace_passport(m: re.Match[str]) -> str | None:
    start = m.start(1) - m.start()
    return m.group()[:start] + "[PASSPORT]"


def _replace_mrz(m: re.Match[str]) -> str | None:
    return "[PASSPORT]" if "<<" in m.group() or m.group()[0] != "P" else None


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
    Rule("EMAIL", _EMAIL_SPELLED, _placeholder("EMAIL")),
    Rule("IP", _IPV6, _replace_ipv6),
    Rule("IP", _IPV4, _replace_ipv4),
    Rule("CN_ID", _CN_ID, _replace_cn_id),
    Rule("BANK_CARD", _BANK_CARD, _replace_bank_card),
    Rule("PHONE", _PHONE, _replace_phone),
    Rule("CN_ID", _DIGIT_RUN, _replace_digit_run),  # the kind comes from the placeholder
    Rule("PASSPORT", _MRZ, _replace_mrz),
    Rule("PASSPORT", _PASSPORT, _replace_passport),
)


# Rules run over windows of the view: no match is longer than the overlap, and a window's cost
# is bounded whatever its content, so scrubbing is linear in the text's length.
_WINDOW, _STEP = 4096, 3072
WORK = Counter()  # characters handed to the regex engine, per rule kind (tests bound it)


def _matches(rule: Rule, text: str) -> Iterator[re.Match[str]]:
    """Every match of ``rule`` in ``text``, window by window (see ``_WINDOW``)."""
    if rule.hint is not None and not rule.hint.search(text):
        return
    if rule.pattern is _PRIVATE_KEY or len(text) <= _WINDOW:  # its pattern is bounded itself
        WORK[rule.kind] += len(text)
        yield from rule.pattern.finditer(text)
        return
    for off in range(0, len(text), _STEP):
        end = min(len(text), off + _WINDOW)
        WORK[rule.kind] += end - off
        for m in rule.pattern.finditer(text, off, end):
            owned = m.start() < off + _STEP or end == len(text)
            if owned and (m.end() < end or end == len(text)):
                yield m
        if end == len(text):
            return


def _edit(m: re.Match[str], new: str) -> tuple[int, int, str]:
    """The smallest (start, end, text) edit turning the match into ``new`` (a rule keeps the
    key name of an assignment or the scheme of a URL: only the value is replaced)."""
    old = m.group()
    pre = 0
    while pre < min(len(old), len(new)) and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < min(len(old), len(new)) - pre and old[-1 - suf] == new[-1 - suf]:
        suf += 1
    return m.start() + pre, m.end() - suf, new[pre:len(new) - suf]


def find_pii(text: str) -> tuple[detect_view.View, list[tuple[int, int, str]], Counter[str]]:
    """(view of ``text``, edits on the view as (start, end, placeholder), {kind: count})."""
    v = detect_view.view(text)
    edits: list[tuple[int, int, str]] = []
    found: Counter[str] = Counter()
    taken: list[tuple[int, int]] = []
    for rule in RULES:
        for m in _matches(rule, v.text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue  # an earlier kind already covers these characters
            new = rule.replace(m)
            if new is None:
                continue
            kind = re.search(r"\[([A-Z_]+)\]", new)
            found[kind.group(1) if kind else rule.kind] += 1
            taken.append((m.start(), m.end()))
            edits.append(_edit(m, new))
    return v, edits, found


UNMAPPED = "PII_UNMAPPED"  # kind counted when a found value could not be removed in place


def scrub(text: str | None) -> tuple[str, dict[str, int]]:
    """``text`` with every PII match replaced by its placeholder, and the count of each kind.

    Detection reads the view of ``sftforge.cleaning.detect_view`` (zero-width joiners,
    full-width digits and look-alike letters cannot hide a value); each match is replaced in
    the original text. When a value is still found after replacement (a match the view could
    not map back), the whole text becomes ``[PII_UNMAPPED]`` and the kind ``PII_UNMAPPED`` is
    counted: the clean stage drops such a sample with that reason."""
    if not text:
        return "", {}
    v, edits, found = find_pii(text)
    if not edits:
        return text, {}
    out = detect_view.replace_spans(v, edits)
    if find_pii(out)[1]:
        return f"[{UNMAPPED}]", {**found, UNMAPPED: 1}
    return out, dict(found)


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
