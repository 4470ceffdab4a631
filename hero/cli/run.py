"""``hero run``: one action through the whole pipeline, from a shell (docs/actions.md, From the command line).

    hero run randomNumber
    hero run cacheTest --key abc --value hello        # params as a web query gives them (strings)
    hero run cacheTest --params '{"key": "abc", "value": "hello"}'
    hero run --help cacheTest                         # the action's inputs

The action runs on a connection of type ``cli`` (so ``blocked_connection_types`` and middleware
apply) in a booted app without its servers. The response is printed as JSON on stdout; a streaming
action prints one JSON line per chunk as it comes. When the action fails, its error text goes to
stderr and the exit status is 1 (2 for a command line hero cannot read).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hero.core.connection import Connection
from hero.core.stream import chunk_value, close_stream
from hero.errors import UnknownAction

if TYPE_CHECKING:
    from hero.core.action import Action

#: The connection type of ``hero run`` (what ``blocked_connection_types`` names).
CONNECTION_TYPE = "cli"
USAGE = "usage: hero run [--help] <action> [--params JSON] [--<input> VALUE ...]\n"


class UsageError(Exception):
    """The command line cannot be read; the message says why."""


def parse_params(words: Sequence[str]) -> dict[str, Any]:
    """``--key value`` / ``--key=value`` pairs (a lone ``--flag`` is true) and ``--params '{...}'``
    (the pairs win over it)."""
    params: dict[str, Any] = {}
    given: dict[str, Any] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("--") or word == "--":
            raise UsageError(f"expected --<input> VALUE, got {word!r}")
        name, has_value, text = word[2:].partition("=")
        value: str | bool = text
        if not has_value:
            if index + 1 < len(words) and not words[index + 1].startswith("--"):
                value = words[index + 1]
                index += 1
            else:
                value = True
        index += 1
        if name == "params":
            try:
                loaded = json.loads(str(value))
            except ValueError as error:
                raise UsageError(f"--params must be a JSON object: {error}") from None
            if not isinstance(loaded, dict):
                raise UsageError("--params must be a JSON object")
            params.update(loaded)
        else:
            given[name] = value
    params.update(given)
    return params


def describe_inputs(action: Action) -> str:
    """``hero run --help <action>``: the action, its description and its inputs."""
    lines = [f"hero run {action.name} [--<input> VALUE ...]", ""]
    if action.description:
        lines += [action.description, ""]
    inputs = action.params.describe()
    if not inputs:
        lines.append("no inputs")
    for name, info in inputs.items():
        notes = ["required" if info.get("required") else "optional"]
        if info.get("default") is not None:
            notes.append(f"default {info['default']!r}")
        description = f"  {info['description']}" if info.get("description") else ""
        lines.append(f"  --{name}  ({', '.join(notes)}){description}")
    if action.streaming:
        lines += ["", "streams its answer: one JSON line per chunk"]
    return "\n".join(lines) + "\n"


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-h", "--help", dest="show_help", action="store_true", help="show the action's inputs")
    parser.add_argument("words", nargs=argparse.REMAINDER, help="the action's name, then its params")


def command_run(args: argparse.Namespace) -> int:
    words: list[str] = list(args.words)
    if words and words[0] in ("-h", "--help"):
        args.show_help, words = True, words[1:]
    if not words or words[0].startswith("-"):
        sys.stdout.write(USAGE) if args.show_help else sys.stderr.write(USAGE)
        return 0 if args.show_help else 2
    name, rest = words[0], words[1:]
    if "--help" in rest or "-h" in rest:
        args.show_help = True
        rest = [word for word in rest if word not in ("--help", "-h")]
    try:
        params = parse_params(rest)
    except UsageError as error:
        sys.stderr.write(f"hero run: {error}\n{USAGE}")
        return 2
    # NOTE: imported here: hero.process brings gevent, redis and rq, which hero.cli.main patches first.
    from hero.process import Process

    # NOTE: no servers, no task workers or scheduler (the process ends with the action), and only
    # critical log lines: stdout is the response, stderr its error.
    process = Process(args.root, overrides={
        "web": {"enabled": False}, "socket": {"enabled": False}, "tasks": {"workers": 0, "scheduler": False},
        "logger": {"level": "critical"}})
    api = process.start()
    try:
        if args.show_help:
            try:
                action = api.actions.find(name)
            except UnknownAction as error:
                sys.stderr.write(f"hero run: {error.message}: {name}\n")
                return 1
            sys.stdout.write(describe_inputs(action))
            return 0
        return _run(api, name, params)
    finally:
        process.stop()


def _run(api: Any, name: str, params: dict[str, Any]) -> int:
    connection = Connection(type=CONNECTION_TYPE, remote_ip="127.0.0.1", remote_port=0)
    try:
        api.connections.add(connection)
    except Exception as error:  # a connection middleware refused it
        sys.stderr.write(f"hero run: {error}\n")
        return 1
    try:
        data = api.processor.process(connection, {**params, "action": name})
        if "error" in data.response:
            sys.stderr.write(f"{data.response['error']}\n")
            return 1
        if data.stream is not None:
            return _print_stream(data.stream)
        sys.stdout.write(json.dumps(data.response, indent=2, default=str) + "\n")
        return 0
    finally:
        api.connections.remove(connection)


def _print_stream(stream: Any) -> int:
    try:
        for chunk in stream:
            sys.stdout.write(json.dumps(chunk_value(chunk), default=str) + "\n")
            sys.stdout.flush()
    except Exception as error:
        sys.stderr.write(f"{error}\n")
        return 1
    finally:
        close_stream(stream)
    return 0


COMMANDS = {
    "run": ("run one action through the pipeline (connection type cli) and print its response", _configure,
            command_run),
}
