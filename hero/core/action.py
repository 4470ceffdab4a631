"""Actions: the declarative class users write, the decorator for small ones, what one run of one
action carries (:class:`ActionData`), and the registry."""
from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, cast

from hero.core.connection import Connection
from hero.core.middleware import ActionMiddleware, MiddlewareChain
from hero.core.params.spec import ParamSpec
from hero.errors import BootError, UnknownAction, error_status

log = logging.getLogger(__name__)

Version = int | float | str

#: Names an action may not take: the verbs of persistent connections (docs/tcp.md, Verbs). ``say`` is
#: not among them: it is also hero's built-in ``say`` action, which the verb mirrors.
RESERVED_ACTION_NAMES = frozenset(
    "quit exit paramAdd paramDelete paramView paramsView paramsDelete roomAdd roomLeave roomView "
    "detailsView documentation file".split()
)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class RequestBudget(NamedTuple):
    """Where a client stands against its request limit after this request (docs/limits.md, Request rate)."""

    limit: int
    remaining: int
    #: Seconds until the window resets.
    reset: int
    exceeded: bool = False


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
    #: False: the transport renders nothing (actionhero's ``toRender``): the action answered with
    #: ``connection.respond(...)`` or ``send_file`` over HTTP; no reply over TCP and WebSockets.
    to_render: bool = True
    #: The status this run answers with, when the action chose one for this run only (Sails-style
    #: actions: ``res.status(409)``, an exit's ``statusCode``); unlike ``connection.status`` it does
    #: not outlive the run on persistent connections.
    reply_status: int | None = None
    #: The id of an unexpected error, in the answer (``errorId``), its log line and reporters.
    error_id: str | None = None
    #: What the processor's tracer keeps for this run (an OpenTelemetry span and its context token).
    trace: Any = None
    #: Set by the request limiter when it counted this request (HTTP shows it as headers and
    #: ``requesterInformation.RequestsRemaining``).
    budget: RequestBudget | None = None
    #: Opens the action's database session on first use of :attr:`db` (the models' scope sets it).
    db_opener: Callable[[], Any] | None = None
    #: That session once opened (the scope commits or rolls it back, and closes it).
    db_session: Any = None
    #: What a streaming action returned (docs/actions.md, Streaming): the transport writes its
    #: chunks after the pipeline finished, and closes it when the client goes away.
    stream: Iterator[Any] | None = None

    def __repr__(self) -> str:
        name = self.action.name if self.action else self.params.get("action")
        return f"ActionData(action={name!r}, connection={self.connection.id!r}, error={self.error!r})"

    @property
    def session(self) -> dict[str, Any]:
        return self.connection.session

    @property
    def db(self) -> Any:
        """The action's database session (README, Models), opened on first use; None without models."""
        if self.db_session is None and self.db_opener is not None:
            self.db_session = self.db_opener()
        return self.db_session

    @property
    def action_name(self) -> Any:
        return self.action.name if self.action else self.params.get("action")

    @property
    def status(self) -> int:
        """The HTTP status of the outcome: the action's own choice, else the error's, else 200."""
        if self.connection.status is not None:
            return self.connection.status
        if self.error is not None:
            if self.reply_status is not None and self.reply_status >= 400:
                return self.reply_status  # an error status the run chose for this exception (Sails' exits)
            return error_status(self.error)
        if self.reply_status is not None:
            return self.reply_status
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
    #: False: the action gets every param, undeclared ones too (Sails' classic ``fn(req, res)``).
    scrub_params: ClassVar[bool] = True
    #: ``"classic"`` or ``"machine"`` for Sails-style actions (set by ``register``), else empty.
    sails: ClassVar[str] = ""
    #: Request limit (docs/limits.md, Request rate): None counts against ``general.rate_limit``; False
    #: exempts this action; ``{"requests": n, "per_seconds": s}`` (optionally ``"by"``) is its own budget.
    rate_limit: ClassVar[Mapping[str, Any] | bool | None] = None
    #: The action answers with a stream of chunks (docs/actions.md, Streaming); True on its own when
    #: ``run`` is a generator function. Documentation only: any run that returns an iterator streams.
    streaming: ClassVar[bool] = False
    #: An MCP tool (docs/mcp.md): ``True``, or ``{"tool": True, "description": "..."}``; off by default.
    mcp: ClassVar[bool | Mapping[str, Any]] = False

    #: The compiled inputs; set by the registry at boot.
    params: ParamSpec

    def run(self, data: ActionData) -> Mapping[str, Any] | Iterator[Any] | None:
        """Do the work. A returned mapping is merged into ``data.response``; a raise is the error; a
        returned iterator (a generator) is streamed to the client chunk by chunk."""
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
        if cls.mcp is not True and cls.mcp is not False and not (
                isinstance(cls.mcp, Mapping) and set(cls.mcp) <= {"tool", "description"}):
            raise BootError(f"{where}: mcp must be True, False or {{\"tool\": True, \"description\": ...}}")
        if inspect.isgeneratorfunction(cls.run):
            cls.streaming = True
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
            **self.describe_sails(),
        }

    def describe_sails(self) -> dict[str, Any]:
        """What the Sails adapters add to the documentation entry (machines: their exits)."""
        return {"sails": self.sails} if self.sails else {}

    @property
    def mcp_tool(self) -> bool:
        """Whether this action is an MCP tool (``mcp = True`` or ``mcp = {"tool": True, ...}``)."""
        if isinstance(self.mcp, Mapping):
            return bool(self.mcp.get("tool", True))
        return self.mcp is True

    @property
    def mcp_description(self) -> str:
        """The tool's description: ``mcp["description"]``, else the action's."""
        if isinstance(self.mcp, Mapping) and self.mcp.get("description"):
            return str(self.mcp["description"])
        return self.description or self.name

    @property
    def identity(self) -> str:
        """Sails' word for the name: ``user/create``."""
        return self.name


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
        #: Global safe params (``api.params.add_global_safe``) and defaults; for actions added later too.
        self.extra_safe: list[str] = []
        self.safe_defaults: dict[str, Any] = {}
        #: Bumped when middleware chosen otherwise than by name changes (see :meth:`matching_middleware`).
        self.middleware_generation = 0

    def __repr__(self) -> str:
        return f"ActionRegistry({sorted(self.versions)!r})"

    def add(self, action_class: type[Action], source: str = "<code>") -> Action:
        """Validate, compile and register one action class."""
        try:
            action_class.validate()
            instance = action_class()
            instance.params = ParamSpec.compile(
                action_class.inputs, owner=f"action `{action_class.name}`",
                missing_param_checks=self.missing_param_checks,
                scrub=self.scrub_params and action_class.scrub_params,
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
        """Global middleware by priority, then :meth:`matching_middleware` (none here), then the
        action's own list, in its order (cached)."""
        generation = self.middleware.generation * 1_000_003 + self.middleware_generation
        cached = self._chains.get(id(action))
        if cached is not None and cached[0] == generation:
            return cached[1]
        chain = [m for m in self.middleware if m.is_global]
        chain += [m for m in self.matching_middleware(action) if m not in chain]
        chain += [self.middleware.get(name) for name in action.middleware]
        result = tuple(chain)
        self._chains[id(action)] = (generation, result)
        return result

    def matching_middleware(self, action: Action) -> list[ActionMiddleware]:
        """Middleware chosen by the action's identity (the Sails registry's ``register_middleware``)."""
        return []

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
