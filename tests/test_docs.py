"""The user docs stay honest: docs/limits.md names real config keys with their real defaults, and
every relative link between docs pages (and from README.md into docs/) resolves."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from hero.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

#: A table row of docs/limits.md: | `namespace.key` | `default` ... | ... |
LIMIT_ROW = re.compile(r"^\|\s*`(?P<key>[a-z_]+\.[a-z_]+)`\s*\|\s*`(?P<default>[^`]+)`", re.M)
#: A markdown link [text](target), not an image.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (?P<title>.+?)\s*$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def limit_rows() -> list[tuple[str, str]]:
    return [(m["key"], m["default"]) for m in LIMIT_ROW.finditer((DOCS / "limits.md").read_text())]


def test_the_pages_the_code_points_at_exist():
    names = {page.name for page in PAGES}
    assert {"README.md", "actions.md", "http.md", "websocket.md", "tcp.md", "chat.md", "limits.md",
            "deployment.md"} <= names


def test_limits_page_has_a_row_for_each_transport_limit():
    keys = {key for key, _ in limit_rows()}
    assert len(keys) >= 30
    assert {"web.max_body_bytes", "websocket.max_message_bytes", "socket.max_line_bytes",
            "general.simultaneous_actions"} <= keys


@pytest.mark.parametrize(("key", "stated"), limit_rows())
def test_a_limit_row_states_the_real_default(key, stated):
    namespace, _, name = key.partition(".")
    assert namespace in DEFAULTS, f"docs/limits.md names an unknown namespace in {key}"
    assert name in DEFAULTS[namespace], f"docs/limits.md names {key}, which hero's defaults do not have"
    assert ast.literal_eval(stated) == DEFAULTS[namespace][name], f"docs/limits.md states {key} = {stated}"


def anchor(title: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]", "", title).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {anchor(m["title"]) for m in HEADING.finditer(text)}


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [m["target"] for m in LINK.finditer(text) if not re.match(r"[a-z]+:", m["target"])]


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name} links to {target}, which does not exist"
        if fragment and file.suffix == ".md":
            assert fragment in anchors(file), f"{page.name} links to {target}: no such heading"


def test_the_readme_points_at_the_docs():
    links = relative_links(ROOT / "README.md")
    assert any(link.startswith("docs/") for link in links)


#: A pointer from hero's code to a page: ``docs/actions.md`` or ``docs/actions.md, Errors``.
CODE_REFERENCE = re.compile(r"docs/(?P<page>[\w-]+\.md)(?:, (?P<section>[A-Z][^).\n]*))?")


def code_references() -> list[tuple[str, str, str | None]]:
    found = []
    for path in sorted((ROOT / "hero").rglob("*.py")):
        for match in CODE_REFERENCE.finditer(path.read_text()):
            found.append((str(path.relative_to(ROOT)), match["page"], match["section"]))
    return found


def test_hero_cites_no_document_that_does_not_ship():
    stale = re.compile(r"PROTOCOL §|reliability(\.md)? [A-Z]\d|stack-notes|reference/actionhero\.md|DESIGN\.md")
    cited = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "hero").rglob("*.py"))
             if stale.search(path.read_text())]
    assert cited == []


def test_code_references_to_docs_resolve():
    references = code_references()
    assert references, "hero's code points at docs/ pages"
    for where, page, section in references:
        file = DOCS / page
        assert file.exists(), f"{where} cites docs/{page}, which does not exist"
        if section:
            titles = [m["title"] for m in HEADING.finditer(FENCE.sub("", file.read_text()))]
            assert any(section.startswith(title) for title in titles), \
                f"{where} cites docs/{page}, {section}: no such heading"
