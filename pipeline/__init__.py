"""debatelake: research datasets of the public debate about large language models.

    from pipeline import load
    docs = load("documents")
"""
from .store import load

__all__ = ["load"]
__version__ = "0.1.0"
