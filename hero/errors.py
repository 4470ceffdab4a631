"""Every error hero raises on purpose. One root, each kind knows its status and message.

Transports never format errors themselves: they call :func:`describe` and put the
text in ``response["error"]`` and the status on the wire (HTTP) or nowhere (TCP, WS).
"""
from __future__ import annotations

from typing import Any


class HeroError(Exception):
    """The root of hero's errors: a message a client may read, and an HTTP status."""

    #: HTTP status used when this error ends an action.
    status: int = 500
    #: The default client-facing text.
    message: str = "something went wrong"

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        self.message = message if message is not None else type(self).message
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"


# --- boot ---------------------------------------------------------------------------------


class BootError(HeroError):
    """The process could not start: bad config, a broken action file, a port in use."""


class ConfigError(BootError):
    """A config value is wrong; the message names the key."""


# --- the action pipeline (docs/actions.md, Errors) ----------------------------------------


class UnknownAction(HeroError):
    status = 404
    message = "unknown action or invalid apiVersion"


class MissingParam(HeroError):
    status = 422

    def __init__(self, name: str) -> None:
        self.param = name
        super().__init__(f"{name} is a required parameter for this action")


class InvalidParam(HeroError):
    """A validator or formatter refused an input; the message is the validator's."""

    status = 422
    message = "validation error"

    def __init__(self, message: str | None = None, *, param: str | None = None, value: Any = None,
                 returned_false: bool = False, status: int | None = None) -> None:
        #: The (dotted) name of the input that failed, when known.
        self.param = param
        #: The value that failed (after formatting), when known.
        self.value = value
        #: True when a validator returned False (the message is then the generic one).
        self.returned_false = returned_false
        super().__init__(message, status=status)


class BlockedConnectionType(HeroError):
    status = 403

    def __init__(self, connection_type: str) -> None:
        super().__init__(f"this action does not support the {connection_type} connection type")


class TooManyPendingActions(HeroError):
    status = 429
    message = "you have too many pending requests"


class RequestLimitExceeded(HeroError):
    """Over the request limit (docs/limits.md, Request rate); HTTP adds ``Retry-After``."""

    status = 429
    message = "you have exceeded your request limit"

    def __init__(self, retry_after: int = 1) -> None:
        #: Seconds until the budget resets.
        self.retry_after = retry_after
        super().__init__()


class ServerShuttingDown(HeroError):
    status = 503
    message = "the server is shutting down"


class ActionTimeout(HeroError):
    status = 504
    message = "the action timed out"


class StoreUnavailable(HeroError):
    """Redis (or the embedded store) did not answer within its budget."""

    status = 503
    message = "the backing store is unavailable"
    @staticmethod
    def reason(error: BaseException) -> str | None:
        """hero's text when ``error`` (a client library's exception) means the store cannot serve
        now, else None. ``hero.services.store`` replaces this with its knowledge of Redis's errors
        (unreachable, timed out, out of memory, read-only, failing to persist)."""
        return None


class DatabaseUnavailable(HeroError):
    """The models' database did not answer (refused, down, or no pooled connection in time)."""

    status = 503
    message = "the database is unavailable"


# --- cache --------------------------------------------------------------------------------


class ObjectNotFound(HeroError):
    status = 404
    message = "Object not found"


class ObjectLocked(HeroError):
    status = 409
    message = "Object locked"


# --- chat, verbs and cluster (docs/chat.md, docs/tcp.md) ----------------------------------


class ChatError(HeroError):
    """A chat-room operation was refused; the message is one of the texts in docs/chat.md, Errors."""

    status = 422


class VerbNotAllowed(HeroError):
    status = 422

    def __init__(self, verb: str) -> None:
        super().__init__(f"verb not found or not allowed ({verb})")


class RpcTimeout(HeroError):
    status = 504
    message = "RPC Timeout"


# --- tasks --------------------------------------------------------------------------------


class TaskError(HeroError):
    status = 422


class TaskNotFound(TaskError):
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"task {name} not found")


# --- turning any exception into what a client sees -----------------------------------------


def _int_status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 100 <= number <= 599 else None


def error_status(error: BaseException) -> int:
    """The HTTP status for an exception: its own ``status`` (or ``code``) when it is 100–599."""
    if isinstance(error, HeroError):
        return error.status
    if StoreUnavailable.reason(error) is not None:
        return StoreUnavailable.status
    for attribute in ("status", "code"):
        status = _int_status(getattr(error, attribute, None))
        if status is not None:
            return status
    return 500


def error_message(error: BaseException) -> str:
    """The client-facing text for an exception; never a traceback."""
    if isinstance(error, HeroError):
        return error.message
    reason = StoreUnavailable.reason(error)
    if reason is not None:
        return reason
    text = str(error)
    return text if text else type(error).__name__


# --- the registries' coded errors (Sails' E_CONFLICT, E_INVALID, E_NOT_FOUND, E_USAGE) ---------


class CodedError(HeroError):
    """A registry or route call that cannot be done, with Sails' ``code`` (docs/actions.md, Sails-style actions):

    ``E_CONFLICT`` (the identity is taken and ``force`` is false), ``E_INVALID`` (not an action
    definition hero can run), ``E_NOT_FOUND`` (no route to that target), ``E_USAGE`` (a bad query).
    """

    #: Sails' code: E_CONFLICT, E_INVALID, E_NOT_FOUND or E_USAGE.
    code: str = "E_USAGE"

    def __init__(self, code: str, message: str, *, identity: Any = None, status: int | None = None) -> None:
        self.code = code
        #: The identity (or route target) the error is about, when there is one.
        self.identity = identity
        super().__init__(message, status=status)

    def __repr__(self) -> str:
        return f"CodedError({self.code!r}, {self.message!r})"
