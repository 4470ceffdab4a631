"""hero's configuration: defaults per namespace, overlaid by the app's ``config.py``, by its
environment section, and by the process environment (``HERO_*``, ``PORT``, ``REDIS_URL``...).

Layers, later wins:
1. :data:`hero.defaults.DEFAULTS`;
2. the app's ``config.py``: a plain dict per namespace (``web = {...}``);
3. the same file's dict for the current environment (``test = {"web": {...}}``);
4. the environment: ``PORT``, ``HERO_SOCKET_PORT``, ``HERO_BIND``, ``REDIS_URL`` and, generically,
   ``HERO_<NAMESPACE>__<KEY>=<value>`` (JSON when it parses, else the string).

Nothing reads the config at import time; :func:`load_config` builds a read-only :class:`Config`
once at boot, and a wrong value fails the boot with the key named.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from hero.defaults import (
    DEFAULTS,
    ENV_SHORTCUTS,
    ENVIRONMENT_DEFAULTS,
    ENVIRONMENTS,
    FREE_FORM,
    PLUGIN_PARTS,
)
from hero.errors import ConfigError

__all__ = ["DEFAULTS", "ENVIRONMENTS", "Config", "Namespace", "load_config", "merge", "plugin_root"]


class Namespace(Mapping[str, Any]):
    """A read-only mapping with attribute access: ``config.web.port`` or ``config["web"]["port"]``."""

    __slots__ = ("_name", "_values")

    def __init__(self, name: str, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", {key: _freeze(f"{name}.{key}", value) for key, value in values.items()})

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config has no key {self._name}.{key}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise TypeError(f"config is read-only after boot ({self._name}.{key})")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Namespace({self._name!r}, {dict(self._values)!r})"

    def to_dict(self) -> dict[str, Any]:
        return {key: _thaw(value) for key, value in self._values.items()}


def _freeze(name: str, value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, Namespace):
        return Namespace(name, value)
    if isinstance(value, list):
        return tuple(_freeze(name, item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Namespace):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


class Config(Namespace):
    """The whole configuration: one :class:`Namespace` per section, plus where it came from."""

    __slots__ = ("env", "root")

    def __init__(self, values: Mapping[str, Any], *, env: str, root: Path) -> None:
        super().__init__("config", values)
        object.__setattr__(self, "env", env)
        object.__setattr__(self, "root", root)

    def __repr__(self) -> str:
        return f"Config(env={self.env!r}, root={str(self.root)!r})"

    def path(self, kind: str) -> Path:
        """An app folder (``actions``, ``tasks``, ``initializers``, ``public``) as an absolute path."""
        return (self.root / self.general.paths[kind]).resolve()

    def sources(self, kind: str) -> list[tuple[str, Path]]:
        """Where ``kind`` loads from, in order, each with a module namespace: the app's folder, then
        that folder of each plugin that brings it (see ``plugins``)."""
        found = [(kind, self.path(kind))]
        for name, entry in self.plugins.items():
            folder = plugin_root(name, entry, self.root) / kind
            if entry.get(kind, True) and folder.is_dir():
                found.append((f"plugins.{name}.{kind}", folder))
        return found


def merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overlay`` into a copy of ``base``: mappings merge, anything else replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(dict(merged[key]), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_app_module(root: Path) -> ModuleType | None:
    """Import the app's ``config.py`` from ``root`` (None when there is none)."""
    path = root / "config.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("hero_app_config", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ConfigError(f"{path} failed to load: {type(error).__name__}: {error}") from error
    return module


def _app_layers(module: ModuleType | None, env: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if module is None:
        return {}, {}
    base: dict[str, Any] = {}
    for namespace in DEFAULTS:
        value = getattr(module, namespace, None)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"config.py: `{namespace}` must be a dict, got {type(value).__name__}")
        base[namespace] = value
    section = getattr(module, env, None) or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"config.py: `{env}` must be a dict of namespaces, got {type(section).__name__}")
    return base, dict(section)


def unknown_key(name: str, known: list[str]) -> ConfigError:
    """The error for a key hero does not have: ``config web.prot is not a setting; did you mean web.port?``"""
    # NOTE: lazy: only a config with a mistake needs difflib; a server that boots never loads it.
    import difflib

    parent, _, leaf = name.rpartition(".")
    if parent in known:  # a known section: its own keys are the candidates, compared by their last part
        siblings = {key.rpartition(".")[2]: key for key in known if key.rpartition(".")[0] == parent}
        close = [siblings[match] for match in difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)]
    else:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return ConfigError(f"config {name} is not a setting{hint}")


def known_keys(defaults: Mapping[str, Any] = DEFAULTS, where: str = "") -> list[str]:
    """Every settable dotted key under ``defaults`` (a free-form namespace or dict counts as one key)."""
    found: list[str] = []
    for key, value in defaults.items():
        name = f"{where}.{key}" if where else key
        found.append(name)
        if isinstance(value, Mapping) and value and name not in FREE_FORM:
            found += known_keys(value, name)
    return found


def _parse_env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for variable, (namespace, key) in ENV_SHORTCUTS.items():
        if environ.get(variable):
            value = environ[variable] if variable == "REDIS_URL" else _parse_env_value(environ[variable])
            layer.setdefault(namespace, {})[key] = value
    if environ.get("ALLOWED_HOSTS"):
        # NOTE: seed 001: comma-separated hosts with their protocol (``https://example.com``).
        hosts = [host.strip() for host in environ["ALLOWED_HOSTS"].split(",") if host.strip()]
        layer.setdefault("web", {})["allowed_hosts"] = hosts
    if environ.get("HERO_BIND"):
        for namespace in ("web", "socket"):
            layer.setdefault(namespace, {})["bind"] = environ["HERO_BIND"]
    for variable, raw in environ.items():
        if not variable.startswith("HERO_") or "__" not in variable:
            continue
        namespace, _, key = variable[len("HERO_"):].partition("__")
        namespace, key = namespace.lower(), key.lower()
        if namespace not in DEFAULTS or (namespace not in FREE_FORM and key not in DEFAULTS[namespace]):
            raise ConfigError(f"{variable}: {unknown_key(f'{namespace}.{key}', known_keys()).message}")
        layer.setdefault(namespace, {})[key] = _parse_env_value(raw)
    return layer


def _check_types(values: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> None:
    """Fail on a key hero does not have, or a value whose type cannot be what its default expects."""
    for key, value in values.items():
        if key not in defaults:
            raise unknown_key(f"{where}.{key}", known_keys())
        default = defaults[key]
        name = f"{where}.{key}"
        if value is None and not key.endswith("port"):
            continue  # None means "off" or "unset" for any key but a port
        if name == "web.port" and isinstance(value, str):
            continue  # NOTE: a Unix socket path (seed 001: "Port or Socket Path"), checked in _check_values
        if isinstance(default, Mapping) and key not in ("metadata",) and not default:
            continue  # free-form dicts (http_headers, starting_chat_rooms)
        if isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config {name} must be a mapping, got {value!r}")
            _check_types(value, default, name)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"config {name} must be true or false, got {value!r}")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"config {name} must be a number, got {value!r}")
            if value < 0:
                raise ConfigError(f"config {name} must not be negative, got {value!r}")
            if isinstance(default, int) and not isinstance(value, int) and key.endswith(("port", "bytes", "actions")):
                raise ConfigError(f"config {name} must be a whole number, got {value!r}")
        elif isinstance(default, list):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"config {name} must be a list, got {value!r}")
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise ConfigError(f"config {name} must be a string, got {value!r}")


#: The longest Unix socket path the kernel takes (``sun_path`` is 108 bytes with its NUL).
UNIX_PATH_BYTES = 107


def _check_values(values: Mapping[str, Any]) -> None:
    for namespace in ("web", "socket"):
        port = values[namespace]["port"]
        if namespace == "web" and isinstance(port, str) and "/" in port:
            if len(os.fsencode(port)) > UNIX_PATH_BYTES or "\0" in port:
                raise ConfigError(f"config web.port: a Unix socket path must be at most {UNIX_PATH_BYTES} bytes, got {port!r}")
            continue
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            also = " or a Unix socket path (with a /)" if namespace == "web" else ""
            raise ConfigError(f"config {namespace}.port must be between 0 and 65535{also}, got {port!r}")
    if values["web"].get("query_parse") not in ("flat", "nested"):
        raise ConfigError(f"config web.query_parse must be \"flat\" or \"nested\", got {values['web'].get('query_parse')!r}")
    room = values["socket"].get("default_room")
    if room is not None and (not isinstance(room, str) or not room.strip() or " " in room):
        raise ConfigError(f"config socket.default_room must be a room name without spaces, got {room!r}")
    level = str(values["logger"]["level"]).lower()
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ConfigError(f"config logger.level must be debug, info, warning, error or critical, got {level!r}")
    metrics = values["metrics"]
    for namespace in ("metrics", "otel"):
        if not (values[namespace]["enabled"] is None or isinstance(values[namespace]["enabled"], bool)):
            raise ConfigError(f"config {namespace}.enabled must be true, false or null, "
                              f"got {values[namespace]['enabled']!r}")
    if not str(metrics["path"]).startswith("/"):
        raise ConfigError(f"config metrics.path must start with /, got {metrics['path']!r}")
    if metrics["flush_interval"] <= 0:
        raise ConfigError("config metrics.flush_interval must be more than 0")
    if not metrics["buckets"] or not all(isinstance(bound, (int, float)) and not isinstance(bound, bool)
                                         and bound > 0 for bound in metrics["buckets"]):
        raise ConfigError(f"config metrics.buckets must be positive numbers, got {metrics['buckets']!r}")
    if values["logger"]["format"] not in ("text", "json"):
        raise ConfigError(f"config logger.format must be text or json, got {values['logger']['format']!r}")
    if values["general"]["simultaneous_actions"] < 1:
        raise ConfigError("config general.simultaneous_actions must be at least 1")
    _check_limits(values)


#: Limits whose 0 means "off", documented as such (every other limit must be a positive number).
ZERO_MEANS_OFF = frozenset({"general.max_blocking_time", "general.action_timeout", "models.max_overflow"})


def is_limit(key: str) -> bool:
    """A bound hero enforces, by its name: ``max_*``, ``*_timeout``, ``*_bytes``, ``*_window``."""
    name = key.rpartition(".")[2]
    return name.startswith("max_") or name.endswith(("_timeout", "_bytes", "_window"))


def _check_limits(values: Mapping[str, Any]) -> None:
    """A limit set to 0 or less would turn a bound off (or make every request fail): refuse it,
    naming the key. None keeps its meaning where the default allows it (e.g. the kernel's value)."""
    for namespace, defaults in DEFAULTS.items():
        for name in defaults:
            key = f"{namespace}.{name}"
            value = values[namespace].get(name)
            if (not is_limit(key) or key in ZERO_MEANS_OFF or value is None or isinstance(value, bool)
                    or not isinstance(value, (int, float))):
                continue
            if value <= 0:
                raise ConfigError(f"config {key} is a limit and must be a positive number, got {value!r}")


def plugin_root(name: str, entry: Mapping[str, Any], app_root: Path) -> Path:
    """The folder of plugin ``name``: its ``path`` (relative to the app) or its ``module``'s package."""
    if "module" in entry:
        try:
            spec = importlib.util.find_spec(str(entry["module"]))
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations:
            raise ConfigError(f"config plugins.{name}: no package {entry['module']!r} to import")
        return Path(locations[0]).resolve()
    return (app_root / str(entry["path"])).resolve()


def _check_plugins(plugins: Mapping[str, Any], app_root: Path) -> None:
    for name, entry in plugins.items():
        where = f"config plugins.{name}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where} must be a dict with a `path` or a `module`, got {entry!r}")
        if ("path" in entry) == ("module" in entry):
            raise ConfigError(f"{where} needs one of `path` (a folder) or `module` (a package)")
        for key, value in entry.items():
            if key in PLUGIN_PARTS:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}.{key} must be true or false, got {value!r}")
            elif key not in ("path", "module"):
                raise ConfigError(f"{where}: unknown key `{key}` (path, module, {', '.join(PLUGIN_PARTS)})")
        folder = plugin_root(name, entry, app_root)
        if not folder.is_dir():
            raise ConfigError(f"{where}: {folder} is not a folder")


def load_config(root: str | Path = ".", *, env: str | None = None,
                environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the configuration of the app in ``root`` for ``env`` (default: ``HERO_ENV`` or development).

    ``overrides`` (namespace → dict) is applied last; tests use it.
    """
    environ = os.environ if environ is None else environ
    env = env or environ.get("HERO_ENV") or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"HERO_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    root = Path(root).resolve()
    app_base, app_env = _app_layers(load_app_module(root), env)
    values: dict[str, Any] = copy.deepcopy(DEFAULTS)
    for layer in (ENVIRONMENT_DEFAULTS.get(env, {}), app_base, app_env, _env_layer(environ), overrides or {}):
        for namespace, section in layer.items():
            if namespace not in values:
                raise unknown_key(namespace, known_keys())
            if not isinstance(section, Mapping):
                raise ConfigError(f"config `{namespace}` must be a dict, got {type(section).__name__}")
            if namespace not in FREE_FORM:
                _check_types(section, DEFAULTS[namespace], namespace)
            values[namespace] = merge(values[namespace], section)
    _check_values(values)
    _check_plugins(values["plugins"], root)
    return Config(values, env=env, root=root)
