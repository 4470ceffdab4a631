"""The action pipeline (docs/actions.md, Pipeline): one method that reads top to bottom.

A transport hands in a Connection and raw params; it gets back an :class:`ActionData` holding the
response, the error and the status, and renders that. Nothing here knows about bytes or sockets.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from hero.core.action import Action, ActionData, ActionRegistry
from hero.core.connection import Connection
from hero.core.logfilter import filter_params
from hero.core.params.inputs import CALLING, CONTEXT
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
                 filtered_params: tuple[str, ...] = (), expose_errors: bool = True) -> None:
        #: Handed to every action as ``data.api``; set by the wiring once the Api exists.
        self.api: Any = None
        self.actions = actions
        self.simultaneous_actions = simultaneous_actions
        self.action_timeout = action_timeout
        self.filtered_params = filtered_params
        #: Answer an unexpected exception with its own text (development), or with "internal error"
        #: and an ``errorId`` only (production).
        self.expose_errors = expose_errors
        #: True once the process is stopping: new actions get 503.
        self.stopping = False
        #: Called with every finished ActionData (stats, exception reporters).
        self.listeners: list[Callable[[ActionData], None]] = []
        self.in_flight = 0
        self.deadlines: DeadlineWatcher = deadlines or NoDeadlines()

    def __repr__(self) -> str:
        return f"ActionProcessor({self.in_flight} in flight, stopping={self.stopping})"

    def process(self, connection: Connection, params: Mapping[str, Any], *, message_id: Any = None) -> ActionData:
        """Run one action for ``connection`` with raw ``params``; never raises."""
        data = ActionData(connection=connection, params=params, api=self.api, message_id=message_id)
        self.begin(data)
        try:  # any exception raised in here becomes data.error
            data.action = action = self.actions.find(params.get("action"), params.get("apiVersion"))
            self.check_admission(data, action)
            middleware = self.actions.middleware_for(action)
            for each in middleware:
                each.pre_process(data)
            if CONTEXT.used:
                # NOTE: only once an input took actionhero's (param, connection, action_template) form.
                token = CALLING.set((connection, action))
                try:
                    data.received_params, loaded = action.params.receive(data.params)
                finally:
                    CALLING.reset(token)
            else:
                data.received_params, loaded = action.params.receive(data.params)
            data.params = MappingProxyType(loaded)
            if data.to_process:
                self.run_action(action, data)
                for each in middleware:
                    each.post_process(data)
        except DeadlineExpired:
            raise  # NOTE: an outer deadline (the caller's, around an in-line run): not this action's to answer
        except BaseException as error:  # NOTE: everything else ends here, answered and logged (never escapes)
            data.error = error
        finally:
            self.finish(data)
        return data

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
        if result is None:
            return
        if type(result) is not dict and not isinstance(result, Mapping):
            raise TypeError(f"action {action.name} returned {type(result).__name__}; it must return a dict or None")
        data.response.update(result)

    def begin(self, data: ActionData) -> None:
        """Count the action as pending (the admission check counts this one too)."""
        data.connection.total_actions += 1
        data.connection.pending_actions += 1
        self.in_flight += 1

    def finish(self, data: ActionData) -> None:
        """Uncount it; turn the error into ``response["error"]``; log it once; tell the listeners."""
        data.connection.pending_actions -= 1
        self.in_flight -= 1
        data.duration_ms = (time.monotonic() - data.started_at) * 1000
        error = data.error
        if error is not None and "error" not in data.response:
            if _is_unexpected(error):
                # NOTE: a bug's text may hold anything (paths, queries, data): production answers
                # with an id the log line carries too, so the two can be matched.
                data.error_id = uuid.uuid4().hex
                data.response["errorId"] = data.error_id
                data.response["error"] = error_message(error) if self.expose_errors else INTERNAL_ERROR
            else:
                data.response["error"] = error_message(error)
        self.log(data)
        for listener in self.listeners:
            try:
                listener(data)
            except Exception:
                log.exception("an actionComplete listener failed")

    def log(self, data: ActionData) -> None:
        error = data.error
        unexpected = error is not None and not isinstance(error, HeroError) and error_status(error) >= 500
        level = logging.ERROR if unexpected else _LEVELS.get(data.action.log_level if data.action else "info", 20)
        if not log.isEnabledFor(level):
            return
        connection = data.connection
        log.log(
            level, "[action @ %s] to=%s action=%s params=%s duration=%.1fms%s%s",
            connection.type, connection.remote_ip, data.action_name,
            filter_params(data.received_params or dict(data.params), self.filtered_params),
            data.duration_ms, f" error={error_message(error)!r}" if error is not None else (
                f" error={data.response.get('error')!r}" if "error" in data.response else ""),
            f" errorId={data.error_id}" if data.error_id else "",
            exc_info=error if unexpected else None,
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
        return data.response


#: What production answers for an unexpected exception (its ``errorId`` names the log line).
INTERNAL_ERROR = "internal error"


def _is_unexpected(error: BaseException) -> bool:
    """A bug rather than an answer: not one of hero's errors, not the store saying "not now", 5xx."""
    return (not isinstance(error, HeroError) and StoreUnavailable.reason(error) is None
            and error_status(error) >= 500)


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}
