"""Entities of the debate: AI models, model families, labs, people, organisations, laws and
licences, found by spaCy PhraseMatchers over the project's own gazetteer (data/gazetteer.jsonl).

Each gazetteer entry has a canonical id ("llama-2"), a label (MODEL, MODEL_FAMILY, LAB, PERSON,
ORG, POLICY, LICENSE, PRODUCT), a display name, `aliases` matched case-insensitively (on LOWER)
and `cased` aliases matched exactly (on ORTH) because their lower-case form is an ordinary word
("Meta", "Grok", "FAIR", "Musk"). Optional `parent` (a model's family) and `org` (its lab) link
entries to each other. Overlapping matches keep the longest ("Llama 2 70B" over "Llama").

Matching runs on spaCy's blank English tokenizer only (no statistical model), and `find_many`
runs it only on the windows of a text that can hold an alias (around the words that may hold an
alias's rarest word): the same entities as matching the whole text, for a fraction of the work.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .words import WORD_RE

_RUN = re.compile(r"\w+")
# Word-character runs of aliases that are common in the debate's prose (>= 20 per 100,000 words
# of the bundled training texts, most common first). Each alias is looked for by one run that
# every match holds, its anchor: any run gives the same entities, a rare one less text to match.
COMMON_RUNS = (
    "and", "of", "for", "on", "model", "models", "open", "by", "safety", "ai", "use", "data", "public",
    "now", "research", "small", "licence", "frontier", "lab", "labs", "us", "team", "code", "source",
    "assistant", "chat", "community", "next", "evaluation", "large", "security", "chatbot", "app",
    "services", "general", "text", "terms", "controls", "control", "purpose", "technology", "instruct",
    "scale", "safe", "reasoning", "llama", "guard", "apache", "70b", "export", "practice", "high",
    "national", "plan", "hub", "cloud", "zero", "trade", "meta", "original", "enterprise", "bot",
)
_COMMONNESS = {w: len(COMMON_RUNS) - i for i, w in enumerate(COMMON_RUNS)}

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

    nlp = spacy.blank("en")
    # spaCy refuses texts over 1,000,000 characters to protect its parser and NER, which a
    # tokenizer-only pipeline does not run: a megabyte-long document is still one to match.
    nlp.max_length = 50_000_000
    return nlp


class EntityMatcher:
    """Finds gazetteer entities in texts; one instance per process (building it takes ~0.2 s)."""

    def __init__(self, entries: Iterable[GazetteerEntry] | None = None, nlp: Any = None):
        self.nlp = nlp or blank_english()
        from spacy.matcher import PhraseMatcher

        self.entries = {e.id: e for e in (entries if entries is not None else load_gazetteer())}
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._orth = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        tok = self.nlp.tokenizer
        # anchor -> how many characters a match may reach before its start and after its end
        anchors: dict[str, list[int]] = {}
        self._always = False  # some alias has no word to look for: the prefilter cannot help
        self._spaced = False  # some alias holds a whitespace token: windows would not do
        for e in self.entries.values():
            for aliases, matcher in ((e.aliases, self._lower), (e.cased, self._orth)):
                if not aliases:
                    continue
                docs = list(tok.pipe(aliases))
                matcher.add(e.id, docs)
                for doc in docs:
                    # runs of word characters inside the alias's tokens: a match holds each of
                    # them inside one of the text's words (words.WORD_RE keeps every run whole).
                    # Positions are in the tokens' lower-case forms joined by one space: a
                    # match is no longer (a text is never longer than its lower case, and
                    # tokens more than one space apart have a whitespace token between them)
                    runs, pos = [], 0
                    for t in doc:
                        low = t.text.lower()
                        runs.extend((m.group(), pos + m.start(), pos + m.end())
                                    for m in _RUN.finditer(low) if m.end() - m.start() >= 2)
                        pos += len(low) + 1
                        self._spaced |= t.is_space
                    if runs:
                        # the rarest run: the least common, then the longest
                        run, a, b = min(runs, key=lambda r: (_COMMONNESS.get(r[0], 0), -len(r[0])))
                        reach = anchors.setdefault(run, [0, 0])
                        reach[0], reach[1] = max(reach[0], a), max(reach[1], pos - 1 - b)
                    else:
                        self._always = True
        self._anchors = {a: (r[0], r[1]) for a, r in anchors.items()}
        self._anchor_re = re.compile("|".join(re.escape(a) for a in sorted(anchors, key=len, reverse=True)))
        self._flags = None
        # (a capital sigma's lower case depends on the letters around it: a token alone and the
        # same token in a text may differ, so no anchor may hold a sigma)
        self._windows_ok = not (self._always or self._spaced or any("σ" in a or "ς" in a for a in anchors))
        if self._windows_ok:
            self._setup_windows()

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
        """Entities of each text: the same as `find` on each, for less work. spaCy matches only
        the parts of a text that can hold an alias (`windows`); `tokens`, the texts'
        `words.TokenBatch` if the caller has one already, tells which words of each text may
        hold an anchor without reading the texts again."""
        texts = list(texts)
        if not self._windows_ok:
            if tokens is None or self._always:
                return [self._doc_entities(doc) for doc in self.nlp.tokenizer.pipe(texts)]
            maybe = self.candidates(tokens)
            found = iter([self._doc_entities(doc) for doc in
                          self.nlp.tokenizer.pipe(t for t, m in zip(texts, maybe) if m)])
            return [next(found) if m else [] for m in maybe]
        if tokens is None:
            return [self._find_in(t, self.windows(t)) for t in texts]
        if len(tokens.texts) != len(texts):
            raise ValueError(f"{len(texts)} texts but a TokenBatch of {len(tokens.texts)}")
        return [self._find_in(t, self.windows(t) if w is None else self._word_windows(t, w))
                for t, w in zip(texts, self._batch_words(tokens))]

    # ------------------------------------------------------------ windows
    def _setup_windows(self) -> None:
        """What `windows` needs: the anchors by first character and the tokenizer's exceptions
        that cut a word between two letters ("gonna" -> "gon" "na")."""
        from spacy.attrs import ORTH

        rules = self.nlp.tokenizer.rules
        # A window is tokenised as the whole text is except near its ends: there spaCy's second
        # pass over the exceptions (a PhraseMatcher over the first tokens) may see a match
        # across the window's end in the text (tokens of an exception's key split by affixes,
        # in chunks one space apart: at most 2 x key - 1 characters) that keeps a key inside the
        # window whole in the text but not in the window (at most one key further). That pass
        # keeps a span unless a longer one processed before it covers its first or last token,
        # accepted or not, so the difference goes no further: a window keeps 3 x the longest
        # key from any match.
        self._margin = 3 * max((len(k) for k in rules), default=0)
        self._by_first: dict[str, list[str]] = {}
        for a in self._anchors:
            self._by_first.setdefault(a[0], []).append(a)
        inner: set[str] = set()
        for key, pieces in rules.items():
            pos = 0
            for piece in pieces[:-1]:
                pos += len(piece[ORTH])
                if 0 < pos < len(key) and key[pos - 1].isalpha() and key[pos].isalpha():
                    core = key.lower().strip("'’-")
                    if core:
                        inner.add(core)
        self._inner = inner
        self._cuts_by_first: dict[str, list[str]] = {}
        for k in inner:
            self._cuts_by_first.setdefault(k[0], []).append(k)
        self._word_reach: dict[str, tuple[int, int] | None] = {}

    def anchor_reach(self, word: str) -> tuple[int, int] | None:
        """May this lower-case word (a `words.WORD_RE` word) hold part of a match, and if so how
        far before its start and after its end can that match reach? A match holds a token with
        an alias token's lower-case form, and so the alias's anchor as a whole run of word
        characters of that token. Where the word holds the anchor with a letter on both sides
        of either end, that token would be cut out of the word between two letters, which
        spaCy's English tokenizer does only inside its exceptions ("cannot", "dont", "im"): a
        word holding one of those between such cuts counts every anchor it contains."""
        if word.isalpha():  # the common case: cuts only at its ends
            if word not in self._inner:
                return self._anchors.get(word)
        elif self._anchor_re.search(word) is None:
            return None
        n = len(word)
        cuts = [i for i in range(n) if i == 0 or not (word[i - 1].isalpha() and word[i].isalpha())]
        at = set(cuts)
        at.add(n)
        loose = False
        for i in cuts:
            for k in self._cuts_by_first.get(word[i], ()):
                if i + len(k) in at and word.startswith(k, i):
                    loose = True
                    break
        if loose:
            cuts, at = list(range(n)), None
        left = right = -1
        for i in cuts:
            for a in self._by_first.get(word[i], ()):
                if (at is None or i + len(a) in at) and word.startswith(a, i):
                    before, after = self._anchors[a]
                    left, right = max(left, before), max(right, after)
        return None if left < 0 else (left, right)

    def _reach(self, word: str) -> tuple[int, int] | None:
        cache = self._word_reach
        try:
            return cache[word]
        except KeyError:
            if len(cache) >= 500_000:
                cache.clear()
            r = cache[word] = self.anchor_reach(word)
            return r

    def windows(self, text: str) -> list[tuple[int, int]]:
        """Character ranges of `text` that hold every match spaCy would find in the whole text:
        around each word that may hold an anchor (`anchor_reach`), as far on each side as a
        match holding it can reach plus the longest tokenizer exception, widened to whole
        whitespace-separated chunks, which spaCy tokenises on their own (so a window's tokens
        are the text's), and merged where they overlap. The whole text when its lower-case form
        is not one character per character (offsets would not map)."""
        low = text.lower()
        if len(low) != len(text):
            return [(0, len(text))] if text else []
        reach = self._reach
        words = []
        for w in set(WORD_RE.findall(low)):
            r = reach(w)
            if r is not None:
                words.append((w, r[0], r[1]))
        hits = self._locate(low, words)
        assert hits is not None  # every word was read off the text
        return self._spans(text, hits)

    def _word_windows(self, text: str, words: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
        """`windows` from the words of `text` (with their reach) that may hold an anchor, as
        a TokenBatch gives them: the text is not split into words again."""
        low = text.lower()
        if len(low) != len(text):
            return [(0, len(text))] if text else []
        hits = self._locate(low, words)
        if hits is None:  # a word is not where the batch says: read the text itself
            return self.windows(text)
        return self._spans(text, hits)

    @staticmethod
    def _locate(low: str, words: list[tuple[str, int, int]]) -> list[tuple[int, int]] | None:
        """Where matches holding these words can be: around every place a word stands whole
        (no word character on either side, as around each words.WORD_RE word, and perhaps a
        few more places). None if a word is nowhere."""
        n = len(low)
        hits = []
        for w, left, right in words:
            k, i = len(w), low.find(w)
            found = False
            while i >= 0:
                j = i + k
                if (i == 0 or not _wordy(low[i - 1])) and (j == n or not _wordy(low[j])):
                    hits.append((i - left, j + right))
                    found = True
                i = low.find(w, i + 1)
            if not found:
                return None
        return hits

    def _spans(self, text: str, hits: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if not hits:
            return []
        n, margin = len(text), self._margin
        isspace = str.isspace
        hits.sort()
        out: list[list[int]] = []
        for a, b in hits:
            a -= margin
            b += margin
            if out and a <= out[-1][1]:
                if b > out[-1][1]:
                    out[-1][1] = b
                continue
            out.append([a, b])
        spans: list[tuple[int, int]] = []
        for a, b in out:
            if a <= 0:
                a = 0
            else:  # back to the start of the chunk
                while a > 0 and not isspace(text[a - 1]):
                    a -= 1
            if b >= n:
                b = n
            else:  # on to the end of the chunk
                while b < n and not isspace(text[b]):
                    b += 1
            while a < b and isspace(text[a]):
                a += 1
            while b > a and isspace(text[b - 1]):
                b -= 1
            if a >= b:
                continue
            if spans and a <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
            else:
                spans.append((a, b))
        return spans

    def _find_in(self, text: str, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """Entities of `text` found by spaCy in its windows only."""
        if not spans:
            return []
        if len(spans) == 1 and spans[0] == (0, len(text)):
            return self._doc_entities(self.nlp.make_doc(text))
        # windows joined by a newline: a token of its own that no alias holds
        parts, bases, pos = [], [], 0
        for a, b in spans:
            parts.append(text[a:b])
            bases.append(pos)
            pos += b - a + 1
        found = self._doc_entities(self.nlp.make_doc("\n".join(parts)))
        k = 0
        for x in found:
            while k + 1 < len(bases) and bases[k + 1] <= x["start"]:
                k += 1
            shift = spans[k][0] - bases[k]
            x["start"] += shift
            x["end"] += shift
        return found

    def _table(self):
        """Per word id of the word index: (reach before, reach after) of the word if it may
        hold an anchor, (-1, -1) if not, (inf, inf) for the over-long word (its text is not
        kept: it may hold anything)."""
        from .words import LONG_WORD, IdTable

        if self._flags is None:
            if self._windows_ok:
                def row(w: str) -> tuple[float, float]:
                    if w == LONG_WORD:
                        return (np.inf, np.inf)
                    r = self._reach(w)
                    return (-1.0, -1.0) if r is None else (float(r[0]), float(r[1]))
            else:
                def row(w: str) -> tuple[float, float]:
                    return (np.inf, np.inf) if w == LONG_WORD or self._anchor_re.search(w) else (-1.0, -1.0)
            self._flags = IdTable(lambda ws: np.array([row(w) for w in ws], dtype=np.float64).reshape(len(ws), 2))
        return self._flags.get()

    def _batch_words(self, tokens: Any) -> list[list[tuple[str, int, int]] | None]:
        """Per text of a TokenBatch: its words that may hold an anchor, with their reach, or
        None when the text must be read whole (cut at MAX_SENTENCES, or an over-long word)."""
        from .words import MAX_SENTENCES, word_index

        table = self._table()
        n = len(tokens.texts)
        out: list[list[tuple[str, int, int]] | None] = [[] for _ in range(n)]
        if len(tokens.ids):
            rows = table[tokens.ids]
            hit = np.flatnonzero(rows[:, 0] >= 0)
            word_starts = tokens.sent_starts[tokens.pass_starts]  # each passage's first word
            owner = np.searchsorted(word_starts, hit, side="right") - 1
            words = word_index().words  # the index a TokenBatch's ids point into
            seen: set[tuple[int, int]] = set()
            for i, wid, (left, right) in zip(owner.tolist(), tokens.ids[hit].tolist(), rows[hit].tolist()):
                got = out[i]
                if got is None or (i, wid) in seen:
                    continue
                seen.add((i, wid))
                if left == np.inf:
                    out[i] = None
                else:
                    got.append((words[wid], int(left), int(right)))
        for i in np.flatnonzero(np.diff(tokens.pass_starts) >= MAX_SENTENCES).tolist():
            out[i] = None
        return out

    def candidates(self, tokens: Any) -> list[bool]:
        """Per text of a TokenBatch: may it hold an alias? Every alias has a run of two or
        more word characters (its rarest one is the anchor) that a match must contain, and
        such a token lies inside one of the batch's words (`anchor_reach` says which words can
        hold it), so a text with none of them has no match. A passage cut at
        words.MAX_SENTENCES is always a candidate."""
        from .words import MAX_SENTENCES, segment_sums

        table = self._table()
        flags = (table[tokens.ids, 0] >= 0).astype(np.float64) if len(tokens.ids) else np.zeros(0)
        word_starts = tokens.sent_starts[tokens.pass_starts]  # each passage's first word
        hits = segment_sums(flags, word_starts)
        cut = np.diff(tokens.pass_starts) >= MAX_SENTENCES
        return ((hits > 0) | cut).tolist()


def _wordy(c: str) -> bool:
    """Is `c` a word character (regular expressions' \\w)?"""
    return c.isalnum() or c == "_"
