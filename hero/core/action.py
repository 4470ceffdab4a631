"""Actions: the declarative class users write, the decorator for small ones, what one run of one
action carries (:class:`ActionData`), and the registry."""
from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from hero.core.connection import Connection
from hero.core.middleware import ActionMiddleware, MiddlewareChain
from hero.core.params.spec import ParamSpec
from hero.errors import BootError, UnknownAction, error_status

log = logging.getLogger(__name__)

Version = int | float | str

#: Names an action may not take: the verbs of persistent connections (docs/tcp.md, Verbs).
RESERVED_ACTION_NAMES = frozenset(
    "quit exit paramAdd paramDelete paramView paramsView paramsDelete roomAdd roomLeave roomView "
    "detailsView say documentation file".split()
)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(eq=False)
class ActionData:
    """Everything about one run of one action: what came in, what goes out."""

    connection: Connection
    #: Raw params until validation; then the loaded, read-only params that ``run`` sees.
    params: Mapping[str, Any]
    #: The process's ``hero.container.Api`` (typed loosely here: the pipeline sits below the services it
    #: holds; apps annotate it with ``hero.Api``).
    api: Any = None
    message_id: Any = None
    action: Action | None = None
    response: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    #: The params after scrubbing, before formatting (``requesterInformation.receivedParams``).
    received_params: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    duration_ms: float = 0.0
    #: Middleware may set this False to skip ``run`` (the action answers nothing more).
    to_process: bool = True
    #: False: the transport renders nothing (actionhero's ``toRender``): over HTTP the action answered
    #: with ``connection.respond(...)`` or ``send_file``; over TCP and WebSockets no reply is sent.
    to_render: bool = True
    #: The id of an unexpected error, in the answer (``errorId``) and in the log line.
    error_id: str | None = None

    def __repr__(self) -> str:
        name = self.action.name if self.action else self.params.get("action")
        return f"ActionData(action={name!r}, connection={self.connection.id!r}, error={self.error!r})"

    @property
    def session(self) -> dict[str, Any]:
        return self.connection.session

    @property
    def action_name(self) -> Any:
        return self.action.name if self.action else self.params.get("action")

    @property
    def status(self) -> int:
        """The HTTP status of the outcome: the action's own choice, else the error's, else 200."""
        if self.connection.status is not None:
            return self.connection.status
        if self.error is not None:
            return error_status(self.error)
        if "error" in self.response:
            return 500
        return 200


class Action:
    """Subclass this and define ``name`` and ``run``; hero finds it in ``actions/``.

        class RandomNumber(Action):
            name = "randomNumber"
            description = "I generate a random number"
            output_example = {"randomNumber": 0.123}

            def run(self, data):
                return {"randomNumber": random.random()}
    """

    #: The name clients send (``action`` param, ``/api/<name>``).
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: An int or a string; clients pick one with ``apiVersion``, else they get the highest.
    version: ClassVar[Version] = 1
    #: ``{name: Input(...)}`` (or plain dicts, or marshmallow fields), or a marshmallow Schema.
    inputs: ClassVar[Any] = {}
    #: Names of non-global action middleware to run for this action, in this order.
    middleware: ClassVar[Sequence[str]] = ()
    #: Documentation only: what a response looks like.
    output_example: ClassVar[Mapping[str, Any]] = {}
    #: Connection types that may not run this action (e.g. ``["websocket"]``).
    blocked_connection_types: ClassVar[Sequence[str]] = ()
    #: Level of this action's log line.
    log_level: ClassVar[str] = "info"
    #: Listed by showDocumentation and swagger.
    to_document: ClassVar[bool] = True
    #: Web only: ``/api/x.png`` answers with the ``.png`` mime type when there is no error.
    matches_extension_mime_type: ClassVar[bool] = True
    #: Web only: add ``serverInformation`` / ``requesterInformation`` (as ``web.metadata`` allows).
    #: Off for answers that must be exactly a document, like the OpenAPI one.
    metadata: ClassVar[bool] = True
    #: Seconds before the action is killed with a 504 (None: ``general.action_timeout``; 0: never).
    timeout: ClassVar[float | None] = None

    #: The compiled inputs; set by the registry at boot.
    params: ParamSpec

    def run(self, data: ActionData) -> Mapping[str, Any] | None:
        """Do the work. A returned mapping is merged into ``data.response``; a raise is the error."""
        raise NotImplementedError(f"action {self.name} has no run()")

    def __repr__(self) -> str:
        return f"<Action {self.name} v{self.version}>"

    @classmethod
    def validate(cls) -> None:
        """Fail the boot, naming the class, when the declaration cannot work."""
        where = f"action {cls.name or cls.__name__}"
        if not cls.name or not isinstance(cls.name, str):
            raise BootError(f"{cls.__name__}: an action needs a name")
        if cls.name in RESERVED_ACTION_NAMES:
            raise BootError(f"{where}: `{cls.name}` is a connection verb and cannot be an action name")
        if isinstance(cls.version, bool) or not isinstance(cls.version, (int, float, str)) or cls.version == "":
            raise BootError(f"{where}: version must be a number or a non-empty string")
        if cls.run is Action.run:
            raise BootError(f"{where}: run() is not defined")
        if cls.log_level not in LOG_LEVELS:
            raise BootError(f"{where}: log_level must be one of {', '.join(LOG_LEVELS)}")
        if isinstance(cls.middleware, str) or isinstance(cls.blocked_connection_types, str):
            raise BootError(f"{where}: middleware and blocked_connection_types must be lists of names")
        if cls.timeout is not None and (isinstance(cls.timeout, bool) or not isinstance(cls.timeout, (int, float))
                                        or cls.timeout < 0):
            raise BootError(f"{where}: timeout must be a number of seconds >= 0")

    def describe(self) -> dict[str, Any]:
        """The documentation entry (showDocumentation, ``hero actions --json``)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "inputs": self.params.describe(),
            "outputExample": dict(self.output_example),
            "blockedConnectionTypes": list(self.blocked_connection_types),
            "middleware": list(self.middleware),
        }


def action(name: str, *, inputs: Any = None, version: Version = 1, description: str = "",
           **attributes: Any) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Declare a small action as a function of ``data``:

        @action("hello", inputs={"name": Input(default="world")})
        def hello(data):
            return {"greeting": f"hello {data.params['name']}"}

    The function stays callable; hero finds its Action class at ``fn.hero_action``.
    """

    def declare(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(self: Action, data: ActionData) -> Any:
            return function(data)

        body = {
            "name": name,
            "version": version,
            "description": description or (inspect.getdoc(function) or ""),
            "inputs": inputs or {},
            "run": run,
            "__module__": function.__module__,
            "__doc__": function.__doc__,
            **attributes,
        }
        action_class = cast(type[Action], type(f"{function.__name__}_action", (Action,), body))
        action_class.validate()
        function.hero_action = action_class  # type: ignore[attr-defined]
        return function

    return declare


def version_key(version: Version) -> tuple[int, Any]:
    """Ascending order of versions: numbers numerically, then strings."""
    return (1, version) if isinstance(version, str) else (0, version)


class ActionRegistry:
    """Every action of this process by name and version, with the action middleware."""

    def __init__(self, *, missing_param_checks: Sequence[Any] = (None, ""), scrub_params: bool = True) -> None:
        self.missing_param_checks = tuple(missing_param_checks)
        self.scrub_params = scrub_params
        self.versions: dict[str, dict[Version, Action]] = {}
        self.latest: dict[str, Action] = {}
        self.sources: dict[tuple[str, Version], str] = {}
        self.middleware: MiddlewareChain[ActionMiddleware] = MiddlewareChain("action")
        self._chains: dict[int, tuple[int, tuple[ActionMiddleware, ...]]] = {}
        #: ``run(name, params, ...)`` needs the processor; the process sets this at boot.
        self.runner: Callable[..., dict[str, Any]] | None = None
        #: Global safe params beyond hero's own (``api.params.add_global_safe``), and the defaults
        #: of some of them (``general.pagination_defaults``); applied to actions added later too.
        self.extra_safe: list[str] = []
        self.safe_defaults: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"ActionRegistry({sorted(self.versions)!r})"

    def add(self, action_class: type[Action], source: str = "<code>") -> Action:
        """Validate, compile and register one action class."""
        try:
            action_class.validate()
            instance = action_class()
            instance.params = ParamSpec.compile(
                action_class.inputs, owner=f"action `{action_class.name}`",
                missing_param_checks=self.missing_param_checks, scrub=self.scrub_params,
            )
        except BootError as error:
            raise BootError(f"{source}: {error.message}") from error
        if self.extra_safe or self.safe_defaults:
            instance.params.add_safe([*self.extra_safe, *self.safe_defaults], self.safe_defaults)
        key = (instance.name, instance.version)
        if instance.version in self.versions.get(instance.name, {}):
            raise BootError(f"{source}: action {instance.name} version {instance.version} is already defined "
                            f"in {self.sources[key]}")
        self.versions.setdefault(instance.name, {})[instance.version] = instance
        self.sources[key] = source
        self.latest[instance.name] = self.versions[instance.name][max(self.versions[instance.name], key=version_key)]
        return instance

    def add_global_safe(self, names: Sequence[str], defaults: Mapping[str, Any] | None = None) -> None:
        """Every action (those added later too) accepts ``names`` without declaring them."""
        for name in names:
            if name not in self.extra_safe:
                self.extra_safe.append(name)
        self.safe_defaults.update(defaults or {})
        for versions in self.versions.values():
            for action in versions.values():
                action.params.add_safe(names, defaults)

    def find(self, name: Any, version: Any = None) -> Action:
        """The action for a name and an optional version; UnknownAction when there is none."""
        if not isinstance(name, str) or name not in self.versions:
            raise UnknownAction()
        if version is None or version == "":
            return self.latest[name]
        by_version = self.versions[name]
        if version in by_version and not isinstance(version, bool):
            return by_version[version]
        if isinstance(version, str):
            for candidate in (_as_number(version), version.strip()):
                if candidate is not None and candidate in by_version:
                    return by_version[candidate]
        elif isinstance(version, (int, float)) and str(version) in by_version:
            return by_version[str(version)]
        raise UnknownAction()

    def __iter__(self) -> Iterator[Action]:
        for name in sorted(self.versions):
            for version in sorted(self.versions[name], key=version_key):
                yield self.versions[name][version]

    def __contains__(self, name: object) -> bool:
        return name in self.versions

    def add_middleware(self, middleware: ActionMiddleware) -> ActionMiddleware:
        return self.middleware.add(middleware)

    def middleware_for(self, action: Action) -> tuple[ActionMiddleware, ...]:
        """Global middleware by priority, then the action's own list, in its order (cached)."""
        cached = self._chains.get(id(action))
        if cached is not None and cached[0] == self.middleware.generation:
            return cached[1]
        chain = [m for m in self.middleware if m.is_global]
        chain += [self.middleware.get(name) for name in action.middleware]
        result = tuple(chain)
        self._chains[id(action)] = (self.middleware.generation, result)
        return result

    def check_middleware(self) -> None:
        """Fail the boot when an action lists middleware nobody registered."""
        for action in self:
            for name in action.middleware:
                if name not in self.middleware:
                    raise BootError(f"action {action.name} lists middleware {name!r}, which is not registered")

    def run(self, name: str, params: Mapping[str, Any] | None = None, *, version: Version | None = None,
            connection_properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run an action in-line through the whole pipeline; raises its error (actionhero's action.run)."""
        if self.runner is None:
            raise RuntimeError("actions can only be run once hero has booted")
        return self.runner(name, params, version=version, connection_properties=connection_properties)


def _as_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None
