"""Label quality on real long-form posts: the five seed documents of ../shared/seeds, cut into
passages by the product itself, scored against the project's own labels (bench/seed_labels.jsonl).

A second measuring set beside ../shared/eval/dev.jsonl, of another kind: five long blog and
newsletter posts by ML practitioners (138 passages, mostly `none` and `neutral`). The labels
were written for this project by two readers working apart, by the guidelines; the file holds
only each passage's SHA-256 and labels, never its text, which is read in place from
../shared/seeds. Passages are matched by the hash of their text, so a change to cleaning or
passage cutting shows up as passages that no longer match (reported, not scored).

    .venv/bin/python bench/seed_eval.py [--root DATA_ROOT] [--json]

Uses the current model of DATA_ROOT (default: $DEBATELAKE_ROOT, else ./datasets); trains one
there first if it has none. Not a test: it reads ../shared, which CI machines do not have.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABELS = Path(__file__).resolve().parent / "seed_labels.jsonl"


def seed_passages(seeds: Path, models: Path, workdir: Path) -> list[str]:
    """Crawl the seed files with the files spider and process them with the model in `models`:
    the passages exactly as the product cuts them."""
    root = workdir / "data"
    root.mkdir()
    (root / "models").symlink_to(models.resolve(), target_is_directory=True)
    config = workdir / "seeds.toml"
    config.write_text(f'[crawl]\ncontact = "mailto:bench@example.org"\n\n[[sources]]\nname = "seeds"\n'
                      f'spider = "files"\npaths = ["{seeds.resolve()}/0*.txt"]\n', encoding="utf-8")
    for args in (["crawl", "--config", str(config)], ["process"]):
        done = subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", *args, "--root", str(root)],
                              capture_output=True, text=True, cwd=workdir)
        if done.returncode != 0:
            raise SystemExit(f"`debatelake {args[0]}` on the seeds failed:\n{done.stderr[-2000:]}")
    from pipeline.store import Store

    table = Store(str(root)).read("passages", columns=["doc_id", "seq", "text"])
    rows = sorted(table.to_pylist(), key=lambda r: (r["doc_id"], r["seq"]))
    return [r["text"] for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", help="data root whose current model is scored")
    ap.add_argument("--shared", default=str(REPO.parent / "shared"), help="the shared folder (default: ../shared)")
    ap.add_argument("--json", action="store_true", help="print the evaluation report as JSON")
    args = ap.parse_args()
    seeds = Path(args.shared) / "seeds"
    if not any(seeds.glob("0*.txt")):
        print(f"no seed documents under {seeds}: pass --shared DIR (the folder holding seeds/)", file=sys.stderr)
        return 2

    from pipeline.nlp.evaluate import evaluate
    from pipeline.nlp.model import Labeler, ModelMissing, models_dir
    from pipeline.store import resolve_root

    root = resolve_root(args.root)
    try:
        labeler = Labeler.load(root)
    except ModelMissing:
        from pipeline.nlp.train import train

        print("no model yet: training one", file=sys.stderr)
        labeler = train(root).labeler
    labels = {r["sha256"]: r for r in map(json.loads, LABELS.read_text("utf-8").splitlines())}
    with tempfile.TemporaryDirectory(prefix="seed-eval-") as tmp:
        texts = seed_passages(seeds, models_dir(root), Path(tmp))
        gold, unmatched = [], 0
        for text in texts:
            row = labels.get(hashlib.sha256(text.encode("utf-8")).hexdigest())
            if row is None:
                unmatched += 1
                continue
            gold.append({"text": text, "release": row["release"], "moderation": row["moderation"],
                         "topics": row["topics"], "sentiment": row["sentiment"]})
        gold_file = Path(tmp) / "seed_gold.jsonl"
        gold_file.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
        report = evaluate(gold_file, labeler=labeler)
    report["gold"] = {"file": "bench/seed_labels.jsonl", "rows": len(gold), "passages_cut": len(texts),
                      "passages_without_label": unmatched, "labels_not_found": len(labels) - len(gold)}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model {report['model_version']} on the seed passages: {len(gold)} labelled of {len(texts)} cut "
          f"({unmatched} cut passages have no label; {len(labels) - len(gold)} labels matched no passage)")
    base = report["baselines"]
    print(f"{'':22}{'model':>18}{'keyword':>10}{'majority':>10}")
    for axis, metric in (("release", "macro_f1"), ("moderation", "macro_f1"), ("topics", "micro_f1"), ("tone", "macro_f1")):
        ci = report[axis].get(f"{metric}_ci95")
        shown = f"{report[axis][metric]:.3f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "")
        print(f"{axis + ' ' + metric:22}{shown:>18}{base['keyword'][axis][metric]:>10.3f}{base['majority'][axis][metric]:>10.3f}")
    for axis in ("release", "moderation"):
        per = report[axis]["per_class"]
        print(f"  {axis} F1 (support): " + ", ".join(f"{c} {v['f1']:.2f} ({v['support']})" for c, v in per.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
