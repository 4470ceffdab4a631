"""What an HTTP client gets back (PROTOCOL §1 statuses, §2 "Response", "Fingerprint", "Headers",
"JSONP", "Hosts", "Health"; reliability.md C1–C4)."""
from __future__ import annotations

import pytest
import requests

from tests.support.web import boot_web, web_url

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def url(boot_hero):
    return web_url(boot_web(boot_hero))


def test_json_answer_with_metadata(url):
    response = requests.get(f"{url}/api/randomNumber")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body)[:2] == ["randomNumber", "stringRandomNumber"]
    server = body["serverInformation"]
    assert server["serverName"] == "hero" and server["apiVersion"] == "1.0.0"
    assert isinstance(server["requestDuration"], int) and server["currentTime"] > 0
    requester = body["requesterInformation"]
    fingerprint = requester["fingerprint"]
    assert len(fingerprint) == 40 and requester["id"] == f"{fingerprint}-{requester['messageId']}"
    assert requester["remoteIP"] == "127.0.0.1"
    assert requester["receivedParams"] == {"action": "randomNumber"}


def test_metadata_can_be_switched_off(boot_hero):
    url = web_url(boot_web(boot_hero, web={"metadata": {"server_information": False,
                                                        "requester_information": False}}))
    assert set(requests.get(f"{url}/api/randomNumber").json()) == {"randomNumber", "stringRandomNumber", "version"}


def test_padding_pretty_prints(boot_hero):
    url = web_url(boot_web(boot_hero, web={"padding": 2}))
    assert requests.get(f"{url}/api/randomNumber").text.startswith('{\n  "randomNumber"')


@pytest.mark.parametrize("path, status, error", [
    ("/api/nope", 404, "unknown action or invalid apiVersion"),
    ("/api/randomNumber?apiVersion=999", 404, "unknown action or invalid apiVersion"),
    ("/api/cacheTest", 422, "key is a required parameter for this action"),
    ("/api/cacheTest?key=ab&value=abcd", 422, "inputs should be at least 3 letters long"),
    ("/api/validationTest?string=abc&number=x", 422, "Failed formatting number correctly!"),
    ("/api/webBlocked", 403, "this action does not support the web connection type"),
    ("/api/slow", 504, "the action timed out"),
    ("/api/fail?how=raise", 500, "broken"),
    ("/api/fail?how=code", 402, "custom code"),
    ("/api/fail?how=teapot", 418, "I am a teapot"),
    ("/api/fail?how=status_then_raise", 402, "payment required"),
])
def test_error_statuses(url, path, status, error):
    response = requests.get(f"{url}{path}")
    assert response.status_code == status
    assert response.json()["error"] == error


def test_an_error_set_by_the_action_is_sent_as_it_is(url):
    response = requests.get(f"{url}/api/fail?how=error_key")
    assert response.status_code == 500
    assert response.json()["error"] == {"reason": "structured"}


def test_too_many_pending_actions_is_429(boot_hero):
    api = boot_web(boot_hero)
    server = api.servers["web"]
    connection = server.build_connection()
    connection.pending_actions = 10
    try:
        data = server.process(connection, {"action": "randomNumber"})
    finally:
        server.destroy_connection(connection)
    assert data.status == 429


def test_a_stopping_server_answers_503(boot_hero):
    api = boot_web(boot_hero)
    url = web_url(api)
    api.processor.stopping = True
    try:
        response = requests.get(f"{url}/api/randomNumber")
        ready = requests.get(f"{url}/readyz")
    finally:
        api.processor.stopping = False
    assert (response.status_code, response.json()["error"]) == (503, "the server is shutting down")
    assert ready.status_code == 503


def test_a_response_that_cannot_be_json_is_500_without_a_traceback(url):
    response = requests.get(f"{url}/api/fail?how=unencodable")
    assert response.status_code == 500
    assert response.json()["error"].startswith("the response could not be encoded as JSON")
    assert "Traceback" not in response.text


def test_return_error_codes_off_answers_200(boot_hero):
    url = web_url(boot_web(boot_hero, web={"return_error_codes": False}))
    response = requests.get(f"{url}/api/nope")
    assert (response.status_code, response.json()["error"]) == (200, "unknown action or invalid apiVersion")
    assert requests.get(f"{url}/api/fail?how=status_then_raise").status_code == 402


def test_actions_set_status_and_headers(url):
    response = requests.get(f"{url}/api/headers")
    assert response.status_code == 201
    assert response.headers["X-Custom"] == "two"
    assert response.headers["X-Powered-By"] == "custom"
    cookies = response.raw.headers.getlist("Set-Cookie")
    assert "a=1" in cookies and "b=2" in cookies


def test_send_file_answers_with_the_file(url):
    response = requests.get(f"{url}/api/sendFile")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert requests.get(f"{url}/api/sendFile?file=../config.py").status_code == 404


def test_extension_mime_type(url):
    response = requests.get(f"{url}/api/mime/picture.png")
    assert response.headers["Content-Type"] == "image/png"
    assert response.json()["key"] == "picture.png"
    assert requests.get(f"{url}/api/mime/thing").headers["Content-Type"].startswith("application/json")


def test_security_headers(url):
    response = requests.get(f"{url}/api/randomNumber")
    assert response.headers["X-Powered-By"] == "hero"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_extra_http_headers(boot_hero):
    url = web_url(boot_web(boot_hero, web={"http_headers": {"X-Frame-Options": "DENY"}}))
    assert requests.get(f"{url}/api/randomNumber").headers["X-Frame-Options"] == "DENY"


def test_fingerprint_cookie_is_set_once_and_kept(url):
    session = requests.Session()
    first = session.get(f"{url}/api/randomNumber")
    cookie = first.headers["Set-Cookie"]
    fingerprint = first.json()["requesterInformation"]["fingerprint"]
    assert cookie == f"sessionID={fingerprint}; Path=/; HttpOnly; SameSite=Lax"
    second = session.get(f"{url}/api/randomNumber")
    assert "Set-Cookie" not in second.headers
    assert second.json()["requesterInformation"]["fingerprint"] == fingerprint
    assert second.json()["requesterInformation"]["messageId"] != first.json()["requesterInformation"]["messageId"]


def test_fingerprint_cookie_is_secure_behind_a_tls_proxy(url):
    response = requests.get(f"{url}/api/randomNumber", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Set-Cookie"].endswith("; Secure")


def test_fingerprint_from_a_header(url):
    response = requests.get(f"{url}/api/randomNumber", headers={"x-sessionID": "abc123"})
    assert response.json()["requesterInformation"]["fingerprint"] == "abc123"


def test_cors_allow_list(boot_hero):
    url = web_url(boot_web(boot_hero, web={"cors_origins": ["https://good.example"]}))
    good = requests.get(f"{url}/api/randomNumber", headers={"Origin": "https://good.example"})
    assert good.headers["Access-Control-Allow-Origin"] == "https://good.example"
    assert good.headers["Vary"] == "Origin"
    bad = requests.get(f"{url}/api/randomNumber", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in bad.headers
    preflight = requests.options(f"{url}/api/randomNumber", headers={"Origin": "https://good.example"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://good.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.content == b""


def test_options_runs_no_action(url):
    response = requests.options(f"{url}/api/fail?how=raise")
    assert response.status_code == 204


def test_trace_is_405(url):
    response = requests.request("TRACE", f"{url}/api/randomNumber")
    assert response.status_code == 405


def test_head_is_get_without_a_body(url):
    response = requests.head(f"{url}/api/randomNumber")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_allowed_hosts_redirect(boot_hero):
    url = web_url(boot_web(boot_hero, web={"allowed_hosts": ["https://www.site.com"]}))
    response = requests.get(f"{url}/api/randomNumber?a=1", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://www.site.com/api/randomNumber?a=1"
    assert response.text == "You are being redirected to https://www.site.com/api/randomNumber?a=1\r\n"
    proxied = requests.get(f"{url}/api/randomNumber", allow_redirects=False,
                           headers={"Host": "www.site.com", "X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_peers(boot_hero):
    trusted = web_url(boot_web(boot_hero))
    response = requests.get(f"{trusted}/api/randomNumber", headers={"X-Forwarded-For": "10.1.2.3, 127.0.0.1"})
    assert response.json()["requesterInformation"]["remoteIP"] == "10.1.2.3"
    # the right-most hop that is not a trusted proxy: what the client wrote itself (left) is not believed
    response = requests.get(f"{trusted}/api/randomNumber", headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3, 127.0.0.1"})
    assert response.json()["requesterInformation"]["remoteIP"] == "10.1.2.3"
    response = requests.get(f"{trusted}/api/randomNumber", headers={"X-Forwarded-For": "6.6.6.6,10.1.2.3"})
    assert response.json()["requesterInformation"]["remoteIP"] == "10.1.2.3"
    response = requests.get(f"{trusted}/api/randomNumber", headers={"X-Forwarded-For": "127.0.0.1, ::1"})
    assert response.json()["requesterInformation"]["remoteIP"] == "127.0.0.1"  # all trusted: the left-most
    untrusted = web_url(boot_web(boot_hero, web={"forwarded_allow_ips": []}))
    response = requests.get(f"{untrusted}/api/randomNumber", headers={"X-Forwarded-For": "10.1.2.3"})
    assert response.json()["requesterInformation"]["remoteIP"] == "127.0.0.1"


@pytest.fixture
def jsonp_url(boot_hero):
    return web_url(boot_web(boot_hero, web={"jsonp": True}))


def test_jsonp_wraps_the_json(jsonp_url):
    response = requests.get(f"{jsonp_url}/api/randomNumber", params={"callback": "my.cb"})
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.text.startswith("/**/ typeof my.cb === 'function' && my.cb({")
    assert response.text.endswith("});")


def test_jsonp_escapes_line_separators(jsonp_url):
    response = requests.get(f"{jsonp_url}/api/echo", params={"callback": "cb", "key": "a\u2028b\u2029c"})
    assert "\\u2028" in response.text and "\\u2029" in response.text
    assert "\u2028" not in response.text


@pytest.mark.parametrize("callback", ["alert(1)//", "<script>", "a;b", "a b", "x" * 300, "a\u2028", "1abc",
                                      "a.b.c.d.e", ""])
def test_jsonp_refuses_bad_callbacks(jsonp_url, callback):
    response = requests.get(f"{jsonp_url}/api/randomNumber", params={"callback": callback})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "callback" in response.json()["error"]


def test_jsonp_is_off_by_default(url):
    response = requests.get(f"{url}/api/randomNumber", params={"callback": "cb"})
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.text.startswith("{")


def test_health_endpoints(url):
    assert requests.get(f"{url}/healthz").json() == {"status": "ok"}
    assert requests.get(f"{url}/readyz").json() == {"status": "ready"}


def test_readyz_is_503_when_the_store_is_down(boot_hero, monkeypatch):
    api = boot_web(boot_hero)
    monkeypatch.setattr(api.redis, "ping", lambda: False)
    response = requests.get(f"{web_url(api)}/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_web_stats_in_the_status_action(url):
    requests.get(f"{url}/api/randomNumber")
    stats = requests.get(f"{url}/api/status").json()["stats"]
    assert stats["servers"]["web"]["requests"] >= 2
    assert stats["requests"]["local"]["web:requests"] >= 2


def test_redis_backed_app_serves_http(boot_hero):
    url = web_url(boot_web(boot_hero, redis=True))
    response = requests.get(f"{url}/api/cacheTest", params={"key": "abc", "value": "defg"})
    assert response.json()["cacheTestResults"]["loadResp"]["value"] == "defg"
