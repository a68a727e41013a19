"""Privacy in what is published: keyed pseudonyms for authors, masking of contact details.

Pseudonyms are HMAC-SHA256 of "platform:author" under a secret key, so one author keeps one
pseudonym across snapshots (researchers can follow them) while nobody without the key can
recover the name, nor confirm a guess."""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any

ENV_KEY = "DEBATELAKE_PSEUDONYM_KEY"


class PrivacyKeyMissing(RuntimeError):
    pass


def pseudonym_key(privacy: dict[str, Any] | None = None) -> bytes:
    """The key from $DEBATELAKE_PSEUDONYM_KEY or the config's [privacy] key; never a default,
    because a guessable key would publish names in all but name."""
    privacy = privacy or {}
    key = os.environ.get(ENV_KEY) or privacy.get("key") or ""
    if not key and privacy.get("key_file"):
        try:
            with open(privacy["key_file"], encoding="utf-8") as fh:
                key = fh.read().strip()
        except OSError as exc:
            raise PrivacyKeyMissing(f"cannot read [privacy] key_file {privacy['key_file']!r}: {exc}") from exc
    if len(key) < 16:
        what = "is too short (use at least 16 characters)" if key else "is not set"
        raise PrivacyKeyMissing(
            f"the pseudonymisation key {what}: set {ENV_KEY} (e.g. `export {ENV_KEY}=$(openssl rand -hex 32)`) "
            f"or [privacy] key / key_file in the config. Keep the same key for every snapshot so that "
            f"pseudonyms stay stable; nothing was published with raw author names."
        )
    return key.encode("utf-8")


def pseudonymise(author: str | None, platform: str, key: bytes) -> str | None:
    if not author:
        return None
    digest = hmac.new(key, f"{platform}:{author}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"user_{digest[:16]}"


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_EMAIL_OBFUSCATED = re.compile(
    r"\b[\w.+-]+\s*[\[(]\s*at\s*[\])]\s*[A-Za-z0-9-]+(?:\s*[\[(]\s*dot\s*[\])]\s*[A-Za-z0-9-]+)+\b", re.I
)
# Candidate numbers: an optional +country code or (area) and two to five digit groups.
# `_phone_or_keep` then keeps lists of scores, dates, versions and ids as they are.
_PHONE = re.compile(
    r"(?<![\w/.,-])(?:\+\d{1,3}[\s.-]?)?(?:1[\s.-](?=\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}))?"
    r"(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w/-])"
)
# International numbers written with their + (or 00) prefix: groups of any length (+49 30 12345678,
# +33 1 23 45 67 89, 0044 20 7946 0958).
_PHONE_INTL = re.compile(r"(?:(?<![\w+])\+|(?<![\w+/.,-])00(?=[1-9]))\d{1,3}(?:[\s.-]?(?:\(\d{1,5}\)|\d{1,8})){1,6}"
                         r"(?![\w/-]|[.,]\d)")
# National numbers dialled with the trunk 0 and groups of any length (07700 900123, 030 12345678,
# 030/12345678, 044 123 45 67, 06 1234 5678): `_national_or_keep` decides by digits and groups.
_PHONE_NATIONAL = re.compile(r"(?<![\w/.,:+-])0[1-9]\d{0,3}(?:[ /-]\d{2,8}){1,4}(?![\w/:-]|[.,]\d)")
_NANP = re.compile(r"(?:1[\s.-](?=\d{3}[\s.-]\d{3}[\s.-]\d{4}))?\d{3}[\s.-]\d{3,4}(?:[\s.-]\d{4})?")
_FR = re.compile(r"0\d(?:[\s.-]\d{2}){4}")  # 06 12 34 56 78


def mask_contacts(text: str | None) -> str | None:
    """Replace e-mail addresses and phone numbers with [email] / [phone]."""
    if not text:
        return text
    text = _EMAIL.sub("[email]", text)
    text = _EMAIL_OBFUSCATED.sub("[email]", text)
    text = _PHONE_INTL.sub(_intl_or_keep, text)
    text = _PHONE_NATIONAL.sub(_national_or_keep, text)
    return _PHONE.sub(_phone_or_keep, text)


def _intl_or_keep(match: re.Match[str]) -> str:
    raw = match.group(0)
    if not 8 <= len(re.sub(r"\D", "", raw)) <= 15:
        return raw
    if raw.startswith("00") and not re.search(r"[\s.-]", raw):
        return raw  # one run of digits with leading zeros: an id, not a dialled number
    tokens = raw.split()
    if len(tokens) >= 2 and all(re.fullmatch(r"\+?\d+\.\d+", t) for t in tokens):
        return raw  # signed decimals (+12.5 13.4 14.2): scores, not a number to call
    return "[phone]"


def _national_or_keep(match: re.Match[str]) -> str:
    raw = match.group(0)
    groups = re.split(r"[ /-]", raw)
    if not 9 <= sum(len(g) for g in groups) <= 12:
        return raw  # too short for a dialled number (01-02-2024 is a date), too long for one
    if len(groups) >= 3 or any(len(g) >= 5 for g in groups[1:]):
        return "[phone]"
    return raw  # two short groups (0123 4567): a pair of numbers as often as a phone


def _phone_or_keep(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15:
        return raw
    if raw.startswith("+") or "(" in raw:
        return "[phone]"
    if re.fullmatch(r"(19|20)\d{2}[-./]\d{1,2}[-./]\d{1,2}", raw):
        return raw  # a date
    separators = set(re.findall(r"[\s.-]", raw))
    if _FR.fullmatch(raw) and len(separators) == 1:
        return "[phone]"
    if _NANP.fullmatch(raw) and (separators <= {"-"} or separators <= {"."} or len(digits) >= 10):
        return "[phone]"
    if separators <= {"-"} and len(digits) >= 9:
        return "[phone]"
    return raw
