from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DEBATELAKE_SHARED", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared (real recorded fixtures, seeds and gold data), read in place."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent (looked in {SHARED}); these tests read real recorded data from it")
    return SHARED


@pytest.fixture
def root(tmp_path) -> Path:
    """A fresh, empty data root."""
    return tmp_path / "data"


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory):
    """`debatelake demo` run twice into one root (with a small model trained there first); shared
    by every test that needs the demo dataset. Tests that change it work on a copy."""
    from _demo_data import build

    return build(tmp_path_factory.mktemp("demo"))
