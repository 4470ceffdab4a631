"""Seed 001's web server, as an actionhero v13–v17 user reads it (docs/http.md): ``/api/<action>/``,
switching the action path off, ``/file/<path>`` and ``?action=file``, an action's own response,
``connection.extension`` / ``matched_route`` / ``message_count`` / ``raw``, ``ALLOWED_HOSTS``,
``enable_etag``, the 404 text, JSON compression, fingerprint cookie options, upload extensions and
nested query params."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from hero import Action, Input
from tests.support.web import TEST_ROUTES, boot_web, web_url

pytestmark = pytest.mark.timeout(30)


class Download(Action):
    """Answers a CSV itself (``to_render = False``), whole or streamed."""

    name = "download"
    inputs = {"stream": Input(default="no")}

    def run(self, data):
        headers = {"Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="report.csv"'}
        if data.params["stream"] == "yes":
            data.connection.respond(200, headers, (f"row,{n}\n".encode() for n in range(3)))
        else:
            data.connection.respond(201, headers, "a,b\n1,2\n")
        data.to_render = False


class Silent(Action):
    """Sets ``to_render = False`` and answers nothing."""

    name = "silent"

    def run(self, data):
        data.to_render = False


class FileOnly(Action):
    """``send_file`` with ``to_render = False``: the file, no JSON."""

    name = "fileOnly"

    def run(self, data):
        data.connection.send_file("simple.html")
        data.to_render = False


class BadRespond(Action):
    name = "badRespond"

    def run(self, data):
        data.connection.respond(200, [("X-Bad", "a\r\nb")], b"")
        data.to_render = False


class Inspect(Action):
    """What the connection says about the request."""

    name = "inspect"
    inputs = {"key": Input()}

    def run(self, data):
        connection = data.connection
        raw = connection.raw
        return {
            "extension": connection.extension, "matchedRoute": connection.matched_route,
            "messageCount": connection.message_count, "method": raw.method,
            "header": raw.headers.get("x-custom"), "cookies": raw.cookies, "body": raw.body,
            "files": {name: value["filename"] for name, value in raw.files.items()},
            "rawParams": sorted(raw.params), "params": {k: v for k, v in data.params.items() if k != "action"},
        }


class Nested(Action):
    name = "nested"
    inputs = {"a": Input(), "list": Input(), "plain": Input()}

    def run(self, data):
        return {"params": {key: value for key, value in data.params.items() if key not in ("action", "apiVersion")}}


class Upload(Action):
    name = "upload"
    inputs = {"document": Input(required=True)}

    def run(self, data):
        upload = data.params["document"]
        return {"path": upload["path"], "exists": os.path.exists(upload["path"])}


class Big(Action):
    name = "big"

    def run(self, data):
        return {"rows": [{"id": n, "name": f"row number {n}", "tags": ["a", "b", "c"]} for n in range(200)]}


ACTIONS = (Download, Silent, FileOnly, BadRespond, Inspect, Nested, Upload, Big)
ROUTES = {**TEST_ROUTES, "get": [{"path": "/reports/:key", "action": "inspect"}, *TEST_ROUTES["get"]]}


def boot(boot_hero, web: dict[str, Any] | None = None, **overrides: Any) -> str:
    api = boot_web(boot_hero, web, routes=ROUTES, **overrides)
    for action in ACTIONS:
        api.actions.add(action)
    return web_url(api)


@pytest.fixture
def url(boot_hero) -> str:
    return boot(boot_hero)


# --- paths -------------------------------------------------------------------------------------


def test_trailing_slash_is_the_action(url: str) -> None:
    body = requests.get(f"{url}/api/randomNumber/").json()
    assert 0 <= body["randomNumber"] <= 1
    assert requests.get(f"{url}/api/randomNumber//").status_code == 404  # only one slash is forgiven


def test_url_path_for_actions_none_switches_the_action_path_off(boot_hero) -> None:
    url = boot(boot_hero, {"url_path_for_actions": None})
    assert requests.get(f"{url}/api/randomNumber").status_code == 404  # a public file lookup now
    assert requests.get(f"{url}/None/randomNumber").status_code == 404
    assert requests.get(f"{url}/public/simple.html").status_code == 200


def test_url_path_for_actions_none_with_an_api_root(boot_hero) -> None:
    url = boot(boot_hero, {"url_path_for_actions": None, "root_endpoint_type": "api"})
    assert "randomNumber" in requests.get(f"{url}/randomNumber").json()
    assert requests.get(f"{url}/?action=randomNumber").json()["randomNumber"] >= 0


def test_url_path_for_files_none_switches_files_off(boot_hero) -> None:
    url = boot(boot_hero, {"url_path_for_files": None})
    assert requests.get(f"{url}/public/simple.html").status_code == 404
    assert requests.get(f"{url}/file/simple.html").status_code == 404
    assert requests.get(f"{url}/api?action=file&fileName=simple.html").json()["error"] == (
        "unknown action or invalid apiVersion")


def test_file_alias_and_file_action_serve_public_files(url: str) -> None:
    expected = requests.get(f"{url}/public/simple.html")
    assert expected.status_code == 200
    for path in ("/file/simple.html", "/api?action=file&fileName=simple.html", "/api/file?fileName=simple.html"):
        response = requests.get(f"{url}{path}")
        assert response.status_code == 200, path
        assert response.content == expected.content and response.headers["Content-Type"] == (
            expected.headers["Content-Type"])
    assert requests.get(f"{url}/file/../config.py").status_code == 404
    assert requests.get(f"{url}/api?action=file&fileName=../config.py").status_code == 404
    assert requests.get(f"{url}/api?action=file").content == requests.get(f"{url}/public/").content  # the index


def test_file_alias_can_be_switched_off(boot_hero) -> None:
    url = boot(boot_hero, {"file_alias": None})
    assert requests.get(f"{url}/file/simple.html").status_code == 404


# --- an action's own response --------------------------------------------------------------------


def test_action_answers_itself(url: str) -> None:
    response = requests.get(f"{url}/api/download")
    assert response.status_code == 201 and response.text == "a,b\n1,2\n"
    assert response.headers["Content-Type"] == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report.csv"'
    assert response.headers["Content-Length"] == "8" and response.headers["X-Powered-By"] == "hero"
    streamed = requests.get(f"{url}/api/download?stream=yes")
    assert streamed.status_code == 200 and streamed.text == "row,0\nrow,1\nrow,2\n"
    assert streamed.headers.get("Transfer-Encoding") == "chunked"


def test_to_render_false_with_send_file(url: str) -> None:
    response = requests.get(f"{url}/api/fileOnly")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert response.content == requests.get(f"{url}/public/simple.html").content


def test_to_render_false_without_a_response_is_a_500_not_a_hang(url: str) -> None:
    response = requests.get(f"{url}/api/silent", timeout=5)
    assert response.status_code == 500
    assert response.json()["error"] == "the action set to_render = False but did not respond"


def test_a_bad_header_in_respond_is_an_error(url: str) -> None:
    response = requests.get(f"{url}/api/badRespond")
    assert response.status_code == 500
    assert response.json()["error"] == "a header name or value may not contain CR, LF or NUL"


# --- the connection -----------------------------------------------------------------------------


def test_connection_extension_route_and_raw(url: str) -> None:
    body = requests.get(f"{url}/api/reports/summary.csv?x=1", headers={"X-Custom": "yes"},
                        cookies={"flavour": "oat"}).json()
    assert body["extension"] == "csv"
    assert body["matchedRoute"] == {"path": "/reports/:key", "action": "inspect", "verb": "get"}
    assert body["messageCount"] == 0 and body["method"] == "GET" and body["header"] == "yes"
    assert body["cookies"] == {"flavour": "oat"} and body["body"] == {}
    assert body["rawParams"] == ["body", "files", "query"]
    plain = requests.get(f"{url}/api/inspect").json()
    assert plain["extension"] is None and plain["matchedRoute"] is None


def test_raw_body_is_unfiltered(url: str) -> None:
    body = requests.post(f"{url}/api/inspect", json={"key": "kept", "unknown": "scrubbed from params"}).json()
    assert body["body"] == {"key": "kept", "unknown": "scrubbed from params"}
    assert body["params"] == {"key": "kept"}
    upload = requests.post(f"{url}/api/inspect", data={"key": "k"},
                           files={"picture": ("cat.png", b"\x89PNG", "image/png")}).json()
    assert upload["files"] == {"picture": "cat.png"} and upload["method"] == "POST"


# --- config ------------------------------------------------------------------------------------


def test_allowed_hosts_env(boot_hero) -> None:
    api = boot_hero({"socket": {"enabled": False}},
                    environ={"ALLOWED_HOSTS": "https://example.com, https://www.example.com"})
    assert list(api.config.web.allowed_hosts) == ["https://example.com", "https://www.example.com"]
    response = requests.get(f"{web_url(api)}/api/randomNumber", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/api/randomNumber"


def test_etag_can_be_switched_off(boot_hero) -> None:
    on = requests.get(f"{boot(boot_hero)}/public/simple.html")
    assert on.headers["ETag"]
    url = boot(boot_hero, {"enable_etag": False})
    off = requests.get(f"{url}/public/simple.html")
    assert "ETag" not in off.headers and off.headers["Last-Modified"]
    again = requests.get(f"{url}/public/simple.html", headers={"If-Modified-Since": off.headers["Last-Modified"]})
    assert again.status_code == 304 and "ETag" not in again.headers


def test_file_not_found_message(boot_hero) -> None:
    url = boot(boot_hero, {"file_not_found_message": "nothing here, sorry"})
    response = requests.get(f"{url}/public/nope.html")
    assert response.status_code == 404 and response.text == "nothing here, sorry"
    assert requests.get(f"{boot(boot_hero)}/public/nope.html").text == "that file is not found"


def test_json_answers_are_gzipped_when_compress_is_on(boot_hero) -> None:
    url = boot(boot_hero, {"compress": True})
    raw = requests.get(f"{url}/api/big", headers={"Accept-Encoding": "gzip"}, stream=True).raw
    compressed = raw.read()
    assert raw.headers["Content-Encoding"] == "gzip" and raw.headers["Vary"] == "Accept-Encoding"
    assert int(raw.headers["Content-Length"]) == len(compressed)
    assert len(json.loads(gzip.decompress(compressed))["rows"]) == 200
    plain = requests.get(f"{url}/api/big", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and len(plain.content) > 3 * len(compressed)
    refused = requests.get(f"{url}/api/big", headers={"Accept-Encoding": "gzip;q=0.0, identity"})
    assert "Content-Encoding" not in refused.headers
    small = requests.get(f"{url}/api/randomNumber", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # under web.compress_min_bytes
    off = requests.get(f"{boot(boot_hero)}/api/big", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in off.headers


def test_fingerprint_cookie_options(boot_hero) -> None:
    default = requests.get(f"{boot(boot_hero)}/api/randomNumber")
    assert "Max-Age" not in default.headers["Set-Cookie"]
    url = boot(boot_hero, {"fingerprint_cookie_expiry": 3600})
    assert "; Max-Age=3600" in requests.get(f"{url}/api/randomNumber").headers["Set-Cookie"]
    url = boot(boot_hero, {"fingerprint_set_cookie": False})
    response = requests.get(f"{url}/api/randomNumber")
    assert "Set-Cookie" not in response.headers
    assert len(response.json()["requesterInformation"]["fingerprint"]) == 40


def test_keep_upload_extensions(boot_hero, tmp_path: Path) -> None:
    files = {"document": ("photo.PNG", b"\x89PNG", "image/png")}
    url = boot(boot_hero, {"upload_dir": str(tmp_path)})
    assert not requests.post(f"{url}/api/upload", files=files).json()["path"].endswith(".png")
    url = boot(boot_hero, {"upload_dir": str(tmp_path), "keep_upload_extensions": True})
    kept = requests.post(f"{url}/api/upload", files=files).json()
    assert kept["path"].endswith(".png") and kept["exists"] is True
    odd = requests.post(f"{url}/api/upload", files={"document": ("x.sh;rm -rf", b"#", "text/plain")}).json()
    assert Path(odd["path"]).name.startswith("hero-upload-") and ";" not in odd["path"]
    assert list(tmp_path.iterdir()) == []  # removed after each request


def test_nested_query_params(boot_hero) -> None:
    flat = requests.get(f"{boot(boot_hero)}/api/echo?key[b]=1").json()["params"]
    assert flat == {}  # "key[b]" is no input: scrubbed
    url = boot(boot_hero, {"query_parse": "nested"})
    params = requests.get(f"{url}/api/nested?a[b]=1&a[c][d]=2&list[]=x&list[]=y&plain=p").json()["params"]
    assert params == {"a": {"b": "1", "c": {"d": "2"}}, "list": ["x", "y"], "plain": "p"}
    deep = requests.get(f"{url}/api/nested?a[1][2][3][4][5][6]=x")
    assert deep.status_code == 400 and deep.json()["error"] == "the query param a is nested deeper than 5 levels"


def test_query_parse_must_be_known(boot_hero) -> None:
    from hero.errors import ConfigError
    with pytest.raises(ConfigError, match="web.query_parse"):
        boot(boot_hero, {"query_parse": "qs"})


def test_the_readme_report_example(boot_hero) -> None:
    """README, HTTP: the ``actions/report.py`` block streams its CSV."""
    import re

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    (code,) = [block for block in re.findall(r"^```python\n(.*?)^```", readme, re.M | re.S)
               if block.startswith("# actions/report.py")]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    api = boot_web(boot_hero)
    api.actions.add(namespace["Report"])
    response = requests.get(f"{web_url(api)}/api/report")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv"
    assert response.text == "0,0\n1,1\n2,4\n"
