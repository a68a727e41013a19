"""The `debatelake` command line. Each module in this package adds its own commands to `app`."""
from __future__ import annotations

from .common import app, main  # noqa: F401
from . import crawl  # noqa: F401,E402  (registers crawl, status, demo)

for _optional in ("demo", "nlp", "models", "datasets", "publish", "report", "schedule", "configuration"):
    try:  # command groups that later work adds; absent modules simply add no commands
        __import__(f"{__name__}.{_optional}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_optional}":
            raise
