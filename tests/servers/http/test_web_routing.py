"""Finding the action over HTTP (PROTOCOL §2): routes, simple and query routing, static mounts."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from hero.core.routes import RouteTable
from hero.errors import BootError
from tests.support.apps import APP_ROOT
from tests.support.web import boot_web, raw_exchange, status_of, web_url

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def url(boot_hero):
    return web_url(boot_web(boot_hero))


def test_simple_routing_runs_the_named_action(url):
    response = requests.get(f"{url}/api/randomNumber")
    assert response.status_code == 200
    assert 0 <= response.json()["randomNumber"] <= 1


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_simple_routing_works_on_every_verb(url, method):
    assert requests.request(method, f"{url}/api/randomNumber").status_code == 200


def test_query_routing_reads_the_action_param(url):
    response = requests.get(f"{url}/api", params={"action": "status"})
    assert response.status_code == 200
    assert response.json()["nodeStatus"] == "Node Healthy"


def test_no_action_is_404_with_metadata(url):
    response = requests.get(f"{url}/api")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "unknown action or invalid apiVersion"
    assert body["requesterInformation"]["receivedParams"] == {"action": None}


def test_simple_routing_action_wins_over_query_action(url):
    assert "randomNumber" in requests.get(f"{url}/api/randomNumber", params={"action": "status"}).json()


def test_an_action_param_is_ignored_below_a_deeper_path(url):
    assert requests.get(f"{url}/api/a/b", params={"action": "status"}).status_code == 404


def test_config_routes_come_first(url):
    assert "randomNumber" in requests.get(f"{url}/api/random").json()
    assert requests.get(f"{url}/api/status").json()["nodeStatus"] == "Node Healthy"


def test_route_captures_a_part(url):
    assert requests.get(f"{url}/api/users/bob").json()["params"] == {"key": "bob"}


@pytest.mark.parametrize("user, matched", [("123", True), ("admin", True), ("1234", False), ("12", False)])
def test_regex_route_matches_only_when_the_regex_does(url, user, matched):
    params = requests.get(f"{url}/api/users/{user}").json()["params"]
    assert params == ({"userID": user} if matched else {"key": user})


def test_route_captures_beat_query_and_body(url):
    response = requests.post(f"{url}/api/things/fromRoute", params={"key": "fromQuery"}, json={"key": "fromBody"})
    assert response.json()["params"] == {"key": "fromRoute"}


def test_route_action_beats_an_action_param(url):
    response = requests.get(f"{url}/api/users/bob", params={"action": "randomNumber"})
    assert response.json()["params"] == {"key": "bob"}


def test_literal_parts_are_case_insensitive(url):
    assert requests.get(f"{url}/api/mixed/CASE").json()["params"] == {}
    assert requests.get(f"{url}/api/MIXED/case/").status_code == 200


def test_captures_keep_their_case_and_decode_plus(url):
    assert requests.get(f"{url}/api/users/Bob+Smith").json()["params"] == {"key": "Bob Smith"}


@pytest.mark.parametrize("path, version", [("/api/v1/versioned", 1), ("/api/v2/versioned", 2),
                                           ("/api/V2/versioned", 2), ("/api/versioned", 2),
                                           ("/api/old/versioned", 1)])
def test_api_versions_from_the_path_or_the_route(url, path, version):
    assert requests.get(f"{url}{path}").json()["version"] == version


def test_unknown_version_in_the_path_is_404(url):
    assert requests.get(f"{url}/api/v99/versioned").status_code == 404
    assert requests.get(f"{url}/api/1/versioned").status_code == 404


def test_a_version_param_picks_the_version(url):
    assert requests.get(f"{url}/api/versioned", params={"apiVersion": 1}).json()["version"] == 1


def test_match_trailing_path_parts_takes_the_rest(url):
    params = requests.get(f"{url}/api/wild/theKey/and/some/more/path").json()["params"]
    assert params == {"key": "theKey", "path": "and/some/more/path"}
    assert requests.get(f"{url}/api/wild/theKey").status_code == 404


def test_a_route_needs_every_part(url):
    assert requests.get(f"{url}/api/users").status_code == 404
    assert requests.get(f"{url}/api/users/a/b").status_code == 404


def test_params_with_dots_in_their_names(url):
    assert requests.get(f"{url}/api/dotted/x").json()["params"] == {"my.id": "x"}


def test_first_matching_route_wins_even_over_a_later_literal(url):
    assert "randomNumber" in requests.get(f"{url}/api/first/literal").json()


def test_routes_are_per_verb_and_all_means_every_verb(url):
    # A path that a route serves for other verbs only is a 405 naming them (RFC 9110 §15.5.6).
    response = requests.get(f"{url}/api/things/x")
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")
    assert response.json()["error"] == "GET is not allowed here"
    for method in ("get", "post", "put", "patch", "delete"):
        assert requests.request(method, f"{url}/api/everywhere").json()["params"] == {}


def test_head_uses_get_routes_without_a_body(url):
    response = requests.head(f"{url}/api/users/bob")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 0


def test_dir_route_serves_files(url):
    response = requests.get(f"{url}/api/files/simple.html")
    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]
    assert requests.get(f"{url}/api/files/nope.html").status_code == 404


def test_root_and_public_serve_files(url):
    assert "<html" in requests.get(f"{url}/").text.lower()
    assert requests.get(f"{url}/public/simple.html").status_code == 200
    missing = requests.get(f"{url}/public/nope.html")
    assert (missing.status_code, missing.text) == (404, "that file is not found")
    assert missing.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("target", [b"/public/../config.py", b"/public/%2e%2e/config.py", b"/public/..%2fconfig.py",
                                    b"/public/%252e%252e/config.py", b"/public//etc/passwd", b"/api/files/../config.py"])
def test_nothing_outside_the_public_folder(boot_hero, target):
    api = boot_web(boot_hero)
    answer = raw_exchange(api.servers["web"].address, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 404
    assert b"general" not in answer


def test_root_endpoint_api_makes_the_root_the_api(boot_hero):
    api = boot_web(boot_hero, web={"root_endpoint_type": "api"})
    assert "randomNumber" in requests.get(f"{web_url(api)}/randomNumber").json()


def test_another_action_prefix(boot_hero):
    url = web_url(boot_web(boot_hero, web={"url_path_for_actions": "namespace/actions"}))
    assert "randomNumber" in requests.get(f"{url}/namespace/actions/randomNumber").json()
    assert requests.get(f"{url}/api/randomNumber").status_code == 404


def test_simple_and_query_routing_can_be_switched_off(boot_hero):
    url = web_url(boot_web(boot_hero, web={"simple_routing": False, "query_routing": False}))
    assert requests.get(f"{url}/api/randomNumber").status_code == 404
    assert requests.get(f"{url}/api", params={"action": "randomNumber"}).status_code == 404
    assert requests.get(f"{url}/api/random").status_code == 200


@pytest.mark.parametrize("routes, message", [
    ({"gett": []}, "unknown verb `gett`"),
    ({"get": [{"action": "x"}]}, "`path` must be a string"),
    ({"get": [{"path": "/x"}]}, "needs an `action`"),
    ({"get": [{"path": "/x/:id(()", "action": "x"}]}, "bad regex"),
    ({"get": [{"path": "/x/:i d", "action": "x"}]}, "bad route part"),
    ({"get": [{"path": "/x", "action": "x", "verb": "get"}]}, "unknown route keys"),
])
def test_bad_routes_fail_the_boot(routes, message):
    with pytest.raises(BootError, match=message):
        RouteTable.from_config(routes)


def test_hero_routes_lists_the_table():
    result = subprocess.run([sys.executable, "-m", "hero", "routes", "--json"], capture_output=True, text=True,
                            timeout=30, check=True, cwd=APP_ROOT)
    rows = json.loads(result.stdout)
    assert {"verb": "get, head", "path": "/api/status", "action": "status", "apiVersion": None,
            "matchTrailingPathParts": False, "dir": None} in rows
    assert rows[-1]["path"] == "/api?action=<action>"


def test_a_dir_route_to_a_missing_folder_fails_the_boot(boot_hero):
    with pytest.raises(BootError, match="is not a folder"):
        boot_web(boot_hero, routes={"get": [{"path": "/x", "dir": "no-such-folder"}]})
