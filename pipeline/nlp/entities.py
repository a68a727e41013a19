"""Entities of the debate: AI models, model families, labs, people, organisations, laws and
licences, found by spaCy PhraseMatchers over the project's own gazetteer (data/gazetteer.jsonl).

Each gazetteer entry has a canonical id ("llama-2"), a label (MODEL, MODEL_FAMILY, LAB, PERSON,
ORG, POLICY, LICENSE, PRODUCT), a display name, `aliases` matched case-insensitively (on LOWER)
and `cased` aliases matched exactly (on ORTH) because their lower-case form is an ordinary word
("Meta", "Grok", "FAIR", "Musk"). Optional `parent` (a model's family) and `org` (its lab) link
entries to each other. Overlapping matches keep the longest ("Llama 2 70B" over "Llama").

Matching runs on spaCy's blank English tokenizer only (no statistical model): ~2,500 docs/s.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

_WORD_RUN = re.compile(r"\w+").findall
LABELS = ("MODEL", "MODEL_FAMILY", "LAB", "PERSON", "ORG", "POLICY", "LICENSE", "PRODUCT")


@dataclass(frozen=True)
class GazetteerEntry:
    id: str
    label: str
    name: str
    aliases: tuple[str, ...] = ()
    cased: tuple[str, ...] = ()
    parent: str | None = None
    org: str | None = None


def load_gazetteer(path: str | Path | None = None) -> list[GazetteerEntry]:
    """The bundled gazetteer (or another JSON Lines file in the same format)."""
    if path is None:
        text = resources.files("pipeline.nlp").joinpath("data/gazetteer.jsonl").read_text("utf-8")
        where = "pipeline/nlp/data/gazetteer.jsonl"
    else:
        text = Path(path).read_text("utf-8")
        where = str(path)
    entries: list[GazetteerEntry] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        entry = GazetteerEntry(
            id=raw["id"], label=raw["label"], name=raw.get("name") or raw["id"],
            aliases=tuple(raw.get("aliases", ())), cased=tuple(raw.get("cased", ())),
            parent=raw.get("parent"), org=raw.get("org"),
        )
        if entry.label not in LABELS:
            raise ValueError(f"{where}:{n}: label {entry.label!r} is not one of {', '.join(LABELS)}")
        if entry.id in seen:
            raise ValueError(f"{where}:{n}: id {entry.id!r} appears twice")
        seen.add(entry.id)
        entries.append(entry)
    return entries


def blank_english():
    """spaCy's blank English pipeline (tokenizer only).

    spaCy imports thinc, which imports torch eagerly when it is installed (the embedding
    distillation brings it): 2-3 s per process, for a tokenizer that never touches it. So when
    neither is loaded yet, spaCy is imported with torch hidden, and torch is importable again
    right after for anyone who needs it."""
    import sys

    if "spacy" not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail fast
        try:
            import spacy
        finally:
            del sys.modules["torch"]
    import spacy

    return spacy.blank("en")


class EntityMatcher:
    """Finds gazetteer entities in texts; one instance per process (building it takes ~0.2 s)."""

    def __init__(self, entries: Iterable[GazetteerEntry] | None = None, nlp: Any = None):
        self.nlp = nlp or blank_english()
        from spacy.matcher import PhraseMatcher

        self.entries = {e.id: e for e in (entries if entries is not None else load_gazetteer())}
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._orth = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        tok = self.nlp.tokenizer
        anchors: set[str] = set()
        self._always = False  # some alias has no word to look for: the prefilter cannot help
        for e in self.entries.values():
            for aliases, matcher in ((e.aliases, self._lower), (e.cased, self._orth)):
                if not aliases:
                    continue
                docs = list(tok.pipe(aliases))
                matcher.add(e.id, docs)
                for doc in docs:
                    # runs of word characters inside the alias's tokens: a match holds each of
                    # them inside one of the text's words (words.WORD_RE keeps every run whole)
                    runs = [r for t in doc for r in _WORD_RUN(t.text.lower()) if len(r) >= 2]
                    if runs:
                        anchors.add(max(runs, key=len))
                    else:
                        self._always = True
        self._anchor_re = re.compile("|".join(re.escape(a) for a in sorted(anchors, key=len, reverse=True)))
        self._flags = None

    def _doc_entities(self, doc) -> list[dict[str, Any]]:
        from spacy.tokens import Span
        from spacy.util import filter_spans

        matches = self._lower(doc) + self._orth(doc)
        if not matches:
            return []
        spans = filter_spans([Span(doc, s, e, label=m) for m, s, e in matches])
        out = []
        for span in sorted(spans, key=lambda s: s.start):
            entry = self.entries[span.label_]
            out.append({"id": entry.id, "label": entry.label, "text": span.text,
                        "start": span.start_char, "end": span.end_char})
        return out

    def find(self, text: str) -> list[dict[str, Any]]:
        """Entities of one text: dicts with id, label, text, start, end (offsets into `text`)."""
        return self._doc_entities(self.nlp.make_doc(text))

    def find_many(self, texts: Iterable[str], tokens: Any = None) -> list[list[dict[str, Any]]]:
        """Entities of each text. `tokens`, the texts' `words.TokenBatch` if the caller has one
        already, lets spaCy skip the texts that hold no word any alias needs (same results)."""
        texts = list(texts)
        if tokens is None or self._always:
            return [self._doc_entities(doc) for doc in self.nlp.tokenizer.pipe(texts)]
        maybe = self.candidates(tokens)
        found = iter([self._doc_entities(doc) for doc in self.nlp.tokenizer.pipe(t for t, m in zip(texts, maybe) if m)])
        return [next(found) if m else [] for m in maybe]

    def candidates(self, tokens: Any) -> list[bool]:
        """Per text of a TokenBatch: may it hold an alias? Every alias has a token of two or
        more word characters (its longest is the anchor) that a match must contain, and such a
        token lies inside one of the batch's words, so a text none of whose words contains an
        anchor has no match. A passage cut at words.MAX_SENTENCES is always a candidate."""
        import numpy as np

        from .words import LONG_WORD, MAX_SENTENCES, IdTable, segment_sums

        if self._flags is None:
            search = self._anchor_re.search
            # an over-long word shares one id and its text is not kept: it may hold anything
            self._flags = IdTable(lambda ws: np.fromiter((w == LONG_WORD or search(w) is not None for w in ws),
                                                         dtype=np.float64, count=len(ws)))
        flags = self._flags.get()[tokens.ids] if len(tokens.ids) else np.zeros(0)
        word_starts = tokens.sent_starts[tokens.pass_starts]  # each passage's first word
        hits = segment_sums(flags, word_starts)
        cut = np.diff(tokens.pass_starts) >= MAX_SENTENCES
        return ((hits > 0) | cut).tolist()
