"""Language of a document: py3langid on a prefix of the cleaned text.

py3langid walks the text byte by byte in Python, so its cost grows with length (~0.5 ms per
document on a 600-character prefix, ~0.28 ms on 300 characters here). A few hundred characters
decide the language of prose reliably (300 and 600 gave the same language on every prose text
of the project's fixtures, training passages and benchmark documents); short texts ("Agreed.",
"lol") do not, so a guess below `min_confidence` is reported as "und" (undetermined) rather than as a random language.
"""
from __future__ import annotations

import re

UNDETERMINED = "und"
DEFAULT_PREFIX = 300
DEFAULT_MIN_CONFIDENCE = 0.5
_LETTER = re.compile(r"[^\W\d_]")


class LanguageDetector:
    def __init__(self, prefix: int = DEFAULT_PREFIX, min_confidence: float = DEFAULT_MIN_CONFIDENCE):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.prefix = prefix
        self.min_confidence = min_confidence
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(self, text: str) -> tuple[str | None, float]:
        """(ISO 639-1 code, probability); ("und", p) when unsure; (None, 0.0) when the text has
        no letters at all (emoji, numbers, punctuation)."""
        sample = text[: self.prefix]
        if not _LETTER.search(sample):
            return None, 0.0
        lang, prob = self._identifier.classify(sample)
        prob = float(prob)
        if prob < self.min_confidence:
            return UNDETERMINED, prob
        return str(lang), prob
