"""Localization (docs/actions.md, Localization): catalogs, negotiation on every transport, fallbacks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import websocket

from hero.core.connection import Connection
from hero.errors import BootError
from hero.services.i18n import I18n
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)

ENGLISH = "Your random number is "
FRENCH = "Votre nombre aléatoire est "


def catalogs(tmp_path: Path, files: dict[str, dict[str, str]]) -> Path:
    for name, entries in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(entries))
    return tmp_path


def test_fallbacks_go_to_the_default_locale_then_the_key(tmp_path):
    i18n = I18n("en")
    i18n.load([catalogs(tmp_path, {"en": {"hello": "hello", "bye": "goodbye"}, "fr": {"hello": "bonjour {name}"}})])
    french = Connection(type="web", locale="fr")
    assert french.locale == "fr"
    french.localizer = i18n.localize
    assert french.localize("hello", name="Ann") == "bonjour Ann"
    assert french.localize("bye") == "goodbye"                       # missing in fr: the default's
    assert french.localize("never translated {n}", n=3) == "never translated 3"  # missing everywhere: the key
    assert french.localize(["hello", {"name": "Bo"}]) == "bonjour Bo"  # actionhero's list form
    assert french.localize("{{n}} and {missing}", n=1) == "1 and {missing}"


def test_negotiation_by_quality_and_language(tmp_path):
    i18n = I18n("en")
    i18n.load([catalogs(tmp_path, {"en": {}, "fr": {}, "pt-BR": {}})])
    assert i18n.negotiate("de, fr;q=0.4, en;q=0.8") == "en"
    assert i18n.negotiate("fr-CA") == "fr"
    assert i18n.negotiate("pt_br") == "pt-br" and i18n.negotiate("pt") == "pt-br"
    assert i18n.negotiate("de, *;q=0.1") is None and i18n.negotiate("x" * 2000) is None
    assert i18n.negotiate("fr;q=abc, en") == "en"


def test_a_bad_catalog_or_default_stops_the_boot(tmp_path):
    (tmp_path / "fr.json").write_text("[1, 2]")
    with pytest.raises(BootError, match="fr.json: a catalog is a JSON object"):
        I18n("en").load([tmp_path])
    with pytest.raises(BootError, match="i18n.default_locale"):
        I18n("not a locale!")


def test_without_catalogs_localize_only_fills_in():
    assert Connection(type="socket").localize("n is {n}", n=2) == "n is 2"


def test_http_locale_param_then_accept_language_then_default(boot_hero):
    api = boot_hero()
    host, port = api.servers["web"].address[:2]
    url = f"http://{host}:{port}/api/randomNumber"
    said = requests.get(url, params={"locale": "fr"}, timeout=5).json()
    assert said["version"] == 2 and said["stringRandomNumber"] == f"{FRENCH}{said['randomNumber']}"
    assert isinstance(said["randomNumber"], float)
    assert requests.get(url, headers={"Accept-Language": "fr-CA,en;q=0.5"}, timeout=5).json()[
        "stringRandomNumber"].startswith(FRENCH)
    assert requests.get(url, params={"locale": "en"}, headers={"Accept-Language": "fr"}, timeout=5).json()[
        "stringRandomNumber"].startswith(ENGLISH)
    assert requests.get(url, headers={"Accept-Language": "de"}, timeout=5).json()["stringRandomNumber"].startswith(ENGLISH)
    assert requests.get(url, timeout=5).json()["stringRandomNumber"].startswith(ENGLISH)
    bad = requests.get(url, params={"locale": "<script>"}, timeout=5)
    assert bad.status_code == 422 and bad.json()["error"] == "locale must be a language tag like en or pt-BR"
    version_1 = requests.get(url, params={"apiVersion": 1, "locale": "fr"}, timeout=5).json()
    assert version_1["stringRandomNumber"].startswith(ENGLISH) and "version" not in version_1


def test_websocket_upgrade_header_and_locale_param(boot_hero):
    api = boot_hero({"socket": {"enabled": False}})
    host, port = api.servers["web"].address[:2]
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5, header=["Accept-Language: fr"])
    json.loads(ws.recv())

    def ask(params):
        ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber", **params}}))
        return json.loads(ws.recv())["stringRandomNumber"]

    assert ask({}).startswith(FRENCH)
    assert ask({"locale": "en"}).startswith(ENGLISH)
    assert ask({}).startswith(ENGLISH)  # the param is the connection's locale from then on
    ws.close()


def test_tcp_sticky_locale(boot_hero):
    api = boot_hero({"web": {"enabled": False}})
    client = LineClient(api.servers["socket"].address[:2])
    client.send("randomNumber\r\n")
    assert client.read()["stringRandomNumber"].startswith(ENGLISH)
    client.send("paramAdd locale=fr\r\n")
    assert client.read()["status"] == "OK"
    client.send("randomNumber\r\n")
    assert client.read()["stringRandomNumber"].startswith(FRENCH)
    client.send(json.dumps({"action": "randomNumber", "params": {"locale": "en"}}) + "\r\n")
    assert client.read()["stringRandomNumber"].startswith(ENGLISH)
