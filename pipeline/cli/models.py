"""train, evaluate, label export: the label models' commands."""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any, List, Optional

import typer
from rich.table import Table

from .common import RootOption, UserError, app, console, err_console, friendly_errors

label_app = typer.Typer(help="Label passages by hand to improve the models.", no_args_is_help=True)
app.add_typer(label_app, name="label")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def _user_errors(fn):
    """Training-data problems and a missing model are errors the user can fix."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pipeline.nlp.embeddings import EmbeddingsUnavailable
        from pipeline.nlp.model import ModelMissing
        from pipeline.nlp.train import TrainingDataError

        try:
            return fn(*args, **kwargs)
        except (TrainingDataError, ModelMissing, EmbeddingsUnavailable) as exc:
            raise UserError(str(exc)) from None

    return wrapper


def _progress(quiet: bool):
    def say(msg: str) -> None:
        if not quiet:
            err_console.print(f"[dim]{msg}[/]", highlight=False)

    return say


def _train(root, extra, as_json: bool):
    from pipeline.nlp.train import train as run_train

    return run_train(root, extra=extra or [], progress=_progress(False))


@app.command()
@friendly_errors
@_user_errors
def train(
    root: RootOption = None,
    extra: Annotated[Optional[List[str]], typer.Option("--extra", metavar="FILE",
                                                       help="More labelled passages (gold-format JSON Lines or the "
                                                            "labelled export CSV); repeat for several files.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Train the stance, topic and tone models on the project's training set plus --extra files;
    the new model version becomes current (<root>/models/CURRENT)."""
    result = _train(root, extra, as_json)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        return
    cv = result.cv
    console.print(f"model {result.version}: {result.rows} training passages, figures from "
                  f"{cv['folds']}-fold cross-validation on the training data", highlight=False)
    t = Table("axis", "cross-validated")
    t.add_row("release macro-F1", f"{cv['release']['macro_f1']:.3f}")
    t.add_row("moderation macro-F1", f"{cv['moderation']['macro_f1']:.3f}")
    t.add_row("topics micro-F1", f"{cv['topics']['micro_f1']:.3f}")
    t.add_row("topics macro-F1", f"{cv['topics']['macro_f1']:.3f}")
    t.add_row("tone macro-F1", f"{cv['sentiment']['macro_f1']:.3f}")
    console.print(t)
    for f in result.files:
        console.print(f"  {f['rows']:5d} passages  {f['file']}", highlight=False)
    console.print(f"trained in {result.seconds:.1f} s; model written to {result.path} and made current", highlight=False)


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _fmt_ci(figures: dict[str, Any], key: str) -> str:
    """figures[key] with its 95% interval (figures[key + "_ci95"]) when the report has one."""
    ci = figures.get(f"{key}_ci95")
    return f"{figures[key]:.3f} [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else _fmt(figures[key])


def _print_axis(name: str, rep: dict[str, Any], baselines: dict[str, dict]) -> None:
    t = Table("", "model", *baselines, title=f"{name}: macro-F1")
    t.add_row("macro-F1 [95% CI]", _fmt_ci(rep, "macro_f1"), *(_fmt_ci(b[name], "macro_f1") for b in baselines.values()))
    t.add_row("accuracy", _fmt(rep["accuracy"]), *(_fmt(b[name]["accuracy"]) for b in baselines.values()))
    console.print(t)
    for who, r in (("model", rep), *((k, b[name]) for k, b in baselines.items())):
        pc = Table("label", "precision", "recall", "F1", "support", title=f"{name}, {who}: per class")
        for lab, v in r["per_class"].items():
            pc.add_row(lab, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), str(v["support"]))
        cm = Table("gold \\ predicted", *r["labels"], title=f"{name}, {who}: confusion matrix")
        for lab, row in zip(r["labels"], r["confusion"]):
            cm.add_row(lab, *map(str, row))
        console.print(pc, cm)


@app.command()
@friendly_errors
@_user_errors
def evaluate(
    gold: Annotated[str, typer.Option("--gold", metavar="FILE", help="Gold passages (the guidelines' JSON Lines format).")],
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score the current model on a gold file, beside a majority-class and a keyword baseline.
    The figures are kept with the model (evaluation.json), where snapshot cards find them."""
    from pipeline.nlp.evaluate import evaluate as run_evaluate
    from pipeline.nlp.evaluate import keep_with_model
    from pipeline.nlp.model import Labeler, ModelMissing

    try:
        labeler = Labeler.load(root)
    except ModelMissing as exc:
        err_console.print(f"{exc}; training one now.")
        labeler = _train(root, [], as_json).labeler
    report = run_evaluate(gold, labeler=labeler)
    if getattr(labeler, "path", None):
        try:
            keep_with_model(report, labeler.path)
        except OSError as exc:  # the figures are printed anyway; only the card misses them
            err_console.print(f"warning: could not keep the figures with the model ({exc})")
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    base = report["baselines"]
    console.print(f"model {report['model_version']} on {report['gold']['file']} ({report['gold']['rows']} passages)",
                  highlight=False)
    for name in ("release", "moderation", "tone"):
        _print_axis(name, report[name], {k: v for k, v in base.items()})
    t = Table("topics", "model", *base, title="topics")
    for key in ("micro_f1", "macro_f1"):
        t.add_row(key.replace("_f1", "-F1"), _fmt(report["topics"][key]), *(_fmt(b["topics"][key]) for b in base.values()))
    console.print(t)
    pt = Table("topic", "precision", "recall", "F1", "support", title="topics, model: per topic")
    for topic, v in report["topics"]["per_topic"].items():
        pt.add_row(topic, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), str(v["support"]))
    console.print(pt)
    s = Table("", "release", "moderation", "topics (micro)", "tone",
              title="summary (macro-F1 unless noted; [95% bootstrap interval over the gold passages])")
    for who, r in (("model", report), *base.items()):
        s.add_row(who, _fmt_ci(r["release"], "macro_f1"), _fmt_ci(r["moderation"], "macro_f1"),
                  _fmt_ci(r["topics"], "micro_f1"), _fmt_ci(r["tone"], "macro_f1"))
    console.print(s)


@label_app.command("export")
@friendly_errors
@_user_errors
def label_export(
    uncertain: Annotated[int, typer.Option("--uncertain", metavar="N", min=1,
                                           help="How many passages: those the current model is least sure of.")],
    root: RootOption = None,
    out: Annotated[Optional[str], typer.Option("--out", metavar="PREFIX",
                                               help="Write PREFIX.jsonl and PREFIX.csv (default: ./uncertain-<model version>).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Export the passages the current model is least sure of, with empty labels, for labelling;
    then `debatelake train --extra FILE` and `debatelake process`."""
    from pipeline.nlp.labelling import export_uncertain

    res = export_uncertain(root, uncertain, out)
    if as_json:
        sys.stdout.write(json.dumps({"jsonl": str(res.jsonl), "csv": str(res.csv), "rows": res.rows,
                                     "model_version": res.model_version, "candidates": res.candidates}) + "\n")
        return
    console.print(f"{res.rows} of {res.candidates} passages labelled by model {res.model_version} written to "
                  f"{res.jsonl} and {res.csv}", highlight=False)
    console.print(f"Fill in release, moderation, topics and sentiment (see the annotation guidelines), then run "
                  f"`debatelake train --extra {res.jsonl}` and `debatelake process`.", highlight=False)
