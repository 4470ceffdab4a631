"""Static files: StaticFiles called directly on tmp_path trees (PROTOCOL §2, reliability.md S1–S8)."""
from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest
from werkzeug.http import http_date
from werkzeug.test import EnvironBuilder

from hero.errors import HeroError
from hero.services.public import NOT_FOUND_TEXT, StaticFiles

INDEX = b"<h1>hero</h1>\n"
SIMPLE = b"<h1>simple</h1>\nI am a flat file being served to you via the API from ./public/<br />\n"
SECRET = b"top secret\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/public (the root) beside tmp/secret.txt, tmp/public-secret/x and tmp/outside/."""
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "empty").mkdir()
    (public / "index.html").write_bytes(INDEX)
    (public / "simple.html").write_bytes(SIMPLE)
    (public / "sub" / "index.html").write_bytes(b"<p>sub</p>")
    (public / "sub" / "app.js").write_bytes(b"console.log('hero');\n" * 40)
    (public / "image.png").write_bytes(b"\x89PNG" + bytes(1000))
    (public / "100%.txt").write_bytes(b"percent")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "public-secret").mkdir()
    (tmp_path / "public-secret" / "x").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    return public


@pytest.fixture
def static(tree: Path) -> StaticFiles:
    return StaticFiles(tree, cache_seconds=60)


def environ(method: str = "GET", **headers: str) -> dict:
    return EnvironBuilder(path="/public/x", method=method, headers=headers).get_environ()


def body_of(body) -> bytes:
    if isinstance(body, bytes):
        return body
    try:
        return b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()


def get(static: StaticFiles, path: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    status, header_list, body = static.respond(environ(method, **headers), path)
    names = [name.lower() for name, _ in header_list]
    assert len(names) == len(set(names)), f"duplicate headers: {header_list}"
    return status, {name.lower(): value for name, value in header_list}, body_of(body)


def assert_not_found(static: StaticFiles, path: str) -> None:
    assert static.resolve(path) is None
    status, headers, body = get(static, path)
    assert (status, body) == (404, NOT_FOUND_TEXT.encode())
    assert headers["content-type"].startswith("text/html")
    with pytest.raises(HeroError) as caught:
        static.read(path)
    assert (caught.value.status, caught.value.message) == (404, "that file is not found")


# --- serving ----------------------------------------------------------------------------------


def test_a_file_is_served_with_its_caching_headers(static: StaticFiles) -> None:
    status, headers, body = get(static, "simple.html")
    assert status == 200
    assert body == SIMPLE
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-length"] == str(len(SIMPLE))
    assert headers["cache-control"] == "max-age=60, must-revalidate, public"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert headers["last-modified"].endswith("GMT")
    assert headers["accept-ranges"] == "bytes"


def test_cache_seconds_come_from_the_constructor(tree: Path) -> None:
    status, headers, _ = get(StaticFiles(tree, cache_seconds=5), "simple.html")
    assert headers["cache-control"] == "max-age=5, must-revalidate, public"


def test_a_folder_serves_its_index_html(static: StaticFiles, tree: Path) -> None:
    for path in ("", "sub", "sub/", "sub/../sub", "./"):
        status, _, body = get(static, path)
        assert status == 200, path
        assert body == (INDEX if path in ("", "./") else b"<p>sub</p>")
    assert static.resolve("") == (tree / "index.html").resolve()


def test_dotdot_that_stays_inside_the_root_is_served(static: StaticFiles) -> None:
    assert get(static, "sub/../simple.html")[2] == SIMPLE


def test_a_folder_without_index_is_404_never_a_listing(static: StaticFiles) -> None:
    assert_not_found(static, "empty")
    assert_not_found(static, "empty/")


def test_a_missing_file_is_404_text_html(static: StaticFiles) -> None:
    assert_not_found(static, "nope.html")
    assert_not_found(static, "sub/nope/deeper.js")


def test_a_percent_in_a_real_file_name_is_not_decoded_again(static: StaticFiles) -> None:
    assert get(static, "100%.txt")[2] == b"percent"


def test_mime_types_follow_the_extension(static: StaticFiles) -> None:
    assert get(static, "image.png")[1]["content-type"] == "image/png"
    assert "javascript" in get(static, "sub/app.js")[1]["content-type"]


# --- nothing outside the root (S1–S6, S8) ------------------------------------------------------

TRAVERSALS = [
    "../secret.txt",
    "..",
    "../",
    "sub/../../secret.txt",
    "./../secret.txt",
    "%2e%2e/secret.txt",            # already decoded once: a literal name now, never decoded again
    "%2e%2e%2fsecret.txt",
    "..%2fsecret.txt",
    "%252e%252e/secret.txt",
    "sub/%2e%2e/%2e%2e/secret.txt",
    "....//secret.txt",
    "..\\secret.txt",
    "sub\\..\\..\\secret.txt",
    "/etc/passwd",
    "//etc/passwd",
    "///etc/passwd",
    "../public-secret/x",           # sibling prefix of the root
    "../public/../secret.txt",
    "..;/secret.txt",
    "%c0%ae%c0%ae/secret.txt",
    "\u2025/secret.txt",
    "simple.html\x00.png",
    "\x00",
    "../" * 10 + "etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_the_root_is_served(static: StaticFiles, path: str) -> None:
    assert_not_found(static, path)


def test_an_absolute_path_to_a_real_file_is_refused(static: StaticFiles, tree: Path) -> None:
    assert_not_found(static, str(tree.parent / "secret.txt"))
    assert_not_found(static, str(tree / "simple.html"))  # even inside the root: paths are relative


def test_ten_thousand_dotdot_segments_are_refused_fast(static: StaticFiles) -> None:
    started = time.perf_counter()
    assert_not_found(static, "../" * 10_000 + "etc/passwd")
    assert_not_found(static, "../" * 1_300 + "etc/passwd")  # under the length cap: safe_join refuses it
    assert_not_found(static, "a/" * 2_000 + "../" * 2_001 + "secret.txt")
    assert time.perf_counter() - started < 0.5


def test_a_symlink_leaving_the_root_is_refused(static: StaticFiles, tree: Path) -> None:
    (tree / "link.txt").symlink_to(tree.parent / "secret.txt")
    (tree / "linkdir").symlink_to(tree.parent / "outside", target_is_directory=True)
    assert_not_found(static, "link.txt")
    assert_not_found(static, "linkdir/secret.txt")


def test_an_index_html_symlinked_out_of_the_root_is_refused(static: StaticFiles, tree: Path) -> None:
    (tree / "trap").mkdir()
    (tree / "trap" / "index.html").symlink_to(tree.parent / "secret.txt")
    assert_not_found(static, "trap")
    assert_not_found(static, "trap/")


def test_symlinks_inside_the_root_are_followed(static: StaticFiles, tree: Path) -> None:
    (tree / "alias.html").symlink_to(tree / "simple.html")
    (tree / "aliasdir").symlink_to(tree / "sub", target_is_directory=True)
    assert get(static, "alias.html")[2] == SIMPLE
    assert get(static, "aliasdir/")[2] == b"<p>sub</p>"


def test_follow_symlinks_outside_root_opts_in_but_keeps_dotdot_out(tree: Path) -> None:
    (tree / "link.txt").symlink_to(tree.parent / "secret.txt")
    static = StaticFiles(tree, follow_symlinks_outside_root=True)
    assert get(static, "link.txt")[2] == SECRET
    assert_not_found(static, "../secret.txt")
    assert_not_found(static, "../public-secret/x")


def test_a_root_that_is_itself_a_symlink_works(tree: Path) -> None:
    alias = tree.parent / "public-alias"
    alias.symlink_to(tree, target_is_directory=True)
    static = StaticFiles(alias)
    assert get(static, "simple.html")[2] == SIMPLE
    assert_not_found(static, "../secret.txt")


def test_a_symlink_loop_is_404(static: StaticFiles, tree: Path) -> None:
    (tree / "loop").symlink_to(tree / "loop")
    (tree / "ping").symlink_to(tree / "pong")
    (tree / "pong").symlink_to(tree / "ping")
    assert_not_found(static, "loop")
    assert_not_found(static, "ping/x")


@pytest.mark.timeout(5)
def test_a_fifo_is_404_and_never_hangs(static: StaticFiles, tree: Path) -> None:
    os.mkfifo(tree / "fifo")
    assert_not_found(static, "fifo")


def test_a_device_is_404_even_when_symlinks_may_leave_the_root(tree: Path) -> None:
    (tree / "null").symlink_to("/dev/null")
    (tree / "zero").symlink_to("/dev/zero")
    static = StaticFiles(tree, follow_symlinks_outside_root=True)
    assert_not_found(static, "null")
    assert_not_found(static, "zero")


# --- conditional requests, HEAD, ranges (S7) ----------------------------------------------------


def test_if_none_match_gives_304_without_a_body(static: StaticFiles) -> None:
    etag = get(static, "simple.html")[1]["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, headers, body = get(static, "simple.html", **{"If-None-Match": value})
        assert (status, body) == (304, b""), value
        assert headers["etag"] == etag
        assert "content-length" not in headers
    assert get(static, "simple.html", **{"If-None-Match": '"something-else"'})[0] == 200


def test_the_etag_changes_when_the_file_does(static: StaticFiles, tree: Path) -> None:
    etag = get(static, "simple.html")[1]["etag"]
    (tree / "simple.html").write_bytes(SIMPLE + b"more")
    status, headers, body = get(static, "simple.html", **{"If-None-Match": etag})
    assert status == 200 and body == SIMPLE + b"more" and headers["etag"] != etag


def test_if_modified_since_gives_304(static: StaticFiles, tree: Path) -> None:
    last_modified = get(static, "simple.html")[1]["last-modified"]
    assert get(static, "simple.html", **{"If-Modified-Since": last_modified})[0] == 304
    later = http_date(time.time() + 3600)
    assert get(static, "simple.html", **{"If-Modified-Since": later})[:3:2] == (304, b"")
    earlier = http_date(os.stat(tree / "simple.html").st_mtime - 3600)
    assert get(static, "simple.html", **{"If-Modified-Since": earlier})[2] == SIMPLE


def test_a_garbage_if_modified_since_is_ignored(static: StaticFiles) -> None:
    for garbage in ("yesterday", "Mon, 99 Foo 2026 99:99:99 GMT", "\x7f" * 50, "0"):
        assert get(static, "simple.html", **{"If-Modified-Since": garbage})[0] == 200


def test_head_has_the_headers_and_no_body(static: StaticFiles) -> None:
    status, headers, body = get(static, "simple.html", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(SIMPLE))
    assert headers["content-type"] == "text/html; charset=utf-8"


def test_a_single_range_is_served(static: StaticFiles) -> None:
    status, headers, body = get(static, "simple.html", Range="bytes=0-4")
    assert (status, body) == (206, SIMPLE[:5])
    assert headers["content-range"] == f"bytes 0-4/{len(SIMPLE)}"


@pytest.mark.parametrize("value", ["bytes=" + ",".join(["0-"] * 1000), "bytes=5-1", "bytes=9999-", "nonsense"])
def test_bad_or_multiple_ranges_are_416_or_200(static: StaticFiles, value: str) -> None:
    status, headers, body = get(static, "simple.html", Range=value)
    assert status in (200, 416)
    assert body == (SIMPLE if status == 200 else b"")
    if status == 416:
        assert headers["content-range"] == f"bytes */{len(SIMPLE)}"


def test_a_big_file_streams_in_chunks(static: StaticFiles, tree: Path) -> None:
    data = os.urandom(1024 * 1024 + 5)
    (tree / "big.bin").write_bytes(data)
    status, headers, body = static.respond(environ(), "big.bin")
    assert status == 200 and headers and not isinstance(body, bytes)
    chunks = list(body)
    body.close()
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= static.chunk_bytes
    assert dict((k.lower(), v) for k, v in headers)["content-length"] == str(len(data))


# --- gzip ---------------------------------------------------------------------------------------


def test_gzip_when_enabled_and_accepted(tree: Path) -> None:
    static = StaticFiles(tree, compress=True)
    plain_etag = get(static, "sub/app.js")[1]["etag"]
    status, headers, body = get(static, "sub/app.js", **{"Accept-Encoding": "gzip, deflate"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(body))
    assert gzip.decompress(body) == (tree / "sub" / "app.js").read_bytes()
    assert headers["etag"] != plain_etag
    again = get(static, "sub/app.js", **{"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})
    assert again[0] == 304


def test_no_gzip_when_refused_disabled_small_or_already_compressed(tree: Path) -> None:
    on, off = StaticFiles(tree, compress=True), StaticFiles(tree, compress=False)
    cases = [(on, "sub/app.js", "gzip;q=0"), (on, "sub/app.js", "br"), (off, "sub/app.js", "gzip"),
             (on, "image.png", "gzip"), (on, "sub/index.html", "gzip")]
    for static, path, accept in cases:
        status, headers, body = get(static, path, **{"Accept-Encoding": accept})
        assert status == 200 and "content-encoding" not in headers, (path, accept)
        assert body == (tree / path).read_bytes()


def test_gzip_of_a_big_file_streams(tree: Path) -> None:
    text = b"".join(b"line %d of a large text file\n" % n for n in range(80_000))
    (tree / "big.txt").write_bytes(text)
    static = StaticFiles(tree, compress=True)
    status, headers, body = get(static, "big.txt", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and "content-length" not in headers
    assert gzip.decompress(body) == text
    status, headers, body = get(static, "big.txt", method="HEAD", **{"Accept-Encoding": "gzip"})
    assert (status, body) == (200, b"")


# --- the `file` verb ----------------------------------------------------------------------------


def test_read_returns_content_mime_length_and_last_modified(static: StaticFiles, tree: Path) -> None:
    os.utime(tree / "simple.html", (499162500, 499162500))
    result = static.read("simple.html")
    assert result == {"content": SIMPLE.decode(), "mime": "text/html", "length": len(SIMPLE),
                      "lastModified": "1985-10-26T08:15:00.000Z"}
    assert static.read("")["content"] == INDEX.decode()


def test_read_refuses_a_file_larger_than_its_limit(static: StaticFiles) -> None:
    static.max_read_bytes = 10
    with pytest.raises(HeroError) as caught:
        static.read("simple.html")
    assert caught.value.status == 413


def test_repr_names_the_root(static: StaticFiles, tree: Path) -> None:
    assert str(tree) in repr(static)


# --- over HTTP, through hero's web server ---------------------------------------------------------

REPO_PUBLIC = Path(__file__).resolve().parents[2] / "public"
#: Raw request targets (sent as they are: an HTTP client would normalise the dots away).
HTTP_TRAVERSALS = [
    "/public/../config.py",
    "/public/%2e%2e/config.py",
    "/public/%2e%2e%2fconfig.py",
    "/public/..%2fconfig.py",
    "/public/%252e%252e/config.py",
    "/public/%252e%252e%252fconfig.py",
    "/public/....//config.py",
    "/public/..%5cconfig.py",
    "/public/..\\config.py",
    "/public//etc/passwd",
    "/public/%2fetc%2fpasswd",
    "/public/%00",
    "/public/simple.html%00.png",
    "/public/%c0%ae%c0%ae/config.py",
    "/public/" + "../" * 10_000 + "etc/passwd",
    "/../config.py",
    "/%2e%2e/config.py",
]


def raw_get(address: tuple[str, int], target: str, *headers: str) -> tuple[int, bytes]:
    """Send one request line as given; return the status and the body."""
    import socket

    with socket.create_connection(address, timeout=5) as sock:
        lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers, "", ""]
        sock.sendall("\r\n".join(lines).encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def web(boot_hero) -> tuple[str, tuple[str, int]]:
    api = boot_hero()
    server = api.servers["web"]
    return server.url.rstrip("/"), server.address


@pytest.mark.timeout(30)
def test_http_root_serves_index_html(web) -> None:
    import requests

    base, _ = web
    response = requests.get(base + "/", timeout=5)
    assert response.status_code == 200
    assert response.content == (REPO_PUBLIC / "index.html").read_bytes()
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "max-age=60, must-revalidate, public"


@pytest.mark.timeout(30)
def test_http_public_file_304_and_head(web) -> None:
    import requests

    base, _ = web
    response = requests.get(base + "/public/simple.html", timeout=5)
    assert response.status_code == 200
    assert response.content == (REPO_PUBLIC / "simple.html").read_bytes()
    etag, last_modified = response.headers["ETag"], response.headers["Last-Modified"]
    again = requests.get(base + "/public/simple.html", headers={"If-None-Match": etag}, timeout=5)
    assert (again.status_code, again.content) == (304, b"")
    again = requests.get(base + "/public/simple.html", headers={"If-Modified-Since": last_modified}, timeout=5)
    assert again.status_code == 304
    head = requests.head(base + "/public/simple.html", timeout=5)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == response.headers["Content-Length"]
    for page in ("docs.html", "chat.html", ""):
        assert requests.get(f"{base}/public/{page}", timeout=5).status_code == 200, page


@pytest.mark.timeout(30)
def test_http_missing_file_is_404(web) -> None:
    import requests

    base, _ = web
    response = requests.get(base + "/public/nope.html", timeout=5)
    assert (response.status_code, response.text) == (404, "that file is not found")
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.timeout(30)
def test_http_traversals_never_leave_public(web) -> None:
    _, address = web
    secret = (REPO_PUBLIC.parent / "config.py").read_bytes()
    for target in HTTP_TRAVERSALS:
        status, body = raw_get(address, target)
        assert status in (400, 404, 414), (target, status)
        assert b"server_name" not in body and b"root:" not in body and secret not in body, target
    assert raw_get(address, "/public/simple.html")[0] == 200  # and the server still serves


@pytest.mark.timeout(30)
def test_http_gzip_when_configured(boot_hero) -> None:
    import requests

    api = boot_hero({"web": {"compress": True}})
    base = api.servers["web"].url.rstrip("/")
    response = requests.get(base + "/public/docs.html", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == (REPO_PUBLIC / "docs.html").read_bytes()  # requests gunzips it
    plain = requests.get(base + "/public/docs.html", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in plain.headers


# The pages themselves (public/*.html) are tested in a real Chromium: tests/browser/test_pages.py.
