"""The label model's shared-token features: each shortcut checked against the library
computation it stands for (model2vec's own encoder, scikit-learn's TfidfVectorizer), and the
tone lexicon's rules against sentences whose tone is plain."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.nlp import words
from pipeline.nlp.features import WordTfidf, base_features
from pipeline.nlp.tone import sentence_scores
from pipeline.nlp.words import IdTable, TokenBatch, WordIndex

PASSAGES = [
    "Open weights let anyone audit the model. Closed labs ask for trust instead!",
    "The filter refused my question about chemistry homework. That is not safety, it is theatre.",
    "Meta released Llama 2 under a custom licence; the 70B model needs two GPUs.",
    "I run it locally on a 3090 and fine-tune it on support tickets.",
    "Regulators should require abuse monitoring for hosted models. Releasing frontier weights is different.",
    "short",
    "",
]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from pipeline.nlp.embeddings import get_encoder

    return get_encoder(tmp_path_factory.mktemp("models"))


def test_passage_embedding_is_the_static_models_mean_of_tokens(encoder):
    base = base_features(encoder, PASSAGES)
    ref = encoder.encode(PASSAGES)  # model2vec's own tokenisation and pooling of the whole text
    for i, text in enumerate(PASSAGES):
        if not text:
            assert not base.emb[i].any()
            continue
        cos = float(base.emb[i] @ ref[i])
        assert cos > 0.995, (text, cos)
    # and a sentence's row is the encoder's embedding of that sentence alone
    flat = base.batch.flat_sentences
    s_ref = encoder.encode(flat)
    assert np.min(np.sum(base.s_emb * s_ref, axis=1)) > 0.995


def test_batch_offsets_cover_every_sentence():
    batch = TokenBatch.build(PASSAGES)
    assert batch.pass_starts[-1] == batch.n_sentences == len(batch.flat_sentences)
    assert batch.sent_starts[-1] == len(batch.ids)
    idx = words.word_index()
    for j, sentence in enumerate(batch.flat_sentences):
        ids = batch.ids[batch.sent_starts[j]:batch.sent_starts[j + 1]]
        assert [idx.words[i] for i in ids] == words.WORD_RE.findall(sentence.lower())
    assert batch.sentences[-1] == [] and batch.sentences[0][1].startswith("Closed labs")


def test_word_index_starts_again_past_its_limit_and_tables_follow():
    index = WordIndex(limit=8)
    seen = []
    table = IdTable(lambda ws: np.array([[len(w)] for w in ws]), index=index, on_reset=lambda: seen.append("reset"))
    first = TokenBatch.build(["alpha beta gamma"], index=index)
    assert table.get()[first.ids, 0].tolist() == [5, 4, 5]
    second = TokenBatch.build(["delta epsilon zeta eta theta iota"], index=index)
    assert index.generation == 1 and len(index) <= 8
    assert table.get()[second.ids, 0].tolist() == [5, 7, 4, 3, 5, 4]
    assert seen == ["reset", "reset"]  # first build, then the new generation


def test_word_tfidf_matches_scikit_learn_on_one_sentence_texts():
    texts = ["open weights are good for research", "closed weights are safer for everyone",
             "open research needs open weights", "filters are good", "weights weights weights for research",
             "no filters for research models"]
    batch = TokenBatch.build(texts)
    assert batch.n_sentences == len(texts)
    ours = WordTfidf(max_features=10_000, min_df=2, bigrams=True).fit(batch)
    got = ours.weigh(ours.sentence_counts(batch)).toarray()
    ref = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                          token_pattern=r"\w+(?:['’-]\w+)*").fit(texts)
    want = ref.transform(texts).toarray()
    names = [t for t in ref.get_feature_names_out()]
    ours_names = sorted(list(ours.unigrams) + [a + " " + b for a in ours.bigram_words for b in ours.bigram_words
                                                if ours.bigram_words[a] * len(ours.bigram_words) + ours.bigram_words[b]
                                                in set(ours.bigram_keys.tolist())])
    assert ours_names == names
    assert np.allclose(got, want, atol=1e-6)


def test_passage_counts_are_the_sum_of_their_sentences():
    fit_batch = TokenBatch.build(PASSAGES * 2)
    tf = WordTfidf(min_df=1).fit(fit_batch)
    batch = TokenBatch.build(PASSAGES[:2])
    counts = tf.sentence_counts(batch).toarray()
    first = counts[batch.pass_starts[0]:batch.pass_starts[1]].sum(axis=0)
    assert first.sum() > 10
    one = TokenBatch.build([" ".join(batch.sentences[0]).replace(".", ",").replace("!", ",")])  # one sentence
    assert one.n_sentences == 1
    # unigram counts agree exactly (bigrams across the sentence break are the only difference)
    uni = np.array(sorted(tf.unigrams.values()))
    assert np.array_equal(tf.sentence_counts(one).toarray()[0][uni], first[uni])


@pytest.mark.parametrize("plain, flipped", [
    ("This release is good.", "This release is not good."),
    ("The filter works great.", "The filter never works great."),
])
def test_negation_turns_tone_around(plain, flipped):
    scores = sentence_scores(TokenBatch.build([plain, flipped]))
    assert scores[0, 3] > 0.2 and scores[1, 3] < 0


def test_intensifiers_and_but_weigh_words():
    s = sentence_scores(TokenBatch.build(["The model is good.", "The model is very good.",
                                          "The docs are great but the model is awful."]))
    assert s[1, 3] > s[0, 3] > 0
    assert s[2, 3] < 0  # what follows "but" counts more
    neutral = sentence_scores(TokenBatch.build(["The model has seven billion parameters."]))
    assert neutral[0, 3] == 0 and neutral[0, 2] == 1.0


def _frame(base, row: int, name: str) -> float:
    from pipeline.nlp.features import FRAME_NAMES

    return float(base.frame[row, FRAME_NAMES.index(name)])


def test_frames_tie_tone_to_what_a_sentence_is_about(encoder):
    texts = [
        "Open weights are wonderful and I love them.",  # positive about openness
        "Open weights are a terrible, dangerous idea.",  # negative about openness
        "The weather was wonderful. Open weights exist.",  # tone and target in different sentences
        "Chatbots must have content filters for children.",  # a demand about filtering
    ]
    base = base_features(encoder, texts)
    assert _frame(base, 0, "mean:pos@open_release") > 0.2
    assert _frame(base, 0, "mean:neg@open_release") == 0
    assert _frame(base, 1, "mean:neg@open_release") > 0.2
    assert _frame(base, 1, "mean:pos@open_release") == 0
    assert _frame(base, 2, "max:pos@open_release") == 0  # the positive sentence is about the weather
    assert _frame(base, 3, "max:modal@moderation") == 1
    assert _frame(base, 3, "max:modal@open_release") == 0


def test_frames_pool_sentences_into_mean_and_max(encoder):
    from pipeline.nlp.features import FRAMES

    texts = ["Open weights are wonderful. Open weights are terrible. Filters exist.", ""]
    base = base_features(encoder, texts)
    k = len(FRAMES)
    sent = base.s_frame[:, :k]
    assert base.batch.pass_starts.tolist() == [0, 3, 3]
    np.testing.assert_allclose(base.frame[0, :k], sent.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(base.frame[0, k:], sent.max(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(base.s_frame[:, :k], base.s_frame[:, k:])  # a sentence is its own mean and max
    assert not base.frame[1].any()  # an empty passage has no frames
    sub = base.subset([0])
    np.testing.assert_array_equal(sub.frame, base.frame[:1])
    np.testing.assert_array_equal(sub.s_frame, base.s_frame)
