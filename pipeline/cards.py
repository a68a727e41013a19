"""The documentation a snapshot carries: a dataset card (README.md with Hugging Face YAML
metadata) and Croissant 1.1 JSON-LD with the responsible-AI (RAI) fields."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .snapshots import SNAPSHOT_SCHEMAS, sha256_file

LABELS = {
    "release": ["open", "closed", "mixed", "neutral", "none"],
    "moderation": ["filter", "no_filter", "mixed", "neutral", "none"],
    "sentiment": ["positive", "negative", "neutral"],
    "topics": ["open_release", "licensing", "misuse_risk", "moderation", "alignment", "regulation", "industry",
               "transparency", "geopolitics", "capabilities"],
}
FIELD_DOCS = {
    "doc_id": "Stable id: platform plus native id, or a hash of the canonical URL.",
    "source": "Name of the configured source that crawled it.",
    "platform": "blog, hackernews, reddit, discourse or files.",
    "kind": "post or comment.",
    "url": "Where it was published.",
    "thread_id": "doc_id of the thread's first post (comments and posts of one thread share it).",
    "parent_id": "doc_id of the post or comment it replies to.",
    "depth": "0 for a post, 1 for a top-level comment, and so on.",
    "title": "Title (posts).",
    "text": "Cleaned main text; e-mail addresses and phone numbers masked; empty for tombstones.",
    "author": "Keyed pseudonym of the author (stable across snapshots).",
    "published_at": "Publication time, UTC.",
    "language": "ISO 639-1 language code.",
    "score": "Platform score (points, votes) when crawled.",
    "deleted": "Deleted or removed upstream: kept as a tombstone without text.",
    "duplicate_of": "doc_id of the earlier document this one duplicates (exact or near).",
    "duplicate_kind": "exact or near.",
    "release": "Stance on releasing models openly: " + ", ".join(LABELS["release"]) + ".",
    "release_prob": "Model probability of the release label.",
    "moderation": "Stance on safety filters: " + ", ".join(LABELS["moderation"]) + ".",
    "moderation_prob": "Model probability of the moderation label.",
    "topics": "Topics (multi-label): " + ", ".join(LABELS["topics"]) + ".",
    "sentiment": "Tone: positive, negative or neutral.",
    "sentiment_prob": "Model probability of the tone label.",
    "entities": "Canonical ids of AI models, labs and people mentioned.",
    "model_version": "Version (hash) of the models that produced the labels.",
    "passage_id": "doc_id#seq.",
    "seq": "Position of the passage in its document.",
    "start": "Character offset of the passage in the document text.",
    "end": "End offset (exclusive).",
}


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def _table_md(counts: dict[str, Any]) -> str:
    if not counts:
        return "_none_\n"
    lines = ["| value | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines) + "\n"


def _f1_lines(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return ("No evaluation figures were recorded with this model version. Run "
                "`debatelake evaluate --gold FILE` before `snapshot create`: it keeps its figures with the model.\n")
    figures = evaluation.get("evaluation", evaluation)
    baselines = figures.get("baselines") if isinstance(figures, dict) else None
    baselines = baselines if isinstance(baselines, dict) else {}
    lines = ["| axis | metric | model [95% interval] |" + "".join(f" {b} |" for b in baselines),
             "|---|---|---|" + "---|" * len(baselines)]
    for axis in ("release", "moderation", "topics", "tone", "sentiment"):
        block = figures.get(axis) if isinstance(figures, dict) else None
        if isinstance(block, dict):
            for metric in ("macro_f1", "micro_f1"):
                if isinstance(block.get(metric), (int, float)):
                    ci = block.get(f"{metric}_ci95")
                    value = f"{block[metric]:.3f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if isinstance(ci, list) and len(ci) == 2 else "")
                    base = [(baselines[b].get(axis) or {}).get(metric) if isinstance(baselines[b], dict) else None
                            for b in baselines]
                    lines.append(f"| {axis} | {metric} | {value} |"
                                 + "".join(f" {v:.3f} |" if isinstance(v, (int, float)) else " |" for v in base))
    if len(lines) == 2:
        return "```json\n" + json.dumps(figures, indent=2, default=str)[:4000] + "\n```\n"
    source = figures.get("gold") or evaluation.get("gold") if isinstance(figures, dict) else None
    if isinstance(source, dict):  # kept by `debatelake evaluate`: file name, rows, sha256
        when = f", evaluated {evaluation['evaluated_at']}" if evaluation.get("evaluated_at") else ""
        return ("\n".join(lines) + f"\n\nMeasured on `{source.get('file')}` ({source.get('rows')} gold "
                f"passages, sha256 {str(source.get('sha256'))[:12]}{when}).\n")
    return "\n".join(lines) + "\n" + (f"\nMeasured on `{source}`.\n" if source else "")


def dataset_card(manifest: dict[str, Any], publish: dict[str, Any]) -> str:
    s = manifest["summary"]
    name = manifest["name"]
    pretty = publish.get("pretty_name") or f"debatelake: the public debate about LLM release and moderation ({name})"
    languages = sorted(k for k in s["languages"] if k and k != "unknown") or ["en"]
    meta = {
        "pretty_name": pretty,
        "license": publish.get("license", "other"),
        "license_name": publish.get("license_name", "mixed-source-terms"),
        "language": languages,
        "task_categories": ["text-classification"],
        "task_ids": ["sentiment-classification", "multi-label-classification"],
        "size_categories": [_size_category(manifest["rows"]["documents"])],
        "annotations_creators": ["machine-generated"],
        "language_creators": ["found"],
        "multilinguality": ["multilingual" if len(languages) > 1 else "monolingual"],
        "source_datasets": ["original"],
        "tags": ["stance-detection", "llm", "ai-policy", "open-weights", "content-moderation", "debatelake"],
        "configs": [
            {"config_name": "documents", "default": True,
             "data_files": [{"split": "train", "path": "data/documents/*.parquet"}]},
            {"config_name": "passages", "data_files": [{"split": "train", "path": "data/passages/*.parquet"}]},
        ],
    }
    diff = manifest.get("diff")
    diff_md = "This is the first snapshot of this data root.\n"
    if diff:
        diff_md = (f"Compared with `{diff['previous']}`: {diff['documents_added']} documents added, "
                   f"{diff['documents_removed']} removed, {diff['documents_relabelled']} relabelled. "
                   "Label shares then and now are in `manifest.json` (`diff.label_shares`).\n")
    citation_key = f"debatelake_{name}".replace("-", "_").replace(".", "_")
    cite = publish.get("citation") or (
        f"@dataset{{{citation_key},\n  title = {{{pretty}}},\n  year = {{{manifest['created_at'][:4]}}},\n"
        f"  version = {{{name}}},\n  note = {{Snapshot {name}; code {manifest['code_version']}; "
        f"model {manifest['model_version']}}}\n}}")
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()}
---

# {pretty}

A snapshot of public writing about two debates over large language models: should models be
**released openly or kept closed**, and should they carry **safety filters or none**. Every
document and passage carries machine labels for its stance on both debates, its topics and its
tone, and the AI models, labs and people it mentions.

- Snapshot `{name}`, created {manifest['created_at']}
- {manifest['rows']['documents']} documents ({s['tombstones']} tombstones), {manifest['rows']['passages']} passages
- Published between {s['first_published']} and {s['last_published']}
- Code version `{manifest['code_version']}`, model version `{manifest['model_version']}`

## Loading

```python
import pandas as pd
docs = pd.read_parquet("data/documents")        # or: datasets.load_dataset("<repo>", "documents")
passages = pd.read_parquet("data/passages")
```

With debatelake installed and this snapshot under a data root:
`from pipeline import load; load("documents", snapshot="{name}")`.

## Sources and how they were crawled

Documents come from blogs and newsletters (RSS, Atom and JSON feeds, sitemaps; main text extracted
with trafilatura), Hacker News (the Algolia search and items APIs), Reddit (the public JSON
endpoints, with collapsed replies expanded) and Discourse forums (their JSON API), so that thread
text and structure are the platforms' own. The crawler obeys robots.txt, throttles itself per
domain, identifies itself with a contact address and honours Retry-After. Comments deleted or
removed upstream stay in their threads as tombstones with no text.

Documents per source and kind:

{_table_md(s['by_source_and_kind'])}
## Label schema

Labels follow the project's annotation guidelines. `release`: {', '.join(LABELS['release'])}.
`moderation`: {', '.join(LABELS['moderation'])}. `topics` (zero or more): {', '.join(LABELS['topics'])}.
`sentiment` (tone): {', '.join(LABELS['sentiment'])}. Document labels aggregate passage labels:
a clear lean gives that side, real weight on both sides gives `mixed`, on-topic without a side gives
`neutral`, no on-topic passage gives `none`.

Release labels in this snapshot:

{_table_md(s['label_distribution'].get('release', {}))}
Moderation labels:

{_table_md(s['label_distribution'].get('moderation', {}))}
Tone:

{_table_md(s['label_distribution'].get('sentiment', {}))}
## Models and their evaluation

Labels are predicted by scikit-learn classifiers over static sentence embeddings and cue
features, trained by `debatelake train` on passages the project wrote itself, model version
`{manifest['model_version']}`. Every label carries its probability, so that users can filter
by confidence.

{_f1_lines(manifest.get('evaluation'))}
## Changes since the previous snapshot

{diff_md}
## Personal information

Author names are replaced by keyed pseudonyms (HMAC-SHA256): one author keeps one pseudonym
across snapshots, and nobody without the key can recover the name. E-mail addresses and phone
numbers in titles and text are masked. Authors and URLs on the takedown list are left out.
To ask for removal, contact the publisher of this snapshot.

## Known limitations

- Labels are machine predictions, not human judgements; on the project's development set their
  macro-F1 is well below human agreement (see the figures above). Use the probabilities and check
  samples before drawing conclusions.
- Coverage is what the configured sources publish and what their APIs return; it is not a
  representative sample of public opinion.
- Texts are English-first: other languages are kept and marked, and labelled only where configured.
- Scores (points, votes) are as of the crawl and change afterwards.

## How to cite

```bibtex
{cite}
```
"""


def _data_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return "sc:Boolean"
    if pa.types.is_integer(t):
        return "sc:Integer"
    if pa.types.is_floating(t):
        return "sc:Float"
    if pa.types.is_timestamp(t):
        return "sc:Date"
    return "sc:Text"


def croissant(manifest: dict[str, Any], folder: Path, publish: dict[str, Any]) -> dict[str, Any]:
    """Croissant 1.1 JSON-LD for the snapshot in `folder`."""
    name = manifest["name"]
    context = {
        "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
        "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
        "dct": "http://purl.org/dc/terms/",
        "citeAs": "cr:citeAs", "column": "cr:column", "conformsTo": "dct:conformsTo",
        "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
        "equivalentProperty": "cr:equivalentProperty", "samplingRate": "cr:samplingRate",
        "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract", "field": "cr:field",
        "fileObject": "cr:fileObject", "fileProperty": "cr:fileProperty", "fileSet": "cr:fileSet",
        "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField",
        "path": "cr:path", "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
        "repeated": "cr:repeated", "replace": "cr:replace", "separator": "cr:separator", "source": "cr:source",
        "subField": "cr:subField", "transform": "cr:transform",
    }
    distribution = []
    record_sets = []
    for table, files in manifest["files"].items():
        file_ids = []
        for rel in files:
            fid = rel.replace("/", "_")
            file_ids.append(fid)
            path = folder / rel
            distribution.append({
                "@type": "cr:FileObject", "@id": fid, "name": fid, "contentUrl": rel,
                "encodingFormat": "application/x-parquet", "contentSize": f"{path.stat().st_size} B",
                "sha256": sha256_file(path),
            })
        set_id = f"{table}-files"
        distribution.append({
            "@type": "cr:FileSet", "@id": set_id, "name": set_id,
            "containedIn": [{"@id": fid} for fid in file_ids],
            "encodingFormat": "application/x-parquet", "includes": f"data/{table}/*.parquet",
        })
        fields = []
        for f in SNAPSHOT_SCHEMAS[table]:
            import pyarrow as pa

            repeated = pa.types.is_list(f.type)
            inner = f.type.value_type if repeated else f.type
            entry = {
                "@type": "cr:Field", "@id": f"{table}/{f.name}", "name": f.name,
                "description": FIELD_DOCS.get(f.name, f.name), "dataType": _data_type(inner),
                "source": {"fileSet": {"@id": set_id}, "extract": {"column": f.name}},
            }
            if repeated:
                entry["repeated"] = True
            fields.append(entry)
        record_sets.append({
            "@type": "cr:RecordSet", "@id": table, "name": table,
            "description": "Documents joined with their labels." if table == "documents"
            else "Passages of documents with their labels and entities.",
            "key": {"@id": f"{table}/{'doc_id' if table == 'documents' else 'passage_id'}"},
            "field": fields,
        })
    s = manifest["summary"]
    return {
        "@context": context,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": publish.get("dataset_name", f"debatelake-{name}"),
        "description": (manifest.get("description") or
                        "Public writing about releasing LLMs openly and about safety filters, with machine "
                        "labels for stance on both debates, topics, tone and mentioned entities."),
        "version": name if name[:1].isdigit() and name.count(".") == 2 else "1.0.0",
        "datePublished": manifest["created_at"][:10],
        "license": publish.get("license_url", publish.get("license", "other")),
        "url": publish.get("url", ""),
        "creator": {"@type": "sc:Organization", "name": publish.get("creator", "debatelake users")},
        "citeAs": f"debatelake snapshot {name} (code {manifest['code_version']}, model {manifest['model_version']})",
        "isLiveDataset": False,
        "keywords": ["LLM", "open weights", "content moderation", "stance detection", "AI policy"],
        "inLanguage": sorted(k for k in s["languages"] if k and k != "unknown"),
        "temporalCoverage": f"{s['first_published']}/{s['last_published']}" if s["first_published"] else None,
        "rai:dataCollection": (
            "Crawled with Scrapy from configured public sources: blog and newsletter feeds and sitemaps "
            "(main text extracted with trafilatura), the Hacker News Algolia API, Reddit's public JSON "
            "endpoints and Discourse forums' JSON API; robots.txt obeyed, per-domain throttling, "
            "Retry-After honoured, incremental re-crawls merged by stable document id."),
        "rai:dataCollectionType": ["Web Scraping", "Software Collection"],
        "rai:dataCollectionTimeframe": [s["first_published"], s["last_published"]],
        "rai:dataAnnotationProtocol": (
            "Labels follow the project's annotation guidelines: the author's own position on releasing "
            "models openly (open, closed, mixed, neutral, none) and on safety filters (filter, no_filter, "
            "mixed, neutral, none), ten topics and tone; reported views are neutral; document labels "
            "aggregate passage labels with the deciding sentences kept as evidence."),
        "rai:dataAnnotationPlatform": ["debatelake"],
        "rai:machineAnnotationTools": [
            f"debatelake models {manifest['model_version']}: scikit-learn classifiers over static sentence "
            "embeddings distilled with model2vec from all-MiniLM-L6-v2, plus cue features",
            "spaCy entity ruler over the project's gazetteer of AI models, labs and people",
            "py3langid language identification", "MinHash LSH near-duplicate detection",
        ],
        "rai:annotationsPerItem": "1 (machine)",
        "rai:personalSensitiveInformation": (
            "Public posts by identifiable people. Author names are replaced by keyed HMAC-SHA256 "
            "pseudonyms, e-mail addresses and phone numbers in text are masked, and a takedown list "
            "removes URLs and authors on request. Text may still mention public figures by name."),
        "rai:dataLimitations": (
            "Machine labels with measured error (see the dataset card); coverage limited to the "
            "configured sources; English-first."),
        "rai:dataBiases": (
            "Communities that post on Hacker News, Reddit and technical blogs are over-represented; "
            "the classifiers were trained on project-written text and may miss other registers."),
        "rai:dataUseCases": "Research on public discourse about AI release and moderation policy.",
        "rai:dataReleaseMaintenancePlan": "Immutable named snapshots; later snapshots list what changed.",
        "distribution": distribution,
        "recordSet": record_sets,
    }
