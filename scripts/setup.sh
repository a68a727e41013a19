#!/usr/bin/env bash
# Set debatelake up in ./.venv (idempotent). With --test, also what the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install --quiet -e '.[test]'
  # The report test opens `debatelake report`'s HTML in a real headless browser (Debian's Chromium).
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
      && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
        || echo "warning: could not install Chromium; the report's browser test will be skipped" >&2
    else
      echo "note: install Chromium for the report test (as root: apt-get install -y chromium)" >&2
    fi
  fi
else
  .venv/bin/python -m pip install --quiet -e .
fi
echo "debatelake is set up in .venv (activate with: source .venv/bin/activate)"
