"""The label models: training, evaluation, uncertainty export, document aggregation.

One model is trained per session (into a tmp root) on part of the project's own training set;
the gold file the evaluation tests use is made of *other* project training lines, never of
shared/eval.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.nlp.model import CURRENT, DocLabels, Labeler, ModelMissing, PassageLabels, aggregate
from pipeline.nlp.rules import KeywordBaseline, passage_hits
from pipeline.nlp.train import TRAINING_DIR, TrainingDataError, read_gold, train
from pipeline.schema import ANNOTATIONS, PASSAGES
from pipeline.store import Store

N_GOLD, N_TRAIN = 120, 480
PROBES = [
    "Release the weights. Keeping frontier models locked behind an API only helps three companies.",
    "The model refused to explain how to kill a Linux process and lectured me instead. Useless.",
    "Mistral released a 7B model under Apache 2.0 on Tuesday, with a short model card.",
    "The new GPU benchmark numbers are in; the H200 is about 40% faster on inference.",
]


def _project_rows() -> list[dict]:
    rows = []
    for path in sorted(TRAINING_DIR.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    # A fixed, label-blind order: by a hash of the id.
    return sorted(rows, key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def split(tmp_path_factory):
    rows = _project_rows()
    if len(rows) < N_GOLD + 200:
        pytest.skip(f"the project's training set has only {len(rows)} lines")
    d = tmp_path_factory.mktemp("split")
    gold = _write(d / "gold.jsonl", rows[:N_GOLD])
    base = _write(d / "train.jsonl", rows[N_GOLD:N_GOLD + N_TRAIN])
    return {"gold": gold, "base": base, "gold_rows": rows[:N_GOLD], "dir": d}


@pytest.fixture(scope="session")
def trained(tmp_path_factory, split):
    root = tmp_path_factory.mktemp("models") / "data"
    result = train(root, base=[split["base"]])
    return {"root": root, "result": result}


def _probs(labeler: Labeler, texts: list[str]) -> np.ndarray:
    out = []
    for p in labeler.predict_passages(texts):
        out.append([p.release_prob, p.moderation_prob, p.sentiment_prob, *p.topic_probs.values()])
    return np.array(out)


def test_training_is_deterministic_and_versioned(trained, split, tmp_path):
    first = trained["result"]
    assert (Path(trained["root"]) / "models" / CURRENT).read_text().strip() == first.version
    again = train(tmp_path / "other", base=[split["base"]])
    assert again.version == first.version
    a = Labeler.load(trained["root"])
    b = Labeler.load(tmp_path / "other")
    assert a.version == b.version == first.version
    pa_, pb = a.predict_passages(PROBES), b.predict_passages(PROBES)
    assert [(p.release, p.moderation, p.sentiment, p.topics) for p in pa_] == \
           [(p.release, p.moderation, p.sentiment, p.topics) for p in pb]
    assert np.allclose(_probs(a, PROBES), _probs(b, PROBES), atol=1e-6)


def test_new_data_makes_a_new_version_and_export_round_trip(trained, split, tmp_path):
    """label export writes the N least sure passages with empty labels; once labelled,
    train --extra makes a new current version and the old one stays."""
    root = tmp_path / "data"
    labeler = Labeler.load(trained["root"])
    # A small processed corpus: passages + annotations of the current model version.
    texts = [r["text"] for r in split["gold_rows"][:30]]
    preds = labeler.predict_passages(texts)
    passages, annotations = [], []
    for i, (t, p) in enumerate(zip(texts, preds)):
        pid = f"files:doc{i}#0"
        passages.append({"passage_id": pid, "doc_id": f"files:doc{i}", "seq": 0, "start": 0, "end": len(t),
                         "text": t, "content_hash": "h"})
        annotations.append({"doc_id": f"files:doc{i}", "passage_id": pid, "level": "passage",
                            "model_version": labeler.version, **p.to_row(pid)})
    store = Store(root)
    store.append("passages", pa.Table.from_pylist(passages, schema=PASSAGES))
    store.append("annotations", pa.Table.from_pylist(annotations, schema=ANNOTATIONS))
    models = Path(root) / "models"
    models.mkdir(parents=True)
    import shutil

    shutil.copytree(Path(trained["root"]) / "models" / labeler.version, models / labeler.version)
    (models / CURRENT).write_text(labeler.version + "\n")

    res = CliRunner().invoke(app, ["label", "export", "--uncertain", "5", "--root", str(root),
                                   "--out", str(tmp_path / "todo")])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "todo.jsonl").read_text().splitlines()
    assert len(lines) == 5
    exported = [json.loads(x) for x in lines]
    for row in exported:
        assert row["text"] and row["release"] == "" and row["moderation"] == "" and row["sentiment"] == ""
        assert row["topics"] == []
    # Exactly the five with the lowest stance confidence.
    conf = {p["passage_id"]: min(p["release_prob"], p["moderation_prob"]) for p in annotations}
    expected = sorted(conf, key=lambda k: (conf[k], k))[:5]
    assert [r["id"] for r in exported] == expected
    with open(tmp_path / "todo.csv", newline="", encoding="utf-8") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == expected
    # Unlabelled lines are refused with file:line.
    with pytest.raises(TrainingDataError, match=r"todo\.jsonl:1: release is empty"):
        read_gold(tmp_path / "todo.jsonl")
    # A user labels them; training with --extra gives a new current version.
    gold = {r["id"]: r for r in split["gold_rows"]}
    by_text = {r["text"]: r for r in gold.values()}
    for row in exported:
        src = by_text[row["text"]]
        row.update({k: src[k] for k in ("release", "moderation", "topics", "sentiment")})
    labelled = _write(tmp_path / "labelled.jsonl", exported)
    newer = train(root, base=[split["base"]], extra=[labelled])
    assert newer.version != labeler.version
    assert (models / CURRENT).read_text().strip() == newer.version
    assert (models / labeler.version).is_dir() and Labeler.load(root).version == newer.version


def test_evaluate_json_beats_majority(trained, split):
    res = CliRunner().invoke(app, ["evaluate", "--gold", str(split["gold"]), "--root", str(trained["root"]), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    for key, metric in (("release", "macro_f1"), ("moderation", "macro_f1"), ("topics", "micro_f1"), ("tone", "macro_f1")):
        assert 0.0 <= report[key][metric] <= 1.0
        for base in ("majority", "keyword"):
            assert key in report["baselines"][base]
    maj = report["baselines"]["majority"]
    for key in ("release", "moderation", "tone"):
        assert report[key]["macro_f1"] > maj[key]["macro_f1"] + 0.1, key
        n = len(report[key]["labels"])
        assert np.array(report[key]["confusion"]).shape == (n, n)
        assert np.array(report[key]["confusion"]).sum() == N_GOLD
    assert report["topics"]["micro_f1"] > maj["topics"]["micro_f1"] + 0.1
    assert report["model_version"] == trained["result"].version


def test_evaluate_keeps_its_figures_with_the_model_for_the_card(trained, split):
    from pipeline.cards import _f1_lines
    from pipeline.snapshots import model_evaluation
    from pipeline.store import Store

    res = CliRunner().invoke(app, ["evaluate", "--gold", str(split["gold"]), "--root", str(trained["root"]), "--json"])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    kept = json.loads((trained["result"].path / "evaluation.json").read_text("utf-8"))
    assert kept["release"]["macro_f1"] == printed["release"]["macro_f1"]
    assert kept["model_version"] == trained["result"].version
    # the gold file by name and content hash: no local path goes into a published card
    assert kept["gold"]["file"] == split["gold"].name and str(split["gold"].parent) not in json.dumps(kept)
    assert kept["gold"]["sha256"] == hashlib.sha256(split["gold"].read_bytes()).hexdigest()
    card = _f1_lines(model_evaluation(Store(trained["root"]), trained["result"].version))
    assert f"Measured on `{split['gold'].name}` ({N_GOLD} gold passages" in card
    lo, hi = printed["release"]["macro_f1_ci95"]
    assert f"| release | macro_f1 | {printed['release']['macro_f1']:.3f} [{lo:.2f}-{hi:.2f}] |" in card
    assert f" {printed['baselines']['keyword']['release']['macro_f1']:.3f} |" in card


def test_evaluate_text_report(trained, split):
    res = CliRunner().invoke(app, ["evaluate", "--gold", str(split["gold"]), "--root", str(trained["root"])])
    assert res.exit_code == 0, res.output
    for word in ("confusion matrix", "per class", "keyword", "majority", "micro-F1", "95% CI"):
        assert word in res.output


def test_bad_training_lines_name_file_and_line(tmp_path, split):
    good = json.loads(split["base"].read_text().splitlines()[0])
    bad = tmp_path / "mine.jsonl"
    bad.write_text("\n".join([
        json.dumps(good),
        '{"id": "x1", "text": "no closing brace"',
        json.dumps({**good, "id": "x2", "release": "opne"}),
        json.dumps({**good, "id": "x3", "topics": ["weather"]}),
    ]) + "\n")
    res = CliRunner().invoke(app, ["train", "--root", str(tmp_path / "data"), "--extra", str(bad)])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert f"{bad}:2: not valid JSON" in out.replace("\n", "")
    assert "mine.jsonl:3: release is 'opne'" in out
    assert "mine.jsonl:4: unknown topic 'weather'" in out
    assert not (tmp_path / "data" / "models").exists()


def test_missing_model_says_what_to_run(tmp_path):
    with pytest.raises(ModelMissing, match="debatelake train"):
        Labeler.load(tmp_path / "empty")


def test_predictions_carry_probabilities_and_evidence(trained):
    labeler = Labeler.load(trained["root"])
    text = ("Our team spent the week migrating the build to a new CI provider. "
            "Honestly, every lab should publish the weights so researchers can study them. "
            "The migration took longer than planned.")
    (p,) = labeler.predict_passages([text])
    sentences = [s.strip() for s in text.split(". ")]
    for axis in ("release", "moderation", "sentiment"):
        assert 0.0 < p.prob(axis) <= 1.0
        assert abs(sum(p.probs[axis].values()) - 1.0) < 1e-6
        assert p.prob(axis) == max(p.probs[axis].values())
        assert p.evidence[axis].rstrip(".") in [s.rstrip(".") for s in sentences]
    assert set(p.topic_probs) == {"open_release", "licensing", "misuse_risk", "moderation", "alignment",
                                  "regulation", "industry", "transparency", "geopolitics", "capabilities"}
    assert p.release == "open" and "open_release" in p.topics
    assert "publish the weights" in p.evidence["release"]
    row = p.to_row("d#0")
    assert row["evidence"][0]["passage_id"] == "d#0" and row["release_prob"] == pytest.approx(p.release_prob)


def _pl(release="none", moderation="none", prob=0.9, sentiment="neutral", topics=(), chars=300):
    probs = {"release": {release: prob}, "moderation": {moderation: prob}, "sentiment": {sentiment: prob}}
    return PassageLabels(release=release, release_prob=prob, moderation=moderation, moderation_prob=prob,
                         sentiment=sentiment, sentiment_prob=prob, topics=list(topics),
                         topic_probs={t: 0.8 for t in topics}, evidence={"release": f"{release} sentence"},
                         probs=probs, n_chars=chars)


def test_document_aggregation_follows_the_guidelines():
    ids = ["d#0", "d#1", "d#2", "d#3"]
    # open and closed passages that both carry weight: mixed, with both sides as evidence
    doc = aggregate([_pl("open"), _pl("closed", prob=0.8), _pl(), _pl("neutral")], ids)
    assert isinstance(doc, DocLabels) and doc.release == "mixed"
    ev = {e["passage_id"] for e in doc.evidence if e["axis"] == "release"}
    assert ev == {"d#0", "d#1"}
    # a clear lean wins over a neutral passage and a weak counter-voice
    doc = aggregate([_pl("open"), _pl("open"), _pl("neutral"), _pl("closed", prob=0.35, chars=40)], ids)
    assert doc.release == "open"
    assert {e["passage_id"] for e in doc.evidence if e["axis"] == "release"} == {"d#0", "d#1"}
    # only neutral passages on topic: neutral
    doc = aggregate([_pl("neutral"), _pl(), _pl("neutral"), _pl()], ids)
    assert doc.release == "neutral"
    # nothing on topic: none, no release evidence
    doc = aggregate([_pl(), _pl(), _pl(), _pl()], ids)
    assert doc.release == "none" and doc.moderation == "none"
    assert not [e for e in doc.evidence if e["axis"] == "release"]
    # moderation follows the same rules on its own axis; topics are the union
    doc = aggregate([_pl(moderation="filter", topics=["moderation"]), _pl(moderation="no_filter", topics=["alignment"]),
                     _pl(), _pl()], ids)
    assert doc.moderation == "mixed" and doc.topics == ["moderation", "alignment"]
    with pytest.raises(ValueError):
        aggregate([_pl()], ["a", "b"])


def test_cues_know_negation_and_reported_speech():
    _, hits = passage_hits("Critics say that companies should release the weights.")
    rel = [h for h in hits if h.axis == "release" and h.label == "open"]
    assert rel and all(h.reported for h in rel)
    _, hits = passage_hits("I do not think we should release the weights of frontier systems.")
    rel = [h for h in hits if h.axis == "release" and h.label == "open"]
    assert rel and all(h.negated for h in rel)
    _, hits = passage_hits("We should release the weights.")
    assert any(h.label == "open" and not h.negated and not h.reported for h in hits if h.axis == "release")
    kw = KeywordBaseline().predict([
        "Release the weights, open source wins.",
        "The chatbot is preachy and censored; it refuses to answer basic questions.",
        "I baked bread today.",
    ])
    assert [k["release"] for k in kw] == ["open", "none", "none"]
    assert [k["moderation"] for k in kw] == ["none", "no_filter", "none"]


def test_cue_features_agree_with_the_hit_by_hit_reading():
    """cue_features (per-sentence, memoised, lower-cased scans behind anchor prefilters) gives
    the same numbers as counting passage_hits and the lexicons over the whole text."""
    import re

    from pipeline.nlp import rules

    texts = [
        *PROBES,
        "Critics say that companies should RELEASE THE WEIGHTS. I do not think we should! Do you?",
        'He wrote: "open weights are dangerous". We disagree; the model card says nothing.',
        "\u0130stanbul labs MUST open-source it. Dıd they? \u017fo be it.\n\nI would release it.",
        "", "I baked bread today.", "Release the weights. Release the weights.",
    ]
    index = {n: i for i, n in enumerate(rules.FEATURE_NAMES)}
    want = np.zeros((len(texts), len(rules.FEATURE_NAMES)), dtype=np.float32)
    for row, text in enumerate(texts):
        sents, hits = rules.passage_hits(text)
        for h in hits:
            key = f"{h.axis}:{h.label}:{'negated' if h.negated else 'reported' if h.reported else 'own'}"
            if key in index:
                want[row, index[key]] += 1
        for t, n in rules.topic_hits(text).items():
            want[row, index[f"topic:{t}"]] = n
        want[row, index["reported_share"]] = sum(1 for s in sents if rules._reported_spans(s)) / max(1, len(sents))
        want[row, index["quotes"]] = len(rules._QUOTE_RE.findall(text))
        want[row, index["first_person"]] = len(rules._FIRST_PERSON.findall(text))
        want[row, index["modal"]] = len(rules._MODAL.findall(text))
        want[row, index["question"]] = text.count("?")
        want[row, index["exclaim"]] = text.count("!")
        want[row, index["log_words"]] = len(text.split())
        want[row, index["neg_words"]] = len(re.findall(rf"\b{rules.NEGATORS}\b", text, re.I))
    got = rules.cue_features(texts)
    assert want[:, :-1].any()  # the texts do hit the lexicons
    np.testing.assert_array_equal(got, np.log1p(want))


def test_labelled_csv_is_training_data(tmp_path):
    path = tmp_path / "labelled.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "release", "moderation", "topics", "sentiment"])
        w.writerow(["a", "Release the weights.", "open", "none", "open_release", "positive"])
        w.writerow(["b", "Multi-line\ntext here", "none", "none", "", "neutral"])
        w.writerow(["c", "Bad one", "sideways", "none", "", "neutral"])
    with pytest.raises(TrainingDataError, match=r"labelled\.csv:5: release is 'sideways'"):
        read_gold(path)


def test_dev_set_figures(shared, tmp_path_factory):
    """The shipped training set, measured on the shared dev gold set (never trained on): every
    axis clearly above both baselines of the same run; tone and topics at their targets."""
    gold = shared / "eval" / "dev.jsonl"
    if not gold.is_file():
        pytest.skip(f"{gold} is absent")
    root = tmp_path_factory.mktemp("full") / "data"
    result = train(root)
    assert result.rows >= 1000
    res = CliRunner().invoke(app, ["evaluate", "--gold", str(gold), "--root", str(root), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    figures = {"release": report["release"]["macro_f1"], "moderation": report["moderation"]["macro_f1"],
               "topics": report["topics"]["micro_f1"], "tone": report["tone"]["macro_f1"]}
    for name, base in report["baselines"].items():
        theirs = {"release": base["release"]["macro_f1"], "moderation": base["moderation"]["macro_f1"],
                  "topics": base["topics"]["micro_f1"], "tone": base["tone"]["macro_f1"]}
        for key in figures:
            assert figures[key] > theirs[key] + (0.05 if name == "keyword" else 0.25), (key, name, figures, theirs)
    assert figures["tone"] >= 0.55, figures
    assert figures["topics"] >= 0.70, figures


class _FixedLabeler:
    """Stands in for a model: returns labels fixed in advance, so the figures are known."""

    version = "fixed"
    meta = {"rows": 4, "label_counts": {"release": {"none": 3, "open": 1}, "moderation": {"none": 4},
                                        "sentiment": {"neutral": 4}}, "topic_counts": {}}

    def __init__(self, preds):
        self.preds = preds

    def predict_passages(self, texts):
        assert len(texts) == len(self.preds)
        return [_pl(release=r, moderation=m, sentiment=s, topics=t) for r, m, s, t in self.preds]


def test_evaluate_figures_from_known_answers(tmp_path):
    from pipeline.nlp.evaluate import evaluate

    gold_rows = [
        {"id": "g1", "text": "Release the weights, open source wins.", "release": "open", "moderation": "none",
         "topics": ["open_release"], "sentiment": "positive"},
        {"id": "g2", "text": "Frontier models should never be open-sourced.", "release": "closed", "moderation": "none",
         "topics": ["open_release"], "sentiment": "negative"},
        {"id": "g3", "text": "The chatbot is preachy and censored.", "release": "none", "moderation": "no_filter",
         "topics": ["moderation"], "sentiment": "negative"},
        {"id": "g4", "text": "I baked bread today.", "release": "none", "moderation": "none",
         "topics": [], "sentiment": "neutral"},
    ]
    gold = _write(tmp_path / "gold.jsonl", gold_rows)
    preds = [("open", "none", "positive", ["open_release"]),
             ("open", "none", "neutral", ["open_release", "industry"]),
             ("none", "filter", "negative", []),
             ("none", "none", "neutral", [])]
    report = evaluate(gold, labeler=_FixedLabeler(preds))
    rel = report["release"]
    # open: P 1/2 R 1 F1 2/3; closed: 0; none: P 1 R 1 F1 1; mixed and neutral (absent, never predicted): 0
    assert rel["per_class"]["open"]["f1"] == pytest.approx(2 / 3)
    assert rel["per_class"]["closed"]["f1"] == 0.0 and rel["per_class"]["none"]["f1"] == 1.0
    assert rel["macro_f1"] == pytest.approx((2 / 3 + 0 + 0 + 0 + 1) / 5)
    assert rel["confusion"][rel["labels"].index("closed")][rel["labels"].index("open")] == 1
    assert report["tone"]["accuracy"] == pytest.approx(3 / 4)
    # topics: gold {o},{o},{m},{} vs pred {o},{o,i},{},{}: tp 2, fp 1, fn 1 -> micro-F1 2/3
    assert report["topics"]["micro_f1"] == pytest.approx(2 / 3)
    assert report["topics"]["per_topic"]["moderation"]["f1"] == 0.0
    # the baselines are scored on the same rows in the same run
    maj = report["baselines"]["majority"]
    assert maj["release"]["accuracy"] == pytest.approx(2 / 4)  # always `none`
    kw = report["baselines"]["keyword"]
    assert kw["release"]["confusion"][rel["labels"].index("open")][rel["labels"].index("open")] == 1
    assert kw["moderation"]["per_class"]["no_filter"]["recall"] == 1.0
    assert report["model_version"] == "fixed" and report["gold"]["rows"] == 4


def test_bootstrap_intervals_match_scikit_learn_on_the_same_resamples():
    from sklearn.metrics import f1_score

    from pipeline.nlp import evaluate as ev

    rng = np.random.default_rng(7)
    labels = ["open", "closed", "mixed", "neutral", "none"]
    gold = list(rng.choice(labels, size=60, p=[0.2, 0.1, 0.05, 0.25, 0.4]))
    pred = [g if rng.random() < 0.6 else str(rng.choice(labels)) for g in gold]
    idx = ev._resamples(len(gold))
    ref = [f1_score([gold[i] for i in r], [pred[i] for i in r], labels=labels, average="macro", zero_division=0) for r in idx]
    assert ev.macro_f1_ci(gold, pred, labels) == pytest.approx(list(np.percentile(ref, [2.5, 97.5])))
    Y = (rng.random((60, 10)) < 0.2).astype(int)
    P = np.where(rng.random((60, 10)) < 0.8, Y, 1 - Y)
    ref = [f1_score(Y[r], P[r], average="micro", zero_division=0) for r in idx]
    assert ev.micro_f1_ci(Y, P) == pytest.approx(list(np.percentile(ref, [2.5, 97.5])))
    lo, hi = ev.macro_f1_ci(gold, pred, labels)
    point = f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
    assert lo < point < hi and hi - lo > 0.05  # 60 passages: a wide interval, and it says so


def test_a_model_from_other_feature_code_asks_for_training(trained, tmp_path):
    import pickle
    import shutil

    root = tmp_path / "data"
    shutil.copytree(trained["root"] / "models", root / "models")
    version = (root / "models" / "CURRENT").read_text().strip()
    model_file = root / "models" / version / "model.pkl"
    state = pickle.loads(model_file.read_bytes())
    state["featurizer"].n_frame -= 3  # as if fitted when the code computed fewer frame columns
    model_file.write_bytes(pickle.dumps(state))
    with pytest.raises(ModelMissing, match="other feature code.*frame: .* columns.*debatelake train"):
        Labeler.load(root)


def test_fold_groups_are_never_smaller_than_the_folds():
    from collections import Counter

    from pipeline.nlp.train import _strat_key

    rows = ([{"release": "none", "moderation": "none"}] * 20 + [{"release": "open", "moderation": "none"}] * 6
            + [{"release": "mixed", "moderation": "mixed"}] * 2)  # a pair too rare for 5 folds, even as `mixed`
    counts = Counter(_strat_key(rows, 5))
    assert min(counts.values()) >= 5, counts


def test_fused_views_score_as_one_linear_model():
    """A head fused from views scores every row exactly as the weighted sum of its views' scores,
    for multi-class and binary views alike, with columns outside every view ignored."""
    from sklearn.linear_model import LogisticRegression

    from pipeline.nlp.train import _fuse

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 9))
    views = [np.array([0, 1, 2, 3]), np.array([5, 6, 8])]
    for classes in (np.array(["a", "b", "c"]), np.array(["no", "yes"])):
        y = classes[(X[:, 0] + X[:, 6] > 0).astype(int) + (len(classes) == 3) * (X[:, 2] > 1).astype(int)]
        models = [(cols, LogisticRegression(max_iter=500).fit(X[:, cols], y)) for cols in views]
        fused = _fuse(models, [0.7, 1.9], classes, X.shape[1])
        want = np.zeros((len(X), len(classes)))
        for (cols, m), w in zip(models, [0.7, 1.9]):
            d = m.decision_function(X[:, cols])
            want += w * (np.column_stack([-d / 2, d / 2]) if d.ndim == 1 else d)
        np.testing.assert_allclose(fused.decision_function(X), want, rtol=1e-9, atol=1e-9)
        assert not fused.coef_[:, [4, 7]].any()  # in no view: no weight


def test_view_weights_follow_what_each_view_knows():
    from pipeline.nlp.train import _fit_view_weights

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=600)
    knows = np.eye(3)[y] * 2.0 + rng.normal(scale=0.5, size=(600, 3))
    guesses = rng.normal(size=(600, 3))
    w_knows, w_guesses = _fit_view_weights([knows, guesses], y)
    assert w_knows > 1.0 and w_guesses < 0.1 * w_knows, (w_knows, w_guesses)


def test_stance_heads_are_fused_from_their_views(trained):
    labeler = Labeler.load(trained["root"])
    weights = labeler.meta["cv"]["view_weights"]
    assert len(weights["release"]) == len(weights["moderation"]) == len(weights["sentiment"]) == 2
    # the fused head reads every block of its axis: embeddings and the lexical view both carry weight
    coef = labeler.heads["release"].model.coef_
    emb = labeler.featurizer.block_slices("release")["emb"]
    assert np.abs(coef[:, emb]).sum() > 0 and np.abs(np.delete(coef, np.r_[emb], axis=1)).sum() > 0
