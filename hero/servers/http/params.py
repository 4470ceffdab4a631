"""Params from an HTTP request (docs/http.md): the query string, then the body.

JSON (an object's keys, or an array as ``payload``), urlencoded forms, and multipart forms whose
files are streamed to ``web.upload_dir`` (each becomes ``{filename, content_type, size, path}``).
Every size is bounded by config and answered 413; malformed input is 400. Uploaded files belong
to one request: :meth:`Uploads.cleanup` removes them, whatever happened.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge

from hero.runtime.json import JSONError, loads

log = logging.getLogger(__name__)

Pairs = Iterable[tuple[str, Any]]


class BodyError(Exception):
    """The request's params cannot be read; answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, *, close: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: The body may be partly unread: the connection must close after the answer.
        self.close = close


class Uploads:
    """The temporary files of one request's multipart body."""

    __slots__ = ("directory", "files", "keep_extensions")

    def __init__(self, directory: str, *, keep_extensions: bool = False) -> None:
        self.directory = directory
        self.files: list[IO[bytes]] = []
        #: ``web.keep_upload_extensions``: the temporary file ends with the client file name's extension.
        self.keep_extensions = keep_extensions

    def __repr__(self) -> str:
        return f"Uploads({len(self.files)} files in {self.directory})"

    def new_file(self, total_content_length: int | None = None, content_type: str | None = None,
                 filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        """werkzeug's ``stream_factory``: a fresh file under a generated name (never the client's)."""
        suffix = upload_suffix(filename) if self.keep_extensions else ""
        handle = tempfile.NamedTemporaryFile("wb+", dir=self.directory, prefix="hero-upload-", suffix=suffix,
                                             delete=False)
        self.files.append(handle)
        return handle

    def cleanup(self) -> None:
        for handle in self.files:
            try:
                handle.close()
            except OSError:
                pass
            try:
                os.unlink(handle.name)
            except FileNotFoundError:
                pass
            except OSError as error:
                log.warning("could not remove upload %s: %s", handle.name, error)
        self.files = []


class ParamReader:
    """Reads params from the query string and body within the ``web`` config's limits."""

    def __init__(self, web: Mapping[str, Any], *, max_json_depth: int = 64) -> None:
        self.max_json_depth = max_json_depth
        self.max_params: int = web["max_params"]
        self.max_body: int = web["max_body_bytes"]
        self.max_upload: int = web["max_upload_bytes"]
        self.max_form_parts: int = web["max_form_parts"]
        self.max_form_memory: int = web["max_form_memory_bytes"]
        self.nested: bool = web["query_parse"] == "nested"
        self.max_depth: int = web["max_query_depth"]
        self.keep_extensions: bool = web["keep_upload_extensions"]
        directory = web["upload_dir"] or tempfile.gettempdir()
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.upload_dir = str(directory)

    def __repr__(self) -> str:
        return f"ParamReader(max_body={self.max_body}, upload_dir={self.upload_dir!r})"

    def query(self, query_string: str) -> list[tuple[str, Any]]:
        if not query_string:
            return []
        pairs = self._parse_urlencoded(query_string)
        return nest(pairs, self.max_depth) if self.nested else pairs

    def _parse_urlencoded(self, text: str) -> list[tuple[str, str]]:
        try:
            return parse_qsl(text, keep_blank_values=True, max_num_fields=self.max_params,
                             encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BodyError(400, "params must be valid UTF-8", close=False) from None
        except ValueError:
            raise BodyError(413, f"too many params ({self.max_params} max)") from None

    def body(self, environ: dict[str, Any], uploads: Uploads) -> Pairs:
        """The params of the body, by its Content-Type; an unknown type gives none."""
        has_body = environ.get("CONTENT_LENGTH", "0") != "0" or environ.get("HTTP_TRANSFER_ENCODING")
        if not has_body:
            return ()
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype == "application/json" or mimetype.endswith("+json"):
            return self._json(self._read(environ))
        if mimetype == "application/x-www-form-urlencoded":
            try:
                text = self._read(environ).decode("utf-8")
            except UnicodeDecodeError:
                raise BodyError(400, "the form body must be valid UTF-8", close=False) from None
            return self._parse_urlencoded(text)
        if mimetype == "multipart/form-data":
            return self._multipart(environ, uploads)
        return ()

    def raw(self, environ: dict[str, Any]) -> bytes:
        """The body's bytes, whatever its type, within ``web.max_body_bytes`` (the MCP endpoint)."""
        return self._read(environ)

    def _read(self, environ: dict[str, Any]) -> bytes:
        length = environ.get("CONTENT_LENGTH")
        if length and int(length) > self.max_body:
            raise BodyError(413, f"the request body is larger than {self.max_body} bytes")
        try:
            raw: bytes = environ["wsgi.input"].read(self.max_body + 1)
        except TimeoutError:
            raise BodyError(408, "the request body was not received in time") from None
        except OSError as error:  # pywsgi's invalid chunked framing, or the client went away
            raise BodyError(400, f"the request body could not be read: {error}") from None
        if len(raw) > self.max_body:
            raise BodyError(413, f"the request body is larger than {self.max_body} bytes")
        return raw

    def _json(self, raw: bytes) -> Pairs:
        if not raw.strip():
            return ()
        try:
            value = loads(raw, max_depth=self.max_json_depth)
        except JSONError as error:
            raise BodyError(400, str(error), close=False) from None
        if isinstance(value, dict):
            if len(value) > self.max_params:
                raise BodyError(413, f"too many params ({self.max_params} max)", close=False)
            return value.items()
        if isinstance(value, list):
            return (("payload", value),)
        raise BodyError(400, "a JSON body must be an object or an array", close=False)

    def _multipart(self, environ: dict[str, Any], uploads: Uploads) -> Pairs:
        # NOTE: lazy: werkzeug's form parser brings its request wrappers (~0.9 MiB with Response, see
        # hero.services.public), which a server that never reads a form never needs (issue 17).
        from werkzeug.formparser import parse_form_data

        try:
            _, form, files = parse_form_data(
                environ, stream_factory=uploads.new_file, max_form_memory_size=self.max_form_memory,
                max_content_length=self.max_upload, max_form_parts=self.max_form_parts, silent=False,
            )
        except RequestEntityTooLarge:
            raise BodyError(413, f"the form is too large ({self.max_upload} bytes, {self.max_form_parts} parts, "
                                 f"{self.max_form_memory} bytes of fields max)") from None
        except TimeoutError:
            raise BodyError(408, "the request body was not received in time") from None
        except (ValueError, OSError) as error:
            raise BodyError(400, f"malformed multipart body: {error or type(error).__name__}") from None
        pairs: list[tuple[str, Any]] = list(form.items(multi=True))
        for key, storage in files.items(multi=True):
            stream = storage.stream
            size = stream.seek(0, os.SEEK_END)  # NOTE: werkzeug rewinds the file after writing it
            stream.close()
            pairs.append((key, {"filename": (storage.filename or "").replace("\x00", ""),
                                "content_type": storage.mimetype or "application/octet-stream",
                                "size": size, "path": stream.name}))
        if len(pairs) > self.max_params:
            raise BodyError(413, f"too many params ({self.max_params} max)", close=False)
        return pairs


def merge(params: dict[str, Any], pairs: Pairs, list_inputs: frozenset[str]) -> None:
    """Add one source's pairs: a repeated key keeps its last value, unless it is a list input."""
    if not list_inputs:
        params.update(pairs)
        return
    lists: dict[str, list[Any]] = {}
    for key, value in pairs:
        if key in list_inputs:
            lists.setdefault(key, []).append(value)
        else:
            params[key] = value
    for key, values in lists.items():
        params[key] = values[0] if len(values) == 1 and isinstance(values[0], list) else values


#: An extension kept on an upload's temporary file: a dot and up to 16 letters or digits.
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,16}")


def upload_suffix(filename: str | None) -> str:
    """``.png`` for ``photo.PNG``-like names; "" for anything else (never a path, never odd bytes)."""
    if not filename:
        return ""
    _, dot, extension = filename.rpartition(".")
    suffix = f".{extension}"
    return suffix.lower() if dot and _EXTENSION.fullmatch(suffix) else ""


_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def nest(pairs: list[tuple[str, str]], max_depth: int) -> list[tuple[str, Any]]:
    """qs-style nesting of query pairs (``web.query_parse = "nested"``): ``a[b][c]=1`` →
    ``("a", {"b": {"c": "1"}})``, ``a[]=1&a[]=2`` → ``("a", ["1", "2"])``. A key deeper than
    ``max_depth`` brackets is a 400; a later plain value replaces an earlier nested one."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        bracket = key.find("[")
        if bracket <= 0 or not key.endswith("]"):
            out[key] = value
            continue
        name, rest = key[:bracket], key[bracket:]
        parts = _BRACKETS.findall(rest)
        if "".join(f"[{part}]" for part in parts) != rest:
            out[key] = value  # NOTE: not well-formed brackets (``a[b``, ``a]b[``): a plain key
            continue
        if len(parts) > max_depth:
            raise BodyError(400, f"the query param {name} is nested deeper than {max_depth} levels", close=False)
        _place(out, [name, *parts], value)
    return list(out.items())


def _place(container: dict[str, Any], path: list[str], value: str) -> None:
    """Put ``value`` at ``path`` (``""`` appends to a list) below ``container``."""
    node: Any = container
    for index, part in enumerate(path):
        last = index == len(path) - 1
        following = path[index + 1] if not last else None
        if isinstance(node, list):
            if part != "":  # NOTE: ``a[]`` then ``a[x]``: a list cannot take a key; the key wins
                return
            if last:
                node.append(value)
                return
            child: Any = [] if following == "" else {}
            node.append(child)
            node = child
            continue
        if last:
            node[part] = value
            return
        child = node.get(part)
        wanted = list if following == "" else dict
        if not isinstance(child, wanted):
            child = wanted()
            node[part] = child
        node = child
