"""The README's sections on request limits, models, localization, `say` and `actionsView` run: their
files make an app that boots, their config excerpts are real config, and their curl lines work
against a live server (curl's flags read here, the request made with requests)."""
from __future__ import annotations

import shlex
from typing import Any

import pytest
import requests

from hero.services import orm
from hero.spec_helper import SpecHelper
from tests.support.apps import write_app
from tests.test_readme import FILES, README, blocks

pytestmark = pytest.mark.timeout(60)


def section(heading: str, language: str) -> list[str]:
    return [code for name, code in blocks(language) if name == heading]


def excerpt(heading: str, name: str) -> Any:
    """The value ``name`` that a section's ``# config.py (excerpt)`` block sets."""
    for code in section(heading, "python"):
        if code.startswith("# config.py (excerpt)"):
            values: dict[str, Any] = {}
            exec(code, values)
            return values[name]
    raise AssertionError(f"no config excerpt in README section {heading}")


def curl(line: str, base: str) -> requests.Response:
    """Run one README curl line against ``base`` (which stands for localhost:8080)."""
    words = shlex.split(line, comments=True)
    assert words[0] == "curl"
    method, headers, data, url = "GET", {}, None, None
    words = iter(words[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words)
            method = "POST" if method == "GET" else method
        elif word in ("-i", "-s", "-v"):
            continue
        else:
            url = word
    assert url is not None
    url = url.replace("localhost:8080", base.removeprefix("http://"))
    return requests.request(method, url if url.startswith("http") else f"http://{url}", headers=headers,
                            data=data, timeout=5)


def curl_lines(heading: str) -> list[str]:
    return [line for code in section(heading, "sh") for line in code.splitlines() if line.startswith("curl ")]


@pytest.fixture(scope="module")
def readme_services_app(tmp_path_factory):
    root = write_app(tmp_path_factory.mktemp("readme-services"), FILES)
    (catalog,) = section("Localization", "json")
    (root / "locales").mkdir()
    (root / "locales" / "fr.json").write_text(catalog)
    helper = SpecHelper.boot(root)
    yield helper
    helper.stop()


def test_the_models_example(readme_services_app):
    api = readme_services_app.api
    assert readme_services_app.run_action("addNote", text="second")["notes"] == 2  # the seed, and this one
    with api.models.session() as db:
        assert db.get(api.models.Note, 1).text == "hello"
    url = orm.database_url(excerpt("Models", "models")["url"], api.config.root, "test")
    assert url.drivername == "postgresql+psycopg"
    assert "pip install -e '.[models]'" in README


def test_the_localization_example(readme_services_app):
    assert readme_services_app.run_action("welcome", locale="fr")["text"] == "Bienvenue, friend"
    assert readme_services_app.run_action("welcome", name="Ann")["text"] == "Welcome, Ann"


def test_the_request_limit_examples(boot_hero):
    general = excerpt("Request limits", "general")
    api = boot_hero({"general": general}, redis=True)
    host, port = api.servers["web"].address[:2]
    (line,) = curl_lines("Request limits")
    answer = curl(line, f"http://{host}:{port}")
    assert answer.status_code == 200
    assert (answer.headers["RateLimit-Limit"], answer.headers["RateLimit-Remaining"]) == ("100", "99")
    assert answer.headers["RateLimit-Reset"] in ("59", "60")
    assert answer.json()["requesterInformation"]["RequestsRemaining"] == 99


def test_the_localization_say_and_actions_view_curl_lines(boot_hero):
    api = boot_hero()
    host, port = api.servers["web"].address[:2]
    base = f"http://{host}:{port}"
    for line in curl_lines("Localization"):
        said = curl(line, base).json()
        assert said["stringRandomNumber"] == f"Votre nombre aléatoire est {said['randomNumber']}"
    say, actions_view = curl_lines("Chat")[-2:]
    assert curl(say, base).json()["said"] is True
    listed = {entry["name"] for entry in curl(actions_view, base).json()["actions"]}
    assert {"randomNumber", "say", "actionsView", "createUser"} <= listed


def test_the_health_action_is_never_counted(readme_services_app):
    action = readme_services_app.api.actions.find("health")
    assert action.rate_limit is False and readme_services_app.run_action("health")["ok"] is True
