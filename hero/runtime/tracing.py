"""An OpenTelemetry span per action, on every transport (docs/deployment.md, Tracing).

On when ``otel.enabled`` (by default, when ``opentelemetry-api`` is installed: the ``hero[otel]``
extra). The span is current while the action runs, so spans the action opens (a database client's,
an HTTP client's) are its children; it ends once the action is answered, named after the action,
with ``hero.action``, ``hero.version``, ``hero.transport``, ``hero.status``, ``hero.connection_id``
and ``hero.message_id`` attributes, and an error status (and the exception, with its error id) when
the action failed unexpectedly. An HTTP request carrying a W3C ``traceparent`` joins its caller's
trace. Where spans go is the application's choice: it sets up the SDK and an
exporter (``opentelemetry.trace.set_tracer_provider``) as for any instrumented library.
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hero.errors import ConfigError

if TYPE_CHECKING:
    from hero.core.action import ActionData


def build_tracer(settings: Mapping[str, Any]) -> OTelTracer | None:
    """The tracer of one process, or None when ``otel.enabled`` is off (or unset and
    opentelemetry-api is not installed)."""
    enabled = settings["enabled"]
    if enabled is False:
        return None
    if importlib.util.find_spec("opentelemetry") is None or importlib.util.find_spec("opentelemetry.trace") is None:
        if enabled:
            raise ConfigError("config otel.enabled is true but opentelemetry-api is not installed "
                              "(pip install 'hero[otel]')")
        return None
    return OTelTracer(str(settings["tracer"]))


class _EnvironGetter:
    """Reads propagation headers (``traceparent``, ``tracestate``) from a WSGI environ."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [str(value)] if value is not None else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [key[5:].lower().replace("_", "-") for key in carrier if key.startswith("HTTP_")]


_ENVIRON = _EnvironGetter()


class OTelTracer:
    """Starts a span when an action is counted in and ends it when it is answered."""

    #: opentelemetry-api's modules and this process's tracer: set by :meth:`_load` with the first action.
    _context: Any
    _propagate: Any
    _trace: Any
    tracer: Any
    _server: Any
    _global_readable: bool

    def __init__(self, name: str = "hero", provider: Any = None) -> None:
        self.name = name
        self._provider = provider
        self._loaded = False
        #: A provider handed in is used whatever the global one is.
        self._own_provider = provider is not None
        #: OpenTelemetry loads the global provider named by this variable on first use.
        self._provider_from_environment = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ

    def __repr__(self) -> str:
        return f"OTelTracer({self.name!r})"

    def _load(self) -> None:
        # NOTE: opentelemetry-api is the optional extra hero[otel]: imported only when tracing is on,
        # and then with the first action, not at boot (issue 17: an idle server's memory).
        from opentelemetry import context, propagate, trace

        self._context = context
        self._propagate = propagate
        self._trace = trace
        self.tracer = trace.get_tracer(self.name, tracer_provider=self._provider)
        self._server = trace.SpanKind.SERVER
        #: This opentelemetry-api keeps the global provider in ``trace._TRACER_PROVIDER``.
        self._global_readable = hasattr(trace, "_TRACER_PROVIDER")
        self._loaded = True

    def start(self, data: ActionData) -> tuple[Any, object] | None:
        if not self._loaded:
            self._load()
        if not (self._own_provider or self._provider_from_environment) and (
                self._trace._TRACER_PROVIDER is None if self._global_readable else self._no_global_provider()):
            # NOTE: no SDK set up (yet): every span would be a no-op, at ~5% of a small action's cost.
            # Checked per action, so an app that sets its provider after boot is traced from then on;
            # the module's global read here when it has one (see _no_global_provider), a call saved.
            return None
        environ = data.connection.extra.get("environ")
        parent = None
        if environ and "HTTP_TRACEPARENT" in environ:
            # NOTE: an HTTP request may carry its caller's trace (W3C ``traceparent``): the span joins it.
            # The getter is duck-typed: OpenTelemetry's Getter ABC would be an import at module level.
            parent = self._propagate.extract(environ, getter=_ENVIRON)
        span = self.tracer.start_span("hero action", context=parent, kind=self._server)
        token = self._context.attach(self._trace.set_span_in_context(span))
        return span, token

    def _no_global_provider(self) -> bool:
        # NOTE: get_tracer_provider() reads os.environ on every call until a provider is set (~1 µs);
        # the module's global says the same for free where this opentelemetry-api version has it.
        provider = getattr(self._trace, "_TRACER_PROVIDER", False)
        if provider is False:
            return isinstance(self._trace.get_tracer_provider(), self._trace.ProxyTracerProvider)
        return provider is None

    def end(self, data: ActionData) -> None:
        span, token = data.trace
        try:
            if span.is_recording():
                connection = data.connection
                span.update_name(str(data.action.name) if data.action is not None else "unknown action")
                status = data.status
                span.set_attributes({
                    "hero.action": str(data.action.name) if data.action is not None else "",
                    "hero.version": str(data.action.version) if data.action is not None else "",
                    "hero.transport": connection.type, "hero.status": status,
                    "hero.connection_id": str(connection.id), "hero.message_id": str(data.message_id),
                })
                if data.error_id is not None and data.error is not None:
                    span.set_attribute("hero.error_id", data.error_id)
                    span.record_exception(data.error)
                if status >= 500:
                    span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(data.response.get("error"))))
            span.end()
        finally:
            try:
                self._context.detach(token)
            except Exception:  # NOTE: ended in another context (a greenlet switch); the span is still ended
                pass
