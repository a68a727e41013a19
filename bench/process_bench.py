"""Throughput of `debatelake process` against spaCy's blank English tokenizer, in one run.

    .venv/bin/python bench/process_bench.py [--docs 20000] [--workers N] [--models DIR] [--keep]

1. Generates --docs documents of ~300 words from the project's own text (training passages in
   pipeline/nlp/training/*.jsonl, demo blog posts and threads): sentences are drawn from
   different passages and regrouped into paragraphs, so documents and passages are new texts
   (no passage repeats verbatim, which would flatter any cache), 1 in 5 is a comment.
2. Writes them to a `documents` table in a temporary data root and trains the label model there
   (or copies --models DIR, a `models/` folder with a CURRENT model).
3. Runs spaCy's blank English tokenizer alone over the same texts in one process, then
   `process` over them (both cores by default), then the tokenizer again (the machine may be
   shared: its load is printed, and the ratio uses the mean of the two tokenizer runs). Prints
   docs/s and words/s of each and their ratio; the CPU seconds per document of each (the
   pipeline's summed over the main process and its workers), which give the ratio the pipeline
   would reach on two otherwise idle cores; a per-step profile (CPU time, one process) on a
   sample; and the peak memory of the run: this process and its workers together, sampled from
   /proc during `process` (and an upper bound from resource.getrusage's max RSS, which also
   counts the training done in this process).

Target: pipeline >= 0.2 x tokenizer-only throughput, peak memory < 2 GB.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def source_passages() -> list[str]:
    out: list[str] = []
    for path in sorted((ROOT / "pipeline/nlp/training").glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["text"])
    demo = ROOT / "pipeline/demo/content"
    for line in (demo / "blog_posts.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            out.extend(json.loads(line)["paragraphs"])
    threads = demo / "threads.jsonl"
    if threads.is_file():
        def walk(node):
            if isinstance(node, dict):
                if isinstance(node.get("text"), str) and node["text"].strip():
                    out.append(node["text"])
                for v in node.values():
                    if isinstance(v, (list, dict)):
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        for line in threads.read_text("utf-8").splitlines():
            if line.strip():
                walk(json.loads(line))
    return out


def make_documents(n: int, seed: int = 13):
    from pipeline.schema import Document

    rng = random.Random(seed)
    sentences = [s.strip() for p in source_passages() for s in _SENT.split(p) if len(s.split()) >= 4]
    docs = []
    for i in range(n):
        kind = "comment" if i % 5 == 0 else "post"
        paragraphs, words = [], 0
        while words < 300:
            para = " ".join(rng.choice(sentences) for _ in range(rng.randint(3, 6)))
            paragraphs.append(para)
            words += len(para.split())
        docs.append(Document(doc_id=f"bench:{i}", source="bench", platform="files", kind=kind,
                             title=None if kind == "comment" else f"Bench post {i}",
                             text="\n\n".join(paragraphs), author=f"author{i % 997}",
                             published_at="2025-01-01T00:00:00Z"))
    return docs


def peak_memory_mb(workers: int) -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (self_kb + (workers if workers > 1 else 0) * child_kb) / 1024


class MemorySampler:
    """Peak resident memory of this process and all its descendants together (read from /proc
    every `interval` seconds in a background thread)."""

    def __init__(self, interval: float = 0.25):
        import os
        import threading

        self.interval = interval
        self.pid = os.getpid()
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, sum(self._rss_kb(p) for p in self._tree()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def cpu_seconds(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def tokenizer_run(texts: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, tokens) of spaCy's blank English tokenizer over the texts."""
    from pipeline.nlp.entities import blank_english

    nlp = blank_english()
    t, c = time.perf_counter(), time.process_time()
    n_tokens = sum(len(doc) for doc in nlp.tokenizer.pipe(texts, batch_size=256))
    return time.perf_counter() - t, time.process_time() - c, n_tokens


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def step_profile(texts: list[str], kinds: list[str], root: str) -> dict[str, float]:
    """CPU seconds per 1,000 documents of each step, in one process (where the time goes)."""
    from pipeline.nlp.clean import clean_text
    from pipeline.nlp.dedup import MinHasher, text_hash
    from pipeline.nlp.entities import EntityMatcher
    from pipeline.nlp.language import LanguageDetector
    from pipeline.nlp.passages import passage_spans
    from pipeline.nlp.process import load_labeler
    from pipeline.nlp.words import TokenBatch

    labeler = load_labeler(root)
    det, matcher, hasher = LanguageDetector(), EntityMatcher(), MinHasher()
    k = 1000 / len(texts)
    out: dict[str, float] = {}
    t = time.process_time()
    cleaned = [clean_text(x) for x in texts]
    out["clean"] = (time.process_time() - t) * k
    t = time.process_time()
    for x in cleaned:
        det.detect(x)
    out["language"] = (time.process_time() - t) * k
    t = time.process_time()
    spans = [passage_spans(x, kind) for x, kind in zip(cleaned, kinds)]
    out["passages"] = (time.process_time() - t) * k
    passages = [x[s:e] for x, sp in zip(cleaned, spans) for s, e in sp]
    t = time.process_time()
    for x in cleaned:
        text_hash(x)
        hasher.signature(x)
    out["hashes+minhash"] = (time.process_time() - t) * k
    # as `process` does: one TokenBatch per batch, shared by the labeller and the entity matcher
    t = time.process_time()
    tokens = TokenBatch.build(passages)
    labels = labeler.predict_passages(passages, tokens=tokens)
    pos = 0
    for sp in spans:
        labeler.aggregate(labels[pos:pos + len(sp)], [str(j) for j in range(len(sp))])
        pos += len(sp)
    out["labels (Labeler)"] = (time.process_time() - t) * k
    t = time.process_time()
    matcher.find_many(passages, tokens=tokens)
    out["entities"] = (time.process_time() - t) * k
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=None, help="default: every core")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--models", help="a models/ folder to copy instead of training one")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data root")
    ap.add_argument("--profile-sample", type=int, default=500)
    args = ap.parse_args()

    from pipeline.config import Config
    from pipeline.nlp.executor import default_workers
    from pipeline.nlp.process import process
    from pipeline.schema import documents_table
    from pipeline.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="debatelake-bench-"))
    root = str(tmp / "data")
    try:
        t = time.perf_counter()
        docs = make_documents(args.docs)
        store = Store(root)
        for i in range(0, len(docs), 5000):
            store.append("documents", documents_table(docs[i:i + 5000]))
        texts = [d.text for d in docs]
        kinds = [d.kind for d in docs]
        n_words = sum(len(x.split()) for x in texts)
        del docs
        print(f"generated and stored {len(texts):,} documents ({n_words / len(texts):.0f} words each on average) "
              f"in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        if args.models:
            shutil.copytree(args.models, Path(root) / "models")
        else:
            from pipeline.nlp.train import train

            train(root)
        print(f"model ready in {time.perf_counter() - t:.1f} s")

        workers = args.workers or default_workers()
        load_before = load_average()
        tok1_wall, tok1_cpu, n_tokens = tokenizer_run(texts)

        main0, kids0 = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        with MemorySampler() as memory:
            report = process(root, Config(), workers=workers, batch_size=args.batch_size)
        p_secs = time.perf_counter() - t
        p_cpu = cpu_seconds(resource.RUSAGE_SELF) - main0 + cpu_seconds(resource.RUSAGE_CHILDREN) - kids0
        assert report.processed == len(texts), report
        again = process(root, Config(), workers=workers)
        assert again.todo == 0 and again.run_id is None, "a second run found work to do"

        tok2_wall, tok2_cpu, _ = tokenizer_run(texts)
        load_after = load_average()
        tok_secs, tok_cpu = (tok1_wall + tok2_wall) / 2, (tok1_cpu + tok2_cpu) / 2

        n = len(texts)
        p_docs, tok_docs = n / p_secs, n / tok_secs
        print(f"\nload average before / after: {load_before} / {load_after} ({default_workers()} cores)")
        print(f"{'':40}{'docs/s':>10}{'words/s':>12}{'seconds':>10}{'CPU ms/doc':>12}")
        print(f"{'process (' + str(report.workers) + ' workers, whole run)':40}{p_docs:>10,.0f}"
              f"{n_words / p_secs:>12,.0f}{p_secs:>10.1f}{1000 * p_cpu / n:>12.2f}")
        for label, wall, cpu in (("spaCy blank tokenizer, before", tok1_wall, tok1_cpu),
                                 ("spaCy blank tokenizer, after", tok2_wall, tok2_cpu),
                                 ("spaCy blank tokenizer, mean (1 process)", tok_secs, tok_cpu)):
            print(f"{label:40}{n / wall:>10,.0f}{n_words / wall:>12,.0f}{wall:>10.1f}{1000 * cpu / n:>12.2f}")
        print(f"ratio process / tokenizer (docs/s, this run): {p_docs / tok_docs:.3f} (target >= 0.2)")
        print(f"ratio on {workers} otherwise idle cores (from CPU time: {workers} x tokenizer CPU/doc "
              f"/ pipeline CPU/doc): {workers * tok_cpu / p_cpu:.3f}")
        print(f"passages {report.passages_written:,}, annotation rows {report.annotations_written:,}, "
              f"exact dupes {report.exact_duplicates}, near dupes {report.near_duplicates}, "
              f"tokens {n_tokens:,}")
        print(f"peak memory during process (this process + its workers, sampled every 0.25 s): "
              f"{memory.peak_mb:,.0f} MB (target < 2048 MB); upper bound from max RSS (this process, training "
              f"included, + {workers} x largest worker): {peak_memory_mb(workers):,.0f} MB")

        sample = min(args.profile_sample, len(texts))
        prof = step_profile(texts[:sample], kinds[:sample], root)
        total = sum(prof.values())
        print(f"\nwhere the time goes, one process, CPU seconds per 1,000 documents (sample of {sample}):")
        for step, secs in prof.items():
            print(f"  {step:18}{secs:7.2f}  {100 * secs / total:5.1f}%")
        print(f"  {'all steps':18}{total:7.2f}  -> {1000 / total:,.0f} docs/s per core of CPU time")
    finally:
        if args.keep:
            print(f"data root kept: {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
