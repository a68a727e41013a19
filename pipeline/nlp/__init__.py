"""Processing: clean -> language -> duplicates -> passages -> entities -> labels.

Plain functions and classes over batches of Arrow records (`process.py`), run in one process or
in a pool of worker processes (`executor.py`); the trained classifiers live in `model.py`.
"""
