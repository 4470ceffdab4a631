"""The action pipeline (docs/actions.md, Pipeline): one method that reads top to bottom.

A transport hands in a Connection and raw params; it gets back an :class:`ActionData` holding the
response, the error and the status, and renders that. Nothing here knows about bytes or sockets.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from types import MappingProxyType
from typing import Any, Protocol, cast

from hero.core.action import Action, ActionData, ActionRegistry
from hero.core.connection import Connection
from hero.core.logfilter import filter_params
from hero.core.params.inputs import CALLING, CONTEXT
from hero.core.stream import close_stream, collect, is_stream
from hero.errors import (
    ActionTimeout,
    BlockedConnectionType,
    HeroError,
    ServerShuttingDown,
    StoreUnavailable,
    TooManyPendingActions,
    error_message,
    error_status,
)

log = logging.getLogger("hero.action")

#: Entering a deadline gives ``(owner, token, outer)``; the token identifies it in :class:`DeadlineExpired`.
Entered = tuple[Any, object, Any]


class DeadlineExpired(BaseException):
    """Thrown into an action's greenlet when its deadline passes; ``args[0]`` is the deadline's token.

    A BaseException, so that an action's ``except Exception`` cannot swallow it.
    """


class DeadlineWatcher(Protocol):
    """What the processor needs to bound an action's time (``hero.runtime.deadlines`` is the one
    hero wires in: a single greenlet watches every open deadline)."""

    def enter(self, seconds: float) -> Entered: ...

    def leave(self, entered: Entered) -> None: ...


class ActionTracer(Protocol):
    """A span per action (``hero.runtime.tracing`` wires OpenTelemetry's): ``start`` when the action
    is counted in, its result kept in ``data.trace``; ``end`` once it is answered and logged."""

    def start(self, data: ActionData) -> Any: ...

    def end(self, data: ActionData) -> None: ...


class NoDeadlines:
    """A watcher that bounds nothing: for a pipeline run without a hub (tools, unit tests)."""

    def enter(self, seconds: float) -> Entered:
        return None, None, None

    def leave(self, entered: Entered) -> None:
        return None


class ActionProcessor:
    """Runs actions for every transport. One instance per process."""

    def __init__(self, actions: ActionRegistry, *, deadlines: DeadlineWatcher | None = None,
                 simultaneous_actions: int = 5, action_timeout: float = 30.0,
                 filtered_params: tuple[str, ...] = (), expose_errors: bool = True,
                 max_log_string_length: int = 200) -> None:
        #: Handed to every action as ``data.api``; set by the wiring once the Api exists.
        self.api: Any = None
        self.actions = actions
        self.simultaneous_actions = simultaneous_actions
        self.action_timeout = action_timeout
        self.filtered_params = filtered_params
        #: Answer an unexpected exception with its own text (development), or with "internal error"
        #: and an ``errorId`` only (production).
        self.expose_errors = expose_errors
        self.max_log_string_length = max_log_string_length
        #: True once the process is stopping: new actions get 503.
        self.stopping = False
        #: Called with every finished ActionData (stats, metrics).
        self.listeners: list[Callable[[ActionData], None]] = []
        #: Called with ``(error, data)`` for every unexpected error (not a HeroError, 5xx), after
        #: ``data.error_id`` is set: Sentry and the like (docs/deployment.md, Exception reporters).
        self.exception_reporters: list[Callable[[BaseException, ActionData], None]] = []
        self.in_flight = 0
        #: Actions finished since boot (the heap trimmer's sign that a busy spell happened).
        self.finished = 0
        self.deadlines: DeadlineWatcher = deadlines or NoDeadlines()
        #: A span per action (docs/deployment.md, Tracing); None: no tracing, nothing on the path.
        self.tracer: ActionTracer | None = None
        #: Context managers entered around each admitted action's middleware and ``run``, in order, and
        #: left with its outcome (the models' session per action: committed, or rolled back on a raise).
        #: Empty unless a service adds one, and then free.
        self.scopes: list[Callable[[ActionData], AbstractContextManager[Any]]] = []

    def __repr__(self) -> str:
        return f"ActionProcessor({self.in_flight} in flight, stopping={self.stopping})"

    def process(self, connection: Connection, params: Mapping[str, Any], *, message_id: Any = None) -> ActionData:
        """Run one action for ``connection`` with raw ``params``; never raises."""
        data = ActionData(connection=connection, params=params, api=self.api, message_id=message_id)
        self.begin(data)
        try:  # any exception raised in here becomes data.error
            data.action = action = self.actions.find(params.get("action"), params.get("apiVersion"))
            self.check_admission(data, action)
            scopes = self.scopes
            if not scopes:
                self.run_middleware_and_action(action, data)
            elif len(scopes) == 1:
                with scopes[0](data):
                    self.run_middleware_and_action(action, data)
            else:
                with ExitStack() as stack:
                    for scope in scopes:
                        stack.enter_context(scope(data))
                    self.run_middleware_and_action(action, data)
        except DeadlineExpired:
            raise  # NOTE: an outer deadline (the caller's, around an in-line run): not this action's to answer
        except BaseException as error:  # NOTE: everything else ends here, answered and logged (never escapes)
            data.error = error
        finally:
            self.finish(data)
        return data

    def run_middleware_and_action(self, action: Action, data: ActionData) -> None:
        """docs/actions.md, Pipeline steps 4–7: pre_process, inputs, ``run``, post_process."""
        middleware = self.actions.middleware_for(action)
        for each in middleware:
            each.pre_process(data)
        if data.to_process:
            if CONTEXT.used:
                # NOTE: only once an input took actionhero's (param, connection, action_template) form.
                token = CALLING.set((data.connection, action))
                try:
                    data.received_params, loaded = action.params.receive(data.params)
                finally:
                    CALLING.reset(token)
            else:
                data.received_params, loaded = action.params.receive(data.params)
            data.params = MappingProxyType(loaded)
            self.run_action(action, data)
            for each in middleware:
                each.post_process(data)
        else:  # NOTE: a middleware answered instead of the action: its inputs are not checked
            data.received_params = action.params.scrub(data.params)

    def check_admission(self, data: ActionData, action: Action) -> None:
        """docs/actions.md, Pipeline steps 2–3: stopping, too many pending, blocked connection type."""
        if self.stopping:
            raise ServerShuttingDown()
        if data.connection.pending_actions > self.simultaneous_actions:
            raise TooManyPendingActions()
        if data.connection.type in action.blocked_connection_types:
            raise BlockedConnectionType(data.connection.type)

    def run_action(self, action: Action, data: ActionData) -> None:
        """``run(data)`` under the action's timeout; a returned mapping is merged into the response."""
        seconds = self.action_timeout if action.timeout is None else action.timeout
        entered = self.deadlines.enter(seconds) if seconds else None
        try:
            result = action.run(data)
        except DeadlineExpired as expired:
            if entered is None or expired.args[0] is not entered[1]:
                raise
            raise ActionTimeout() from None
        finally:
            if entered is not None:
                self.deadlines.leave(entered)
        if type(result) is dict:  # NOTE: what nearly every action returns: no stream, no Mapping checks
            data.response.update(result)
            return
        if result is None:
            return
        if is_stream(result):
            data.stream = cast(Iterator[Any], result)
            return
        if type(result) is not dict and not isinstance(result, Mapping):
            raise TypeError(f"action {action.name} returned {type(result).__name__}; it must return a dict, "
                            "an iterator of chunks or None")
        data.response.update(result)

    def begin(self, data: ActionData) -> None:
        """Count the action as pending (the admission check counts this one too)."""
        data.connection.total_actions += 1
        data.connection.pending_actions += 1
        self.in_flight += 1
        if self.tracer is not None:
            try:
                data.trace = self.tracer.start(data)
            except Exception:  # NOTE: tracing must never cost a client its answer
                log.exception("the tracer failed to start a span")

    def finish(self, data: ActionData) -> None:
        """Uncount it; turn the error into ``response["error"]``; log it once; tell the listeners."""
        data.connection.pending_actions -= 1
        self.in_flight -= 1
        self.finished += 1
        data.duration_ms = (time.monotonic() - data.started_at) * 1000
        error = data.error
        if error is not None and data.stream is not None:
            close_stream(data.stream)  # NOTE: a middleware failed after run(): nothing streams
            data.stream = None
        if error is not None:
            if _is_unexpected(error):
                # NOTE: a bug's text may hold anything (paths, queries, data): production answers
                # with an id the log line and the exception reporters carry too, so they can be matched.
                data.error_id = uuid.uuid4().hex[:16]
                if "error" not in data.response:
                    data.response["errorId"] = data.error_id
                    data.response["error"] = error_message(error) if self.expose_errors else INTERNAL_ERROR
            elif "error" not in data.response:
                data.response["error"] = error_message(error)
        # NOTE: the level check of log() first, here: production logs at warning, and an info line
        # that would not be emitted should not cost a call per action.
        if data.error_id is not None or log.isEnabledFor(
                _LEVELS.get(data.action.log_level, 20) if data.action is not None else logging.INFO):
            self.log(data)
        if data.trace is not None:
            try:
                self.tracer.end(data)  # type: ignore[union-attr]
            except Exception:
                log.exception("the tracer failed to end a span")
        if data.error_id is not None:
            for reporter in self.exception_reporters:
                try:
                    reporter(error, data)  # type: ignore[arg-type]
                except Exception:
                    log.exception("an exception reporter failed")
        for listener in self.listeners:
            try:
                listener(data)
            except Exception:
                log.exception("an actionComplete listener failed")

    def log(self, data: ActionData) -> None:
        """One line per action; its fields ride on the record (``record.hero``) for the JSON format."""
        unexpected = data.error_id is not None
        level = logging.ERROR if unexpected else _LEVELS.get(data.action.log_level if data.action else "info", 20)
        if not log.isEnabledFor(level):
            return
        connection = data.connection
        params = filter_params(data.received_params or dict(data.params), self.filtered_params,
                               max_length=self.max_log_string_length)
        # NOTE: the log keeps the real text even where the client gets "internal error".
        error = error_message(data.error) if data.error is not None else data.response.get("error")
        fields = {
            "action": data.action_name, "version": data.action.version if data.action else None,
            "transport": connection.type, "status": data.status, "duration_ms": round(data.duration_ms, 3),
            "connection_id": connection.id, "message_id": data.message_id, "remote_ip": connection.remote_ip,
            "params": params,
        }
        if error is not None:
            fields["error"] = error
        if unexpected:
            fields["error_id"] = data.error_id
        log.log(
            level, "[action @ %s] to=%s action=%s params=%s duration=%.1fms%s%s",
            connection.type, connection.remote_ip, data.action_name, params, data.duration_ms,
            f" error={error!r}" if error is not None else "",
            f" errorId={data.error_id}" if unexpected else "",
            exc_info=data.error if unexpected else None, extra={"hero": fields},
        )

    def run_inline(self, name: str, params: Mapping[str, Any] | None = None, *, version: Any = None,
                   connection_properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """actionhero's ``action.run``: the full pipeline on an in-line connection; raises on error."""
        connection = Connection(type="in-line-action", remote_ip="0", remote_port=0)
        for key, value in (connection_properties or {}).items():
            setattr(connection, key, value)
        raw = {**(params or {}), "action": name}
        if version is not None:
            raw["apiVersion"] = version
        data = self.process(connection, raw, message_id=str(uuid.uuid4()))
        if data.error is not None:
            raise data.error
        if "error" in data.response:
            raise HeroError(str(data.response["error"]))
        if data.stream is not None:
            data.response["chunks"] = collect(data.stream)  # in-line: the whole stream, read here
        return data.response


#: What production answers for an unexpected exception (its ``errorId`` names the log line).
INTERNAL_ERROR = "internal error"


def _is_unexpected(error: BaseException) -> bool:
    """A bug rather than an answer: not one of hero's errors, not the store saying "not now", 5xx."""
    return (not isinstance(error, HeroError) and StoreUnavailable.reason(error) is None
            and error_status(error) >= 500)


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}
