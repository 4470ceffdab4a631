"""Params over HTTP (PROTOCOL §2 "Params", reliability.md J1–J7, L5, U2): query, JSON, forms, uploads."""
from __future__ import annotations

import os
import socket

import pytest
import requests

from tests.support.web import UploadThenFail, boot_web, raw_exchange, status_of, web_url

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def api(boot_hero, tmp_path):
    return boot_web(boot_hero, web={"upload_dir": str(tmp_path / "uploads"), "max_body_bytes": 4096,
                                    "max_upload_bytes": 100_000, "max_params": 50})


@pytest.fixture
def url(api):
    return web_url(api)


def echo(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["params"]


def test_query_params(url):
    assert echo(requests.get(f"{url}/api/echo", params={"key": "a", "value": "b"})) == {"key": "a", "value": "b"}


def test_undeclared_params_are_scrubbed(url):
    body = requests.get(f"{url}/api/echo", params={"key": "a", "junk": "x"}).json()
    assert body["params"] == {"key": "a"}
    assert body["requesterInformation"]["receivedParams"] == {"key": "a", "action": "echo"}


def test_a_repeated_key_keeps_the_last_value(url):
    assert echo(requests.get(f"{url}/api/echo?key=first&key=last")) == {"key": "last"}


def test_a_repeated_list_input_keeps_every_value(url):
    assert echo(requests.get(f"{url}/api/echo?tags=a&tags=b")) == {"tags": ["a", "b"]}
    assert echo(requests.get(f"{url}/api/echo?tags=a")) == {"tags": ["a"]}


def test_json_object_body(url):
    assert echo(requests.post(f"{url}/api/echo", json={"key": "a", "tags": ["x", "y"]})) == {"key": "a", "tags": ["x", "y"]}


def test_json_array_body_is_the_payload(url):
    assert echo(requests.post(f"{url}/api/echo", json=[1, 2, 3])) == {"payload": [1, 2, 3]}


def test_body_overrides_query(url):
    assert echo(requests.post(f"{url}/api/echo?key=q&value=q", json={"key": "b"})) == {"key": "b", "value": "q"}


def test_duplicate_json_keys_last_wins(url):
    response = requests.post(f"{url}/api/echo", data=b'{"key": 1, "key": 2}',
                             headers={"Content-Type": "application/json"})
    assert echo(response) == {"key": 2}


def test_empty_json_body_is_no_params(url):
    assert echo(requests.post(f"{url}/api/echo", data=b"", headers={"Content-Type": "application/json"})) == {}


@pytest.mark.parametrize("raw", [b"{not json", b"[" * 100_000, b'{"a":' * 5000, b"NaN", b'{"a": Infinity}',
                                 b'"\\ud800"', b"\xff\xfe", b"1" * 5000 + b"1"])
def test_bad_json_is_400(url, raw):
    response = requests.post(f"{url}/api/echo", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 413)
    assert isinstance(response.json()["error"], str)


def test_a_json_scalar_is_400(url):
    response = requests.post(f"{url}/api/echo", data=b"42", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": "a JSON body must be an object or an array"}


def test_urlencoded_body(url):
    assert echo(requests.post(f"{url}/api/echo", data={"key": "a", "tags": ["x", "y"]})) == {"key": "a", "tags": ["x", "y"]}


def test_invalid_utf8_in_query_is_400(url):
    assert requests.get(f"{url}/api/echo?key=%ff").status_code == 400


def test_too_many_params_is_413(url):
    query = "&".join(f"k{i}=1" for i in range(100))
    assert requests.get(f"{url}/api/echo?{query}").status_code == 413
    assert requests.post(f"{url}/api/echo", json={f"k{i}": 1 for i in range(100)}).status_code == 413


def test_body_over_the_limit_is_413_and_closes(api, url):
    response = requests.post(f"{url}/api/echo", json={"key": "x" * 5000})
    assert response.status_code == 413
    assert response.headers["Connection"] == "close"


def test_chunked_body_over_the_limit_is_413(url):
    def chunks():
        for _ in range(10):
            yield b'{"key": "' + b"x" * 1000 + b'"}'

    response = requests.post(f"{url}/api/echo", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_chunked_json_body_within_the_limit(url):
    response = requests.post(f"{url}/api/echo", data=iter([b'{"key":', b' "chunked"}']),
                             headers={"Content-Type": "application/json"})
    assert echo(response) == {"key": "chunked"}


def test_expect_100_continue_over_the_limit_is_413_before_the_body(api):
    answer = raw_exchange(api.servers["web"].address, b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n")
    assert status_of(answer) == 413
    assert b"100 Continue" not in answer


def test_multipart_upload_becomes_an_object_and_is_removed_after(url, tmp_path):
    content = b"hello upload\n" * 100
    response = requests.post(f"{url}/api/echo", data={"key": "k"},
                             files={"upload": ("../../etc/cron.d/x.txt", content, "text/plain")})
    params = echo(response)
    upload = params["upload"]
    assert params["key"] == "k"
    assert upload["filename"] == "../../etc/cron.d/x.txt"
    assert upload["content_type"] == "text/plain"
    assert upload["size"] == len(content)
    assert os.path.dirname(upload["path"]) == str(tmp_path / "uploads")
    assert not os.path.exists(upload["path"])
    assert os.listdir(tmp_path / "uploads") == []


def test_an_empty_upload(url):
    upload = echo(requests.post(f"{url}/api/echo", files={"upload": ("empty.bin", b"")}))["upload"]
    assert upload["size"] == 0


def test_uploads_are_removed_when_the_action_fails(url, tmp_path):
    UploadThenFail.seen.clear()
    response = requests.post(f"{url}/api/uploadThenFail", files={"upload": ("a.txt", b"data")})
    assert response.status_code == 500
    assert UploadThenFail.seen and not os.path.exists(UploadThenFail.seen[0])
    assert os.listdir(tmp_path / "uploads") == []


def test_uploads_over_the_limit_are_413_and_removed(url, tmp_path):
    response = requests.post(f"{url}/api/echo", files={"upload": ("big.bin", b"x" * 200_000)})
    assert response.status_code == 413
    assert os.listdir(tmp_path / "uploads") == []


def test_an_upload_aborted_midway_leaves_no_file(api, url, tmp_path):
    boundary = b"xyz"
    head = (b"--xyz\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    with socket.create_connection(api.servers["web"].address, timeout=3) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 90000\r\n"
                     b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n\r\n" + head + b"x" * 20_000)
    # the server notices the abort and cleans up; a following request proves it is still serving
    for _ in range(50):
        requests.get(f"{url}/healthz")
        if not os.listdir(tmp_path / "uploads"):
            break
        import gevent

        gevent.sleep(0.05)
    assert os.listdir(tmp_path / "uploads") == []


def test_malformed_multipart_is_400(url):
    response = requests.post(f"{url}/api/echo", data=b"--nope\r\ngarbage",
                             headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert response.status_code in (200, 400)  # werkzeug reads a body without parts as no params
    response = requests.post(f"{url}/api/echo", data=b"x", headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 400


def test_route_captures_win_over_uploads_and_forms(url):
    assert echo(requests.post(f"{url}/api/things/route", data={"key": "form"})) == {"key": "route"}


def test_other_content_types_give_no_params(url):
    assert echo(requests.post(f"{url}/api/echo?key=q", data=b"key=body", headers={"Content-Type": "text/plain"})) == {
        "key": "q"}


def test_get_bodies_are_not_read_for_params(url):
    assert echo(requests.get(f"{url}/api/echo", json={"key": "body"})) == {}
