"""The processing steps one by one (no model, no tables): cleaning, language, passages,
duplicates, entities and the gazetteer."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pipeline.nlp.clean import clean_text, is_binary
from pipeline.nlp.dedup import DedupIndex, DedupItem, MinHasher, text_hash
from pipeline.nlp.entities import LABELS, EntityMatcher, load_gazetteer
from pipeline.nlp.language import UNDETERMINED, LanguageDetector
from pipeline.nlp.passages import passage_spans, sentence_spans

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("raw, cleaned", [
    ("Caf&eacute; &amp; <i>bar</i>", "Café & bar"),
    ("ﬁne ｗｉｄｅ", "fine wide"),  # NFKC
    ("zero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),
    ("A [link](https://x.org/a_(b)) and ![img](p.png) here", "A link and here"),
    ("text [span]{.underline} more {#id .cls}", "text span more"),
    ("claim.[1] next^[2] and [^note] end, models¹ too", "claim. next and end, models too"),
    ("::: {.warning}\nBe careful.\n:::", "Be careful."),
    ("# Title\n\n> quoted **bold** line\n\n* item one\n* item two", "Title\n\nquoted bold line\n\nitem one\nitem two"),
    ("<p>One</p><script>var x = 1;</script><p>Two<br>three</p>", "One\n\nTwo\nthree"),
    ("Line one\n\n\n\n   Line   two\t\ttabs", "Line one\n\nLine two tabs"),
    ("Leave a comment\nReal text here.\n12 likes\nSubscribe to get new posts in your inbox.", "Real text here."),
    ("Share this", "Share this"),  # a one-line comment is what its author wrote
    # code blocks are not labelled: fenced (either kind, info string allowed) and <pre><code>
    ("Intro.\n\n```python\nsafety_filter = False\n```\n\nAfter.", "Intro.\n\nAfter."),
    ("A\n~~~\nk = 1\n```\nstill code\n~~~\nB", "A\n\nB"),
    ("<p>Before</p><pre><code class='py'>out = filter(x)</code></pre><p>After</p>", "Before\n\nAfter"),
    ("<pre>A whole post archived as plain text.</pre>", "A whole post archived as plain text."),
    ("Stray fence\n```\nkept text", "Stray fence\n\nkept text"),  # unclosed: only the fence line goes
])
def test_clean_text(raw, cleaned):
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize("raw, normalised", [
    ("a \t b\xa0\xa0c\r\nd\n\n\n\ne  ", "a b c\nd\n\ne"),
    ("one two three", "one two three"),  # already normal: unchanged
    ("x\u2009y\u3000z\u00a0\u2009w", "x y z w"),  # thin, ideographic, no-break spaces: one space per run
    ("\r\r\n  lead\tand trail \t\n\n\n\n\n", "lead and trail"),
    (" \n \n ", ""),
])
def test_normalise_whitespace_is_idempotent(raw, normalised):
    from pipeline.nlp.clean import normalise_whitespace

    assert normalise_whitespace(raw) == normalised
    assert normalise_whitespace(normalised) == normalised
    # clean_text normalises again only after dropping boilerplate lines; both ways end normal
    assert clean_text(raw + "\n\nShare this\nLast line.") == (normalised + "\n\nLast line.").strip()


def test_unclosed_fences_cost_linear_time():
    import time

    text = ("```python\n" + "word " * 20 + "\n") * 3000  # 3,000 fences, none closed
    started = time.perf_counter()
    out = clean_text(text)
    assert time.perf_counter() - started < 0.5  # a backtracking pattern took 2.4 s here
    assert out.count("word") == 3000 * 20


def test_binary_and_megabyte_text():
    assert is_binary(bytes(range(256)).decode("latin-1") * 10)
    assert is_binary("\ufffd\ufffd abc \ufffd" * 100)
    assert not is_binary("Plain prose with ünïcödé and emoji 🔥.")
    big = "<p>Open <b>weights</b> matter [^1] to research.</p>\n" * 25_000  # ~1.2 MB of markup
    out = clean_text(big)
    assert out.startswith("Open weights matter to research.") and "<" not in out and "[^" not in out


def test_language():
    det = LanguageDetector()
    assert det.detect("The weights were released under a permissive licence last week, and people "
                      "are already fine-tuning them.")[0] == "en"
    assert det.detect("Les poids du modèle ont été publiés la semaine dernière sous une licence libre.")[0] == "fr"
    assert det.detect("Die Gewichte wurden letzte Woche unter einer freien Lizenz veröffentlicht.")[0] == "de"
    assert det.detect("🔥🔥 😂 123 !!!") == (None, 0.0)
    assert det.detect("ok")[0] in ("en", UNDETERMINED)
    # only the prefix is read: a long German tail after it does not change the answer
    english = "The weights were released under a permissive licence, and people are fine-tuning them. " * 4
    german = "Die Gewichte wurden letzte Woche unter einer freien Lizenz veröffentlicht. " * 20
    assert det.prefix <= len(english) and det.detect(english + german)[0] == "en"
    assert LanguageDetector(prefix=10_000).detect(english + german)[0] == "de"


def test_passages_cut_at_sentences_and_keep_offsets():
    para = " ".join(f"Sentence number {i} says something about open weights and filters." for i in range(60))
    text = "A title\n\n" + para + "\n\nA closing paragraph that is long enough to stand on its own, surely."
    spans = passage_spans(text, "post", max_chars=500)
    assert all(e - s <= 500 for s, e in spans) and len(spans) >= 7
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert text[spans[0][0]:spans[0][1]].startswith("A title\n\nSentence number 0")  # heading joined on
    assert all(text[s:e].endswith(".") for s, e in spans)
    # every non-space character of the text is in exactly one passage
    covered = "".join(text[s:e] for s, e in spans)
    assert sorted(covered.replace(" ", "").replace("\n", "")) == sorted(text.replace(" ", "").replace("\n", ""))
    comment = "Short reply.\n\nWith a second paragraph."
    assert passage_spans(comment, "comment") == [(0, len(comment))]
    assert passage_spans(comment, "post") == [(0, len(comment))]  # tiny paragraphs are joined
    assert passage_spans("", "post") == []
    no_stops = "word " * 1000  # no sentence ends at all: cut at spaces
    assert all(e - s <= 1200 for s, e in passage_spans(no_stops.strip(), "post"))
    sample = "Dr. Smith met Mr. Jones. Then they left! Done?"
    assert [sample[s:e] for s, e in sentence_spans(sample)] == [
        "Dr. Smith met Mr. Jones.", "Then they left!", "Done?"]


def test_minhash_is_stable_across_processes():
    text = "open weights let anyone inspect the model and fine tune it for their own language"
    sig = MinHasher().signature(text)
    code = ("import sys; sys.path.insert(0, %r); from pipeline.nlp.dedup import MinHasher; "
            "print(','.join(map(str, MinHasher().signature(%r).tolist())))" % (str(REPO), text))
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == ",".join(map(str, sig.tolist()))
    assert MinHasher().signature("too short") is None


def test_minhash_words_of_ascii_texts_are_the_regex_words():
    import re

    texts = ["Open-weights (v2.1) models_x: can't STOP_now!\tok\n\nnext_line 42x", "", "   ",
             "a_b __ _ x9 9x --- ... ' \" \x7f\x1f end"]
    for text in texts:
        fast = MinHasher.words(text)
        assert [w.decode() for w in fast] == re.findall(r"\w+", text.lower()), text
    # a non-ASCII text takes the regular expression; the same words give the same signature
    text = "Anyone can inspect the weights, fine tune them and run them offline, which matters a lot"
    assert MinHasher.words(text + " \u2014")[0] == "anyone"
    assert np.array_equal(MinHasher().signature(text), MinHasher().signature(text + " \u2014"))
    assert np.array_equal(MinHasher().signature(text), MinHasher().signature(text.upper() + "\u00a0!"))


def test_dedup_index_marks_earlier_documents_and_survives_a_rebuild():
    hasher = MinHasher()
    base = ("The model refused to summarise a news article about a war because it contained violence, "
            "which makes it useless for journalists who need exactly that kind of summary every day. "
            "Filters that cannot tell reporting from incitement fail the people who most need the tool, "
            "and they push those people towards uncensored models with no safeguards at all.")
    near = base.replace("useless", "worthless")
    other = "A completely different text about licences, export controls and compute thresholds for frontier models."

    def item(doc_id: str, text: str) -> DedupItem:
        return DedupItem(doc_id, f"h-{doc_id}", text_hash(text), hasher.signature(text))

    index = DedupIndex(threshold=0.8)
    decisions, rows = index.assign([item("a", base), item("b", base), item("c", near), item("d", other)], "run1")
    assert [(d.duplicate_of, d.kind) for d in decisions] == [(None, None), ("a", "exact"), ("a", "near"), (None, None)]
    assert decisions[2].similarity >= 0.8 and rows.num_rows == 4

    rebuilt = DedupIndex.from_rows([rows], threshold=0.8)
    again, new_rows = rebuilt.assign([item("c", near), item("a", base), item("e", near)])
    assert [(d.duplicate_of, d.kind) for d in again] == [("a", "near"), (None, None), ("c", "exact")]
    assert new_rows.num_rows == 1  # only "e" is new
    variant = base.replace("journalists", "reporters")
    assert [(d.duplicate_of, d.kind) for d in DedupIndex.from_rows([rows], threshold=0.8).assign(
        [item("f", variant)])[0]] == [("a", "near")]
    strict = DedupIndex.from_rows([rows], threshold=1.0)  # the threshold decides
    assert [(d.duplicate_of, d.kind) for d in strict.assign([item("f", variant), item("g", near)])[0]] == [
        (None, None), ("c", "exact")]


def test_gazetteer_and_entity_linking():
    entries = load_gazetteer()
    assert len(entries) >= 150
    assert len({e.id for e in entries}) == len(entries) and {e.label for e in entries} <= set(LABELS)
    counts = Counter(e.label for e in entries)
    assert counts["MODEL"] + counts["MODEL_FAMILY"] >= 60 and counts["LAB"] >= 20 and counts["PERSON"] >= 30
    ids = {e.id for e in entries}
    assert all(e.parent in ids for e in entries if e.parent) and all(e.org in ids for e in entries if e.org)

    m = EntityMatcher(entries)
    cases = {
        "Llama 2 is out": [("Llama 2", "llama-2")],
        "I ran llama-2-70b-chat locally": [("llama-2-70b-chat", "llama-2")],
        "LLaMA-2 weights leaked": [("LLaMA-2", "llama-2")],
        "Meta AI and FAIR published it": [("Meta AI", "meta"), ("FAIR", "meta")],
        "Yann LeCun disagreed with Sam Altman about GPT-4o": [
            ("Yann LeCun", "yann-lecun"), ("Sam Altman", "sam-altman"), ("GPT-4o", "gpt-4o")],
        "a fair price for a meta question": [],  # lower-case common words are not entities
    }
    for text, expected in cases.items():
        found = m.find(text)
        assert [(e["text"], e["id"]) for e in found] == expected, text
        assert all(text[e["start"]:e["end"]] == e["text"] for e in found)
    many = m.find_many(["Llama 2", "no entity here", "Anthropic and OpenAI"])
    assert [[e["id"] for e in x] for x in many] == [["llama-2"], [], ["anthropic", "openai"]]


def test_signature_arrays_are_uint32():
    sig = MinHasher().signature("one two three four five six seven eight nine ten eleven")
    assert sig.dtype == np.uint32 and sig.shape == (128,)


def odd_entity_texts(n: int, seed: int = 7) -> list[str]:
    """Texts full of aliases in odd company: any case, glued to punctuation, digits, underscores,
    tokenizer exceptions ("gonna", "Dr.", ":)", "don't"), odd whitespace and Unicode whose
    lower case is longer ("İ"), across sentence and line ends, repeated, in over-long words
    and past words.MAX_SENTENCES."""
    import random

    from pipeline.nlp.entities import COMMON_RUNS
    from pipeline.nlp.words import MAX_SENTENCES

    rng = random.Random(seed)
    aliases = [a for e in load_gazetteer() for a in (*e.aliases, *e.cased)]
    glue = ["(", ")", "'s", "’s", "-based", ",", ".", ":", ":)", ":-)", "_", "@", "#", "/", "'", '"', "7b", "km",
            "10km", "-", "…", "·", "%", "$", "US$"]
    exceptions = ["Dr.", "a.", "a .", "gonna", "cannot", "don't", "dont", "aint", "im", "Im", "it's", "and/or",
                  "w/o", "(-_-)", "<3", "10a.m.", "e.g.", "'cause", "o.O", "Ph.D.", "vs.", "Let's", "’em"]
    words = ["said", "again", "explain", "openly", "the", "of", "a", "models", "The", "was", "claim", "idea",
             "İstanbul", "straße", "ﬁne", "ΣΟΦΙΑ", "café", "🔥", "ǅ", "x" * 41, *COMMON_RUNS]
    spaces = [" ", " ", " ", "  ", "\n", "\n\n", "\t", "\xa0", "", ". ", " . ", "! ", "\u2009"]
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 40)):
            r = rng.random()
            if r < 0.35:
                a = rng.choice(aliases)
                a = rng.choice([a, a, a.upper(), a.lower(), a.title(), a.replace(" ", "  "), a.replace(" ", "-")])
                if rng.random() < 0.5:
                    a = rng.choice(glue) + a if rng.random() < 0.5 else a + rng.choice(glue)
                if rng.random() < 0.1:
                    a = a + rng.choice(exceptions)
                parts.append(a)
            elif r < 0.5:
                parts.append(rng.choice(exceptions))
            elif r < 0.53:
                parts.append("-".join(rng.choice(aliases).replace(" ", "-") for _ in range(4)))  # over-long
            else:
                parts.append(rng.choice(words))
        text = "".join(p + rng.choice(spaces) for p in parts).strip()
        if rng.random() < 0.2:
            text = text + " " + text  # the same words twice
        if rng.random() < 0.02:
            text = " ".join(f"Line {i}." for i in range(MAX_SENTENCES + 5)) + " " + text
        texts.append(text)
    return texts


def test_entity_windows_find_what_matching_everything_finds():
    """spaCy matches only the windows of a text that can hold an alias (skipping texts with
    none), with or without the labeller's tokens; the entities found, offsets and order
    included, are exactly those of matching every whole text."""
    from pipeline.nlp.words import MAX_SENTENCES, TokenBatch

    matcher = EntityMatcher()
    texts = ["The soup was cold, so we left before dessert.",
             "We ran GPT-4o and llama-2-70b-chat; Meta AI and FAIR replied.",
             " ".join(f"Line {i}." for i in range(MAX_SENTENCES + 5)) + " Then Llama 2 at the very end.",
             "Weights at llama-2-70b-chat-hf-quantised-to-four-bits-for-cheap-laptops today.",  # an over-long word
             "It said so. Mistral\nLarge was next.\n\nMeta\tAI, then Meta  AI and Meta AI.",  # lines, odd spaces
             "İİ Grok and GPT-4 by OpenAI. GPT-4 by OpenAI. GPT-4 by OpenAI.",  # lower case is longer; repeats
             "Stanford's Percy Liang:) said Dr. Yann LeCun gonna use Llama_2, 7bGPT-4 and gpt4-ish words.",
             "AI Safety Institute. Institute of AI Safety Institute! And the U.S. AI Safety Institute?",
             "The open aint closed, they said: Open AIn't, OpenAI cannot, open-aint.",  # "aint" -> "ai" "nt"
             ""]
    texts += odd_entity_texts(1500)
    plain = [matcher.find(t) for t in texts]  # spaCy over each whole text
    tokens = TokenBatch.build(texts)
    assert matcher.find_many(texts, tokens=tokens) == plain
    assert matcher.find_many(texts) == plain
    assert sum(map(len, plain)) > 3000
    for text, found in zip(texts, plain):
        assert all(text[e["start"]:e["end"]] == e["text"] for e in found)
    maybe = matcher.candidates(tokens)
    assert maybe[0] is False and maybe[1] is True
    assert maybe[2] is True  # cut at MAX_SENTENCES: the tail was not tokenised, so it is matched anyway
    assert plain[2][-1]["id"] == "llama-2"
    assert maybe[3] is True and plain[3]
    # a common word alone is no reason to match a text, and windows are a small part of a text
    assert matcher.candidates(TokenBatch.build(["The model said the open research was safe."])) == [False]
    long_text = " ".join(["The open model was discussed at length by the community."] * 20 + ["Llama 2 won."])
    spans = matcher.windows(long_text)
    assert len(spans) == 1 and spans[0][1] == len(long_text) and spans[0][1] - spans[0][0] < 200
    assert [e["text"] for e in matcher.find_many([long_text])[0]] == ["Llama 2"]


def test_entity_windows_keep_clear_of_tokenizer_exceptions_at_their_ends():
    """spaCy's second pass over its exceptions can match across chunks ("Goin 'bout" as the
    tokens of "Goin'" and "'bout"), so a window starting at "'bout" is tokenised differently
    ("'bout" whole) than the text ("'" "bout"): windows keep a margin from every match."""
    from pipeline.nlp.entities import GazetteerEntry

    matcher = EntityMatcher([GazetteerEntry(id="bout", label="ORG", name="Bout", aliases=("bout",))])
    text = "Ga. Id Goin 'bout._."
    assert [e["text"] for e in matcher.find(text)] == ["bout"]
    assert matcher.find_many([text]) == [matcher.find(text)]
    assert [t.text for t in matcher.nlp.make_doc("'bout._.")][0] == "'bout"  # what a window at "'bout" would see


def test_entities_in_a_text_over_spacys_default_length_limit():
    matcher = EntityMatcher()
    line = "Meta released Llama 2 while OpenAI kept GPT-4 behind an API. "
    text = line * (1_000_000 // len(line) + 10)  # past spaCy's 1,000,000-character default
    assert len(text) > 1_000_000
    found = matcher.find_many([text])[0]
    per_line = matcher.find_many([line])[0]
    assert len(per_line) >= 3
    assert len(found) == len(per_line) * (len(text) // len(line))
    last = found[-1]
    assert text[last["start"]:last["end"]] == line[per_line[-1]["start"]:per_line[-1]["end"]]
