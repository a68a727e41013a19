"""The demo dataset, built once per test session and shared by tests/test_demo.py and
tests/test_notebooks.py: a small label model is trained into a fresh root first (the full
training set takes a minute or more on two busy cores; test_models covers it), then
`debatelake demo` runs twice on one port, as a user would run it."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
N_TRAIN = 400  # lines of the project's training set: enough for every label


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_demo_cli(root: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "debatelake"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from pipeline.cli import main; main()"]
    return subprocess.run([*cmd, "demo", "--root", str(root), "--port", str(port), *extra], capture_output=True,
                          text=True, cwd=PROJECT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(PROJECT), "COLUMNS": "200"})


def small_training_file(folder: Path, n: int = N_TRAIN) -> Path:
    """A fixed, label-blind sample of the project's training lines."""
    from pipeline.nlp.train import training_files

    lines = [line for path in training_files() for line in path.read_text("utf-8").splitlines() if line.strip()]
    lines.sort(key=lambda line: hashlib.sha256(line.encode("utf-8")).hexdigest())
    path = folder / "train-small.jsonl"
    path.write_text("\n".join(lines[:n]) + "\n", "utf-8")
    return path


def train_small(root: Path, folder: Path) -> None:
    from pipeline.nlp.train import TrainParams, train

    with warnings.catch_warnings():  # a 400-line set leaves some label pairs too rare for 2 folds: fine here
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        train(root, base=[small_training_file(folder)], params=TrainParams(folds=2))


@dataclass
class DemoRuns:
    root: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    version_after_first: int | None


def build(folder: Path) -> DemoRuns:
    from pipeline.store import Store

    root = folder / "data"
    train_small(root, folder)
    port = free_port()
    first = run_demo_cli(root, port)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    version = Store(root).version("documents")
    second = run_demo_cli(root, port)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return DemoRuns(root, first, second, version)
