"""Static files from one folder (docs/http.md, Static files).

    static = StaticFiles(config.path("public"), cache_seconds=60)
    status, headers, body = static.respond(environ, "simple.html")   # HTTP
    static.read("simple.html")                                       # the WebSocket / TCP ``file`` verb

Nothing outside the folder is ever served. The path is checked twice: lexically (werkzeug's
``safe_join``: no ``..``, no absolute path, no backslash, no NUL) and then on the real path
(``os.path.commonpath`` against the real root, so sibling prefixes and symlinks that leave the
folder are refused). Only regular files are opened, with ``O_NOFOLLOW | O_NONBLOCK`` and an
``fstat`` check, so a FIFO or device never hangs a greenlet and a symlink swapped in after the
check is not followed.
"""
from __future__ import annotations

import gzip
import logging
import mimetypes
import os
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date, is_resource_modified, parse_accept_header
from werkzeug.security import safe_join

from hero.errors import HeroError

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

Body = bytes | Iterable[bytes]

#: The body of every 404 (actionhero's text).
NOT_FOUND_TEXT = "that file is not found"
NOT_FOUND_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(NOT_FOUND_TEXT)))]

#: Types worth compressing (anything else, e.g. images, is already compressed).
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/xml", "image/svg+xml",
                "application/wasm", "application/manifest+json")

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class StaticFiles:
    """Serves the regular files below ``root``; a folder serves its ``index.html``."""

    #: Requests whose path is longer than this are refused at once (10 000 ``../`` included).
    max_path_chars: int = 4096
    #: Bytes per chunk when a file is streamed.
    chunk_bytes: int = 64 * 1024
    #: Files smaller than this are never gzipped (the header costs more than it saves).
    gzip_min_bytes: int = 256
    #: Gzipped in memory up to this size (with a Content-Length); larger files are gzipped as they stream.
    gzip_in_memory_bytes: int = 1024 * 1024
    #: Largest file :meth:`read` loads into one message (the WebSocket / TCP ``file`` verb).
    max_read_bytes: int = 10 * 1024 * 1024

    def __init__(self, root: Path, *, cache_seconds: int = 60, compress: bool = False,
                 follow_symlinks_outside_root: bool = False, max_read_bytes: int | None = None,
                 max_path_chars: int | None = None, enable_etag: bool = True,
                 not_found_message: str = NOT_FOUND_TEXT) -> None:
        self.root = Path(root)
        #: The root with every symlink resolved: what a served file's real path must stay under.
        self.real_root = os.path.realpath(self.root)
        self.cache_seconds = int(cache_seconds)
        self.compress = compress
        self.follow_symlinks_outside_root = follow_symlinks_outside_root
        self.cache_control = f"max-age={self.cache_seconds}, must-revalidate, public"
        self.enable_etag = enable_etag
        self.not_found_message = not_found_message
        self.not_found_body = not_found_message.encode()
        self.not_found_headers = [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(self.not_found_body)))]
        if max_read_bytes is not None:
            self.max_read_bytes = max_read_bytes
        if max_path_chars is not None:
            self.max_path_chars = max_path_chars

    @classmethod
    def from_config(cls, root: Path, web: Mapping[str, Any]) -> StaticFiles:
        """Built from the ``web`` config namespace (``file_cache_seconds``, ``compress``, ...)."""
        return cls(root, cache_seconds=web.get("file_cache_seconds", 60), compress=web.get("compress", False),
                   follow_symlinks_outside_root=web.get("follow_symlinks_outside_root", False),
                   max_read_bytes=web.get("max_file_read_bytes"), max_path_chars=web.get("max_file_path_chars"),
                   enable_etag=web.get("enable_etag", True),
                   not_found_message=web.get("file_not_found_message") or NOT_FOUND_TEXT)

    @classmethod
    def for_folders(cls, roots: Sequence[Path], web: Mapping[str, Any]) -> StaticFiles | StaticChain:
        """The engine for the app's public folder, then the plugins' (the first that has the file serves it)."""
        engines = [cls.from_config(root, web) for root in roots]
        return engines[0] if len(engines) == 1 else StaticChain(engines)

    def __repr__(self) -> str:
        return f"StaticFiles({str(self.root)!r}, cache_seconds={self.cache_seconds}, compress={self.compress})"

    # --- finding the file -------------------------------------------------------------------

    def resolve(self, relative_path: str) -> Path | None:
        """The real path of the regular file to serve for ``relative_path``, or None.

        ``relative_path`` has been percent-decoded once by the caller and is never decoded again,
        so ``%2e%2e`` left in it is a (missing) file name, not a way up.
        """
        if len(relative_path) > self.max_path_chars or "\x00" in relative_path or "\\" in relative_path:
            return None
        joined = safe_join(self.real_root, relative_path)
        if joined is None:
            return None
        try:
            if os.path.isdir(joined):
                joined = os.path.join(joined, "index.html")
            real = os.path.realpath(joined)
            if not self._inside_root(real):
                return None
            if not stat.S_ISREG(os.stat(real).st_mode):
                return None
        except (OSError, ValueError):  # ELOOP, ENAMETOOLONG, surrogates that cannot be encoded
            return None
        return Path(real)

    def _inside_root(self, real: str) -> bool:
        if self.follow_symlinks_outside_root:
            return True  # NOTE: the lexical check above still keeps `..` and absolute paths out
        try:
            return os.path.commonpath([self.real_root, real]) == self.real_root
        except ValueError:
            return False

    def _open(self, relative_path: str) -> tuple[IO[bytes], os.stat_result, Path] | None:
        """Open the file for ``relative_path`` (a regular file, checked on the open descriptor)."""
        path = self.resolve(relative_path)
        if path is None:
            return None
        try:
            descriptor = os.open(path, _OPEN_FLAGS)
        except OSError:
            return None
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                os.close(descriptor)
                return None
            # NOTE: O_NONBLOCK only mattered for open() (a FIFO would block there); regular
            # files ignore it, and clearing it keeps reads plain.
            os.set_blocking(descriptor, True)
            return os.fdopen(descriptor, "rb"), info, path
        except OSError:
            os.close(descriptor)
            return None

    # --- HTTP -------------------------------------------------------------------------------

    def respond(self, environ: dict[str, Any], relative_path: str) -> tuple[int, list[tuple[str, str]], Body]:
        """The HTTP answer for ``relative_path``: status, headers and body.

        200 (or 206 for one satisfiable ``Range``) with Content-Type, Content-Length, Cache-Control,
        ETag and Last-Modified; 304 when ``If-None-Match`` / ``If-Modified-Since`` match; 416 for an
        unsatisfiable range; 404 ``that file is not found``. A HEAD, 304 or 416 has an empty body.
        A streamed body has a ``close()``: the caller returns it as the WSGI iterable (or closes it).
        """
        opened = self._open(relative_path)
        if opened is None:
            return 404, list(self.not_found_headers), self.not_found_body
        file, info, path = opened
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        compressible = self.compress and mime.startswith(COMPRESSIBLE) and info.st_size >= self.gzip_min_bytes
        gzipped = compressible and _accepts_gzip(environ)
        etag = f"{info.st_size:x}-{info.st_mtime_ns:x}" + ("-gz" if gzipped else "") if self.enable_etag else None
        last_modified = datetime.fromtimestamp(int(info.st_mtime), timezone.utc)
        if (environ.get("REQUEST_METHOD") in ("GET", "HEAD") and "HTTP_IF_MATCH" not in environ
                and not is_resource_modified(environ, etag=f'"{etag}"' if etag else None,
                                             last_modified=last_modified)):
            # NOTE: answered before any body is built, so a 304 never gzips or wraps the file.
            file.close()
            headers = [("ETag", f'"{etag}"')] if etag else []
            headers += [("Last-Modified", http_date(last_modified)), ("Cache-Control", self.cache_control)]
            return 304, headers + ([("Vary", "Accept-Encoding")] if compressible else []), b""
        try:
            response = self._response(environ, file, info, gzipped)
        except OSError as error:
            file.close()
            log.warning("static file %s could not be read: %s", path, error)
            return 404, list(self.not_found_headers), self.not_found_body
        # NOTE: lazy, as Response in _response: werkzeug.utils brings werkzeug.wsgi and its URL helpers.
        from werkzeug.utils import get_content_type

        response.headers["Content-Type"] = get_content_type(mime, "utf-8")
        response.headers["Cache-Control"] = self.cache_control
        if compressible:
            response.headers["Vary"] = "Accept-Encoding"
        if etag:
            response.set_etag(etag)
        response.last_modified = last_modified
        try:
            response.make_conditional(environ, accept_ranges=not gzipped,
                                      complete_length=None if gzipped else info.st_size)
        except RequestedRangeNotSatisfiable:
            response.close()
            headers = [("Content-Range", f"bytes */{info.st_size}"), ("Content-Length", "0"),
                       ("Cache-Control", self.cache_control)]
            return 416, headers, b""
        headers = response.headers.to_wsgi_list()
        status = response.status_code
        if environ.get("REQUEST_METHOD") == "HEAD" or status == 304:
            response.close()
            if status == 304:
                headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
            return status, headers, b""
        # NOTE: ``_response`` only ever wraps byte streams; werkzeug types the body as str or bytes.
        return status, headers, cast(Iterable[bytes], response.response)

    def _response(self, environ: dict[str, Any], file: IO[bytes], info: os.stat_result, gzipped: bool) -> Response:
        # NOTE: lazy: werkzeug's Response and its sansio parts are ~0.9 MiB with the form parser that
        # hero.servers.http.params also imports late; a server that never serves a file never needs them
        # (issue 17: an idle process's memory).
        from werkzeug.wrappers import Response
        from werkzeug.wsgi import ClosingIterator, wrap_file

        if not gzipped:
            response = Response(wrap_file(environ, file, buffer_size=self.chunk_bytes), direct_passthrough=True)
            response.content_length = info.st_size
            return response
        if info.st_size <= self.gzip_in_memory_bytes:
            with file:
                body = gzip.compress(file.read(), mtime=0)
            response = Response(body, direct_passthrough=True)
            response.content_length = len(body)
        else:
            response = Response(ClosingIterator(_gzip_stream(file, self.chunk_bytes), file.close),
                                direct_passthrough=True)
        response.headers["Content-Encoding"] = "gzip"
        return response

    # --- the `file` verb (WebSocket, TCP) ---------------------------------------------------

    def read(self, relative_path: str) -> dict[str, Any]:
        """``{"content", "mime", "length", "lastModified"}`` for ``relative_path``.

        Raises :class:`HeroError` (404 ``that file is not found``, or 413 for a file larger than
        :attr:`max_read_bytes`). ``content`` is the text, undecodable bytes replaced.
        """
        opened = self._open(relative_path)
        if opened is None:
            raise HeroError(self.not_found_message, status=404)
        file, info, path = opened
        with file:
            if info.st_size > self.max_read_bytes:
                raise HeroError(f"that file is too large to send here ({self.max_read_bytes} bytes max)", status=413)
            try:
                raw = file.read(self.max_read_bytes + 1)
            except OSError:
                raise HeroError(self.not_found_message, status=404) from None
        modified = datetime.fromtimestamp(info.st_mtime, timezone.utc)
        return {
            "content": raw.decode("utf-8", errors="replace"),
            "mime": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "length": len(raw),
            "lastModified": modified.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }


class StaticChain:
    """Several public folders searched in order (the app's, then each plugin's), each with its own
    root checks; a path none of them has answers as the first would (404)."""

    def __init__(self, engines: Sequence[StaticFiles]) -> None:
        self.engines = list(engines)

    def __repr__(self) -> str:
        return f"StaticChain({self.engines!r})"

    def _engine_for(self, relative_path: str) -> StaticFiles:
        for engine in self.engines:
            if engine.resolve(relative_path) is not None:
                return engine
        return self.engines[0]

    def respond(self, environ: dict[str, Any], relative_path: str) -> tuple[int, list[tuple[str, str]], Body]:
        return self._engine_for(relative_path).respond(environ, relative_path)

    def read(self, relative_path: str) -> dict[str, Any]:
        return self._engine_for(relative_path).read(relative_path)


#: The engine of an app's public folders: one folder, or a chain of them (the app's first, then plugins').
PublicFiles = StaticFiles | StaticChain


def public_files(folders: Sequence[Path], web: Mapping[str, Any]) -> PublicFiles:
    """The engine of the app's public folder and its plugins' (built once per process by the wiring:
    finding a plugin's folder may import-search a package)."""
    return StaticFiles.for_folders(folders, web)


def _accepts_gzip(environ: Mapping[str, Any]) -> bool:
    accepted = parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING"))
    return accepted.quality("gzip") > 0


def _gzip_stream(file: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    while chunk := file.read(chunk_bytes):
        if out := compressor.compress(chunk):
            yield out
    yield compressor.flush()
