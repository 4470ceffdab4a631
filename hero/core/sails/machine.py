"""Sails' machine definitions (actions2) as hero actions: inputs compiled to hero inputs (so to
marshmallow, with hero's error texts and statuses), exits to statuses and bodies.

    UserCreate = machine_action({
        "friendlyName": "Create user",
        "inputs": {"email": {"type": "string", "required": True, "isEmail": True}},
        "exits": {"emailAlreadyInUse": {"statusCode": 409, "description": "Email address already in use"}},
        "fn": lambda inputs, exits: exits.emailAlreadyInUse() if inputs.email == "taken@x.io" else {"ok": True},
    }, "user/create")

``fn(inputs, exits[, env])``: returning a value is the ``success`` exit; ``exits.<name>(value)`` ends
the action through that exit (it raises :class:`Exit`); an exception whose ``exit`` attribute names
an exit picks that exit; any other exception is the ``error`` exit (500, as for any hero action).
An exit answers its ``statusCode``, else 200 for ``success``, 302 for a ``redirect`` response type,
and 500 for any other exit, as Sails does.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, cast

from hero.core.action import Action, ActionData
from hero.core.params.inputs import MISSING, Input
from hero.core.sails.classic import check_function, positional_count
from hero.core.sails.docs import describe_exits, type_of_example
from hero.core.sails.http import Request, Response
from hero.core.sails.http import answer as respond
from hero.errors import CodedError, HeroError

TYPES = ("string", "number", "boolean", "json", "ref")
RULES = ("isEmail", "isIn", "min", "max", "minLength", "maxLength", "regex", "custom")
#: Documentation-only input keys.
INPUT_NOTES = ("description", "extendedDescription", "moreInfoUrl", "whereToGet", "example", "friendlyName",
               "allowNull", "protect")
EXIT_KEYS = ("description", "statusCode", "responseType", "outputType", "outputExample", "outputDescription",
             "outputFriendlyName", "extendedDescription", "moreInfoUrl")
#: Response types hero answers (Sails' ``view`` needs a view engine, which hero does not have).
RESPONSE_TYPES = ("", "json", "ok", "redirect")
#: Python spellings accepted for Sails' keys.
ALIASES = {
    "defaults_to": "defaultsTo", "default": "defaultsTo", "is_email": "isEmail", "is_in": "isIn",
    "min_length": "minLength", "max_length": "maxLength", "status_code": "statusCode",
    "response_type": "responseType", "output_type": "outputType", "output_example": "outputExample",
    "output_description": "outputDescription", "friendly_name": "friendlyName",
    "extended_description": "extendedDescription", "more_info_url": "moreInfoUrl", "where_to_get": "whereToGet",
    "allow_null": "allowNull",
}
#: Module attributes a module-style machine definition may hold.
MODULE_KEYS = ("friendly_name", "friendlyName", "description", "extended_description", "inputs", "exits", "fn")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Exit(BaseException):  # noqa: N818 (Sails' word)
    """Ends a machine action through the exit ``exit`` with ``output``: ``exits.<name>(value)`` raises
    it, and so may your code (``raise Exit("notFound")``). A BaseException, so that an ``except
    Exception`` around the call in ``fn`` (as in Sails' own examples) does not swallow it."""

    def __init__(self, exit: str, output: Any = None) -> None:  # noqa: A002 (Sails' word)
        self.exit = exit
        self.output = output
        super().__init__(exit)


class Exits:
    """``exits.success(value)``, ``exits.<name>(value)``; ``exits.serverError`` is ``error``."""

    def __init__(self, names: frozenset[str], identity: str) -> None:
        self._names = names
        self._identity = identity

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in ("serverError", "server_error"):
            name = "error"
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"action {self._identity} has no exit `{name}` "
                                 f"(it has {', '.join(sorted(self._names))})")

        def leave(output: Any = None) -> Any:
            raise Exit(name, output)

        return leave

    def __dir__(self) -> list[str]:
        return sorted(self._names)


class Inputs(dict[str, Any]):
    """The validated inputs, by key or as attributes (``inputs.email``); a declared input that was
    not sent reads as None."""

    def __init__(self, values: Mapping[str, Any], declared: frozenset[str]) -> None:
        super().__init__(values)
        self._declared = declared

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return self[name]
        if name in self._declared:
            return None
        raise AttributeError(f"no input `{name}`")


class Env:
    """``fn(inputs, exits, env)``: ``env.req``, ``env.res``, ``env.connection``, ``env.api``."""

    def __init__(self, data: ActionData, req: Request, res: Response) -> None:
        self.req = req
        self.res = res
        self.connection = data.connection
        self.api = data.api
        self.data = data


# --- definitions ---------------------------------------------------------------------------------


def definition_of(action: Any) -> dict[str, Any] | None:
    """The machine definition in ``action`` (a dict, or a module defining ``fn``), else None."""
    if isinstance(action, Mapping):
        return dict(action)
    if isinstance(action, ModuleType):
        return {key: getattr(action, key) for key in MODULE_KEYS if hasattr(action, key)}
    return None


def _canonical(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {ALIASES.get(key, key): value for key, value in entry.items()}


def machine_action(definition: Mapping[str, Any], identity: str) -> type[Action]:
    """An Action class named ``identity`` for a machine definition; E_INVALID says what is wrong."""
    where = f"action `{identity}`"
    definition = _canonical(definition)
    unknown = sorted(set(definition) - {"friendlyName", "description", "extendedDescription", "inputs", "exits",
                                        "fn", "moreInfoUrl", "sideEffects", "timeout"})
    if unknown:
        raise CodedError("E_INVALID", f"{where}: unknown keys {', '.join(map(str, unknown))} in its definition",
                         identity=identity)
    if "fn" not in definition:
        raise CodedError("E_INVALID", f"{where}: a machine definition needs an `fn`", identity=identity)
    fn = definition["fn"]
    check_function(fn, identity, "action", range(1, 4))
    raw_inputs = definition.get("inputs") or {}
    raw_exits = definition.get("exits") or {}
    if not isinstance(raw_inputs, Mapping):
        raise CodedError("E_INVALID", f"{where}: `inputs` must be a dict", identity=identity)
    if not isinstance(raw_exits, Mapping):
        raise CodedError("E_INVALID", f"{where}: `exits` must be a dict", identity=identity)
    inputs = {name: compile_input(name, entry, where) for name, entry in raw_inputs.items()}
    machine_inputs = {name: _canonical(entry) for name, entry in raw_inputs.items()}
    exits = compile_exits(raw_exits, where)
    arguments = positional_count(fn)
    friendly = str(definition.get("friendlyName") or "")
    description = str(definition.get("description") or friendly)
    success_example = exits["success"].get("outputExample")

    def run(self: Action, data: ActionData) -> None:
        run_machine(self, data, fn, arguments, inputs, exits)

    def describe_sails(self: Action) -> dict[str, Any]:
        return {"sails": "machine", "friendlyName": friendly, "exits": describe_exits(exits)}

    body: dict[str, Any] = {
        "name": identity,
        "description": description,
        "friendly_name": friendly,
        "inputs": inputs,
        "output_example": success_example if isinstance(success_example, Mapping) else {},
        "sails": "machine",
        "matches_extension_mime_type": False,  # JSON, whatever the last path part ends with
        "machine_inputs": machine_inputs,
        "exits": exits,
        "handler": staticmethod(fn),
        "run": run,
        "describe_sails": describe_sails,
        "__module__": getattr(fn, "__module__", __name__),
        "__doc__": description,
    }
    if isinstance(definition.get("timeout"), (int, float)) and not isinstance(definition["timeout"], bool):
        body["timeout"] = definition["timeout"] / 1000  # Sails' machines count milliseconds
    return cast(type[Action], type(f"{re.sub(r'[^0-9A-Za-z_]', '_', identity)}_machine", (Action,), body))


def compile_input(name: str, entry: Any, where: str) -> Input:
    """One Sails input as a hero :class:`Input`: the type coerces (the formatter), the rules validate."""
    if not isinstance(entry, Mapping):
        raise CodedError("E_INVALID", f"{where}: input `{name}` must be a dict, not {type(entry).__name__}")
    entry = _canonical(entry)
    unknown = sorted(set(entry) - {"type", "required", "defaultsTo", *RULES, *INPUT_NOTES})
    if unknown:
        raise CodedError("E_INVALID", f"{where}: input `{name}` has an unknown rule {', '.join(map(str, unknown))} "
                         f"(rules: {', '.join(RULES)})")
    kind = entry.get("type")
    if kind is None and "example" in entry:
        kind = type_of_example(entry["example"])
    if kind not in TYPES:
        raise CodedError("E_INVALID", f"{where}: input `{name}` has an unknown type {kind!r} "
                         f"(types: {', '.join(TYPES)})")
    validators = [rule_check(name, rule, entry[rule], kind, where) for rule in RULES if rule in entry]
    return Input(
        required=bool(entry.get("required", False)),
        default=entry.get("defaultsTo", MISSING),
        formatter=coercer(name, kind, allow_null=bool(entry.get("allowNull"))),
        validator=validators or None,
        description=str(entry.get("description") or ""),
    )


def coercer(name: str, kind: str, *, allow_null: bool = False) -> Callable[[Any], Any]:
    """The formatter of a Sails type: a value of that type, or a ValueError naming the input."""

    def coerce(value: Any) -> Any:
        if value is None and allow_null:
            return None
        if kind == "string":
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
            raise ValueError(f"{name} must be a string")
        if kind == "number":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                try:
                    number = float(value.strip())
                except ValueError:
                    pass
                else:
                    if number == number and number not in (float("inf"), float("-inf")):
                        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() \
                            else number
            raise ValueError(f"{name} must be a number")
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if value in (1, 0) or (isinstance(value, str) and value.lower() in ("true", "false", "1", "0")):
                return str(value).lower() in ("true", "1")
            raise ValueError(f"{name} must be a boolean")
        return value  # json and ref: any value

    return coerce


def rule_check(name: str, rule: str, option: Any, kind: str, where: str) -> Callable[[Any], Any]:
    """A validator for one Sails rule (its message names the input), or E_INVALID for a bad option."""

    def bad(text: str) -> CodedError:
        return CodedError("E_INVALID", f"{where}: input `{name}`: {rule} {text}")

    if rule == "isEmail":
        return lambda value: bool(isinstance(value, str) and _EMAIL.match(value)) or \
            f"{name} must be an email address"
    if rule == "isIn":
        if isinstance(option, (str, bytes)) or not isinstance(option, (list, tuple, set, frozenset)):
            raise bad("must be a list of the allowed values")
        allowed = list(option)
        return lambda value: value in allowed or f"{name} must be one of {', '.join(map(str, allowed))}"
    if rule in ("min", "max"):
        if isinstance(option, bool) or not isinstance(option, (int, float)):
            raise bad("must be a number")
        if rule == "min":
            return lambda value: (_is_number(value) and value >= option) or f"{name} must be at least {option}"
        return lambda value: (_is_number(value) and value <= option) or f"{name} must be at most {option}"
    if rule in ("minLength", "maxLength"):
        if isinstance(option, bool) or not isinstance(option, int) or option < 0:
            raise bad("must be a whole number >= 0")
        if rule == "minLength":
            return lambda value: (hasattr(value, "__len__") and len(value) >= option) or \
                f"{name} must be at least {option} characters long"
        return lambda value: (hasattr(value, "__len__") and len(value) <= option) or \
            f"{name} must be at most {option} characters long"
    if rule == "regex":
        try:
            pattern = option if isinstance(option, re.Pattern) else re.compile(option)
        except (re.error, TypeError) as error:
            raise bad(f"is not a regular expression ({error})") from None
        return lambda value: bool(isinstance(value, str) and pattern.search(value)) or \
            f"{name} must match /{pattern.pattern}/"
    if not callable(option):  # custom
        raise bad("must be a function of the value")
    return cast(Callable[[Any], Any], option)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compile_exits(raw: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Every exit (``success`` and ``error`` always) with its ``statusCode`` worked out."""
    exits: dict[str, dict[str, Any]] = {}
    for name, entry in {"success": {}, "error": {}, **raw}.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise CodedError("E_INVALID", f"{where}: exit name {name!r} must be an identifier")
        if entry is None:
            entry = {}
        if not isinstance(entry, Mapping):
            raise CodedError("E_INVALID", f"{where}: exit `{name}` must be a dict, not {type(entry).__name__}")
        entry = _canonical(entry)
        unknown = sorted(set(entry) - set(EXIT_KEYS))
        if unknown:
            raise CodedError("E_INVALID", f"{where}: exit `{name}` has unknown keys {', '.join(map(str, unknown))}")
        response_type = entry.get("responseType") or ""
        if response_type not in RESPONSE_TYPES:
            raise CodedError("E_INVALID", f"{where}: exit `{name}` has responseType {response_type!r}; hero answers "
                             f"{', '.join(repr(t) for t in RESPONSE_TYPES)} (it has no views)")
        status = entry.get("statusCode")
        if status is None:
            status = 200 if name == "success" else 302 if response_type == "redirect" else 500
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise CodedError("E_INVALID", f"{where}: exit `{name}` has statusCode {status!r}; it must be 100..599")
        exits[name] = {**entry, "statusCode": status, "responseType": response_type}
    return exits


# --- running ---------------------------------------------------------------------------------------


def run_machine(action: Action, data: ActionData, fn: Callable[..., Any], arguments: int | None,
                inputs: Mapping[str, Input], exits: Mapping[str, Mapping[str, Any]]) -> None:
    req, res = Request(data), Response(data)
    values = Inputs(data.params, frozenset(inputs))
    for key in ("action", "apiVersion", "callback", "messageId", "file"):
        if key not in inputs:
            values.pop(key, None)
    call = [values, Exits(frozenset(exits), action.name), Env(data, req, res)]
    try:
        result = fn(*call[:arguments if arguments is not None else 3])
    except Exit as leaving:
        name, output = leaving.exit, leaving.output
    except Exception as error:
        chosen = getattr(error, "exit", None)
        if not (isinstance(chosen, str) and chosen in exits and chosen != "error"):
            if exits["error"]["statusCode"] != 500 and not isinstance(error, HeroError):
                answer(data, res, "error", exits["error"], error)  # a declared `error` exit with its own status
                return
            raise  # hero's rules: 500 with the message, or the exception's own status
        name = chosen
        output = getattr(error, "output", error if name != "success" else None)
    else:
        name, output = "success", result
    if res.sent:
        return  # env.res answered already
    if name not in exits:
        raise RuntimeError(f"action {action.name} has no exit `{name}` (it has {', '.join(sorted(exits))})")
    answer(data, res, name, exits[name], output)


def answer(data: ActionData, res: Response, name: str, exit_: Mapping[str, Any], output: Any) -> None:
    """Answer through one exit: its status, and its output as the body."""
    status = exit_["statusCode"]
    if exit_.get("responseType") == "redirect" and isinstance(output, str):
        res.redirect(output, status)
        return
    res.status(status)
    respond(data, output, status, exit_.get("description") or name)
    res.sent = True
