"""The ``hero`` command: ``main`` is the console script (``hero = hero.cli:main``)."""
from hero.cli.main import main

__all__ = ["main"]
