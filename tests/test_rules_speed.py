"""The fast cue path of pipeline.nlp.rules (anchor scan by chunks, one regex per pattern searched
without its leading look-behind, per-chunk counts) finds exactly what the plain regexes find."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from pipeline.nlp import rules

TRAINING = Path(rules.__file__).parent / "training"

EDGE = [
    "", " ", "  two  spaces  ", "😀🔥", "Critics say companies should RELEASE THE WEIGHTS.",
    "The unreleased, pre-release model: release the weights, not the data.",
    "I'm sure we should not be open-sourcing it; the US act bans $100 70b models.",
    "Open weights are dangerous, he wrote: \"never release them\"\n> quoted line",
    "Sur la sécurité: ¡no! ١٢٣b models, Ünïcödé API-only \u212aelvin",
    "release  the  small model but hold back the frontier ones",
    "on the other hand the debate over model cards, according to researchers, is a trade-off",
]


def _texts() -> list[str]:
    texts = list(EDGE)
    for path in sorted(TRAINING.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()][:150]
    return texts


def _sentences() -> list[str]:
    return sorted({s for t in _texts() for s in [t, *rules.split_sentences(t)]})


def test_fast_sentence_cues_equal_the_plain_regexes():
    sents = _sentences()
    assert len(sents) > 500
    hits = 0
    for s in sents:
        got = rules._sentence_cues(s)
        assert got == rules._sentence_cues_unlowered(s), s
        hits += len(got[0])
    assert hits > 200  # the texts do hit the lexicons


def test_anchor_bits_equal_substring_tests():
    """present() (chunks) == present_by_scan() (one trie scan) == each anchor tested with `in`."""
    scan = rules._fast().scan
    rng = random.Random(7)
    anchors = list(scan.bits)
    lows = {s.lower() for s in _sentences()}
    for _ in range(400):  # anchors side by side, across spaces, at the edges
        w = " ".join(rng.choice(anchors) for _ in range(rng.randint(1, 5)))
        lows |= {w, w.strip(), w.replace(" ", "  "), "x" + w + "x"}
    for low in lows:
        by_chunks = scan.present(low)
        assert by_chunks == scan.present_by_scan(low), low
        if low.isascii():
            want = scan.always
            for a in anchors:
                if a in low:
                    want |= scan.bits[a]
            assert by_chunks == want, low


@pytest.mark.parametrize("text", [
    "unreleased prerelease pre-release release releases released",
    "xapi-only api-only api only",
    "because us just use US-based us",
    "the actual act acts react",
])
def test_lead_scan_equals_the_exact_regex(text):
    low = text.lower()
    for table in [*rules.STANCE_RE.values(), rules.TONE_RE, rules.TOPIC_RE]:
        for cues in table.values():
            want = [(m.start(), m.end()) for m in cues.lower_regex.finditer(low)]
            every = (1 << len(cues.patterns)) - 1
            got = [(m.start(), m.end()) for m in cues.scan(low, every)]
            assert got == want, (cues.patterns, low)
            for i in range(len(cues.patterns)):
                single = [(m.start(), m.end()) for m in cues._single(i).finditer(low)]
                exact = re.compile(cues._source((cues.patterns[i],)))
                assert single == [(m.start(), m.end()) for m in exact.finditer(low)]


def test_chunk_local_counts():
    assert rules._chunk_local(re.compile(r"\b(?:i|me|we)\b"))
    for pattern in (r"need to", r"a\sb", r"(?<!x)a", r"a?", r"\Ba", r"a.b"):
        assert not rules._chunk_local(re.compile(pattern)), pattern
    fp = rules._fast().others[0]
    assert fp[2] is not None  # first person is counted chunk by chunk
    for s in _sentences():
        low = s.lower()
        assert sum(fp[2][c] for c in low.split(" ")) == len(fp[0][1].findall(low)), s


def test_top_branches():
    assert rules._top_branches(r"a|b(?:c|d)|[|x]|e\|f") == ["a", "b(?:c|d)", "[|x]", r"e\|f"]
    assert rules._top_branches(r"[]|]x|y") == ["[]|]x", "y"]


@pytest.mark.parametrize("text", [
    "the us and the united states; US-based us-china, because us",
    "we need to act instead of waiting, not now, no: I know we have to",
    "open weights, openweights and open-source data sets; state of the art sota models",
    "rather than no filters, safety filters and model cards",
    "xus usx -us us- us",
])
def test_chunk_counts_equal_the_plain_regexes(text):
    """Additive counts summed over chunks (no non-local alternative present) or scanned (one
    present) equal the plain regexes' counts, on each side of the guard."""
    fast = rules._fast()
    for t in {text, text.replace("united states", "x"), text.replace("instead of", "x").replace("rather than", "x")}:
        got = rules._sentence_cues(t)[2]
        want = rules._sentence_cues_unlowered(t)[2]
        assert got == want, t
        assert want == tuple(rx.count_lower(t, t.lower()) if isinstance(rx, rules.Cues) else len(rx[0].findall(t))
                             for rx in rules._ADDITIVE)
    assert any(g is not None and g for g in fast.chunk_guard)  # some counts have non-local alternatives
    packed = rules._fast().chunk_counts["us"]
    assert packed >> (32 * rules.TOPICS.index("geopolitics")) & 0xFFFFFFFF == 1
