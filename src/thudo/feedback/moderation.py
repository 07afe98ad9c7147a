"""What the public may read of a report: personal numbers redacted, abuse detected.

Redaction is automatic and always on for public text (descriptions, public notes):
Vietnamese phone numbers (0… or +84…, with spaces, dots or hyphens between digits),
12-digit personal ID numbers and 9-digit old ID card numbers, and e-mail addresses.
Abusive content (Vietnamese profanity and insults, with or without diacritics, and the
usual abbreviations) hides the report from the public until a moderator decides; the
citizen and the handling unit still see it. Every automatic or manual decision is a
`feedback_moderation` row.
"""

from __future__ import annotations

import re

from thudo.core.text import fold

PHONE_MARK = "[số điện thoại đã ẩn]"
ID_MARK = "[số giấy tờ đã ẩn]"
EMAIL_MARK = "[email đã ẩn]"

_SEP = r"[\s.\-]?"
# 0 or +84/84, then a mobile or landline prefix digit, then 8–9 more digits (10–11 in all).
_PHONE = re.compile(rf"(?<![\d])(?:\+?84{_SEP}|0)[1-9](?:{_SEP}\d){{8,9}}(?![\d])")
_ID12 = re.compile(rf"(?<![\d])\d{{3}}(?:{_SEP}\d){{9}}(?![\d])")
_ID9 = re.compile(rf"(?<![\d])\d{{3}}(?:{_SEP}\d){{6}}(?![\d])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    """The text with phone numbers, ID numbers and e-mail addresses replaced by marks."""
    out = _EMAIL.sub(EMAIL_MARK, text)
    out = _PHONE.sub(PHONE_MARK, out)
    out = _ID12.sub(ID_MARK, out)
    return _ID9.sub(ID_MARK, out)


# Accented forms are matched as written (lower case); their folded forms would also match
# innocent words (lồn → "lon", a can), so only unambiguous folded forms are listed.
_ABUSIVE_ACCENTED = (
    "địt", "đụ", "lồn", "buồi", "cặc", "đĩ", "đéo", "đệch", "óc chó", "mẹ mày", "bố mày",
    "con chó", "thằng chó", "chó chết", "ngu như bò", "súc vật", "khốn nạn", "mất dạy",
)  # fmt: skip
_ABUSIVE_FOLDED_WORDS = (
    "dm", "dmm", "dcm", "dkm", "vcl", "vkl", "vl", "clgt", "cmm", "dit me", "du ma",
    "deo", "oc cho", "me may", "thang cho", "suc vat", "khon nan", "mat day",
)  # fmt: skip
_ACCENTED = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(w) for w in _ABUSIVE_ACCENTED) + r")(?!\w)"
)
_FOLDED = re.compile(
    r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in _ABUSIVE_FOLDED_WORDS) + r")(?![a-z0-9])"
)


def abusive_terms(text: str) -> list[str]:
    """The abusive words found (empty when none)."""
    lowered = text.lower()
    found = [m.group(0) for m in _ACCENTED.finditer(lowered)]
    # Folded forms count only in words written without diacritics ("deo" typed for "đéo"),
    # never in a decent accented word that folds the same ("đeo", to wear).
    plain = " ".join(w if w.isascii() else "_" for w in re.split(r"\s+", lowered))
    found += [m.group(0) for m in _FOLDED.finditer(fold(plain))]
    return found


def is_abusive(text: str) -> bool:
    return bool(abusive_terms(text))
