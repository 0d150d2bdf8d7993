"""Number-shaped PII for ``sftforge.cleaning.pii``: Chinese resident IDs, bank cards, phones,
passports. Each detector is a pattern plus a ``replace(match) -> placeholder | None`` that
validates what the pattern found (check digits, dates, Luhn), read on the detection view.

``digit run`` detection joins digit groups separated by one space, dot, dash or slash, so
``138.1234.5678`` or a 6-8-4 ID is one number; dates, versions and dotted IPs never join
(inner groups need 3+ digits).
"""

from __future__ import annotations

import re
from datetime import date


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | flags)


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
