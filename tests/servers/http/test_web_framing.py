"""Request framing (issue 15): chunk sizes are 1*HEXDIG and nothing else, and an upgrade to
something other than a WebSocket is an ordinary request, framed by its own headers."""
from __future__ import annotations

import pytest
from tests.support.web import boot_web, raw_exchange, status_of

pytestmark = pytest.mark.timeout(30)

OK = b"GET /api/randomNumber HTTP/1.1\r\nHost: x\r\n\r\n"
CHUNKED = b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"


@pytest.fixture
def address(boot_hero):
    return boot_web(boot_hero).servers["web"].address


BAD_SIZES = {
    "0x prefix": b"0x2\r\n{}\r\n0\r\n\r\n",
    "plus sign": b"+2\r\n{}\r\n0\r\n\r\n",
    "minus sign": b"-1\r\n{}\r\n0\r\n\r\n",
    "trailing space": b"2 \r\n{}\r\n0\r\n\r\n",
    "leading space": b" 2\r\n{}\r\n0\r\n\r\n",
    "empty size": b"\r\n{}\r\n0\r\n\r\n",
    "extension without a size": b";a=b\r\n{}\r\n0\r\n\r\n",
    "17 digits": b"00000000000000002\r\n{}\r\n0\r\n\r\n",
    "empty extension": b"2;\r\n{}\r\n0\r\n\r\n",
    "extension with a space in a token": b"2;a b\r\n{}\r\n0\r\n\r\n",
    "extension with an empty value": b"2;a=\r\n{}\r\n0\r\n\r\n",
    "extension with a bad character": b"2;a=b@c\r\n{}\r\n0\r\n\r\n",
    "unterminated quoted value": b"2;a=\"b\r\n{}\r\n0\r\n\r\n",
    "bare LF after the size": b"2\n{}\r\n0\r\n\r\n",
    "missing CRLF after the data": b"2\r\n{}0\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BAD_SIZES))
def test_a_chunk_size_that_is_not_plain_hex_is_400_and_closed(address, name):
    answer = raw_exchange(address, CHUNKED + BAD_SIZES[name] + OK)
    assert status_of(answer) == 400, answer[:300]
    assert b"Connection: close" in answer
    assert answer.count(b"HTTP/1.1 ") == 1  # the request behind it never ran


@pytest.mark.parametrize("size", [b"2", b"02", b"0000000000000002", b"2;name=value", b'2;a="quoted; value"',
                                  b"2;a;b=c"])
def test_valid_chunk_sizes_are_read(address, size):
    answer = raw_exchange(address, CHUNKED + size + b"\r\n{}\r\n0\r\n\r\n" + OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert answer.count(b"HTTP/1.1 200") == 2, answer[:400]


def test_an_upgrade_to_something_else_is_an_ordinary_request(address):
    body = b"key=abcdef&value=ghijkl"
    pipeline = (b"POST /api/cacheTest HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                + b"GET /api/randomNumber HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = raw_exchange(address, pipeline)
    assert answer.count(b"HTTP/1.1 200") == 2, answer[:600]
    first, _, second = answer.partition(b"HTTP/1.1 200")[2].partition(b"HTTP/1.1 200")
    assert b"cacheTestResults" in first and b"randomNumber" in second
