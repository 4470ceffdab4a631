"""Tiny throwaway apps for tests: write files into a folder and boot it."""
from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


def write_app(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` (sources are dedented); return ``root``."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    return root
