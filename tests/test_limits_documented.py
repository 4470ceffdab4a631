"""Every limit is documented (issue 15): each key hero's defaults treat as a limit (``max_*``,
``*_timeout``, ``*_bytes``, ``*_window``) has a row in docs/limits.md and in README's "Limits and
guarantees", with its real default."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hero.config import is_limit
from hero.defaults import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
LIMIT_KEYS = sorted(f"{namespace}.{name}" for namespace, names in DEFAULTS.items() for name in names
                    if is_limit(f"{namespace}.{name}"))


def _rows(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^\|(?:[^|`\n]*\|)? `([a-z_]+\.[a-z_]+)` \| `([^`]*)`", text, re.M)}


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Limits and guarantees")
    return readme[start:readme.index("\n## ", start + 1)]


@pytest.mark.parametrize("where", ["docs/limits.md", "README.md"])
def test_every_limit_has_a_row_with_its_default(where: str) -> None:
    text = (ROOT / where).read_text() if where != "README.md" else _readme_section()
    rows = _rows(text)
    missing = [key for key in LIMIT_KEYS if key not in rows]
    assert not missing, f"{where} has no row for {missing}"
    for key in LIMIT_KEYS:
        namespace, _, name = key.partition(".")
        assert rows[key] == str(DEFAULTS[namespace][name]) or rows[key] == repr(DEFAULTS[namespace][name]), key


def test_the_readme_links_the_full_table() -> None:
    assert "(docs/limits.md)" in _readme_section()
