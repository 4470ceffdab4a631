"""The ``hero`` command (also ``python -m hero``).

    hero start [--reload]      boot everything configured; stop cleanly on SIGINT/SIGTERM/SIGHUP
                               (--reload: restart whenever the app's .py files change)
    hero actions [--json]      list the app's actions with their versions and inputs
    hero console               a Python prompt with the app booted (``api``)
    hero generate KIND NAME    a new project, action, task, initializer or server
    hero run ACTION [--k v]    run one action (connection type cli) and print its response
    hero version               (also ``hero --version``)
    hero asyncapi              print the AsyncAPI document of the WebSocket and TCP interfaces
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hero import __version__
from hero.errors import BootError

if TYPE_CHECKING:
    # NOTE: for annotations only: the commands import hero.process once main() has patched gevent.
    from hero.container import Api
    from hero.process import Process

log = logging.getLogger("hero.cli")


def _patch() -> None:
    # NOTE: the CLI is an entry point: gevent patches here, once, before anything else is imported.
    from gevent import monkey

    monkey.patch_all()
    # NOTE: right after patching, before anything imports redis (issue 17: an idle process's memory).
    from hero.runtime.memory import lean_imports

    lean_imports()


def _process(args: argparse.Namespace, **kwargs: Any) -> Process:
    # NOTE: imported here, as in every command below: hero.process brings gevent, redis and rq, which
    # main() must patch first (and which `hero generate`, `hero routes` and `--help` never need).
    from hero.process import Process

    return Process(args.root, **kwargs)


def command_start(args: argparse.Namespace) -> int:
    if args.reload:
        # NOTE: lazy, as generate below: a server that does not reload never needs the reloader's modules.
        from hero.cli.reloader import reload_forever

        return reload_forever(args.root)
    process = _process(args)

    def ready(api: Api) -> None:
        for server in api.servers.values():
            sys.stdout.write(f"hero {server.type} server listening on {server.url}\n")
        sys.stdout.write(f"hero ready: {api.config.general.server_name} (env {api.env}, id {api.id}); "
                         "press CTRL+C to stop\n")
        sys.stdout.flush()

    return process.run_forever(on_ready=ready)


def command_actions(args: argparse.Namespace) -> int:
    process = _process(args, overrides={"web": {"enabled": False}, "socket": {"enabled": False}})
    api = process.initialize()
    try:
        entries = [action.describe() for action in api.actions]
        if args.json:
            sys.stdout.write(json.dumps(entries, indent=2, default=str) + "\n")
            return 0
        width = max((len(entry["name"]) for entry in entries), default=4)
        sys.stdout.write(f"{'name':<{width}}  version  inputs\n")
        for entry in entries:
            inputs = ", ".join(f"{name}{'*' if spec.get('required') else ''}" for name, spec in entry["inputs"].items())
            sys.stdout.write(f"{entry['name']:<{width}}  {str(entry['version']):<7}  {inputs}\n")
        return 0
    finally:
        process.stop()


def command_console(args: argparse.Namespace) -> int:
    import code

    process = _process(args, overrides={"web": {"enabled": False}, "socket": {"enabled": False}})
    api = process.start()
    try:
        code.interact(banner=f"hero console ({api.env}); `api` is the booted app", local={"api": api}, exitmsg="")
    finally:
        process.stop()
    return 0


def command_asyncapi(args: argparse.Namespace) -> int:
    """Print the AsyncAPI document; the app is initialized (its config and actions), nothing listens."""
    process = _process(args)
    api = process.initialize()
    try:
        sys.stdout.write(json.dumps(api.processor.run_inline("asyncapi"), indent=2) + "\n")
        return 0
    finally:
        process.stop()


def _configure_generate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["project", "action", "task", "initializer", "server"])
    parser.add_argument("name")
    parser.add_argument("--description", default="")
    parser.add_argument("--sails", action="store_true",
                        help="action only: a Sails-style machine action named by its path (user/create), and its test")


def command_generate(args: argparse.Namespace) -> int:
    # NOTE: lazy: only `hero generate` writes files from templates; a server keeps them out of memory.
    from hero.cli.generate import generate, generate_sails

    if args.sails:
        if args.kind != "action":
            raise BootError("--sails makes actions only: hero generate action --sails user/create")
        for path in generate_sails(args.name, Path(args.root), args.description):
            sys.stdout.write(f"created {path}\n")
        return 0
    path = generate(args.kind, args.name, Path(args.root), args.description)
    sys.stdout.write(f"created {path}\n")
    return 0


def command_version(args: argparse.Namespace) -> int:
    sys.stdout.write(f"hero {__version__}\n")
    return 0


#: Subcommands: name → (help, configure-parser, run). Other modules add theirs with :func:`command`.
#: NOTE: configure's result is ignored (``object``), so a lambda may return add_argument's Action.
def _configure_start(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reload", action="store_true",
                        help="development: restart the server whenever a .py file of the app changes")


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], object], Callable[[argparse.Namespace], int]]] = {
    "start": ("boot the server and block until SIGINT/SIGTERM", _configure_start, command_start),
    "actions": ("list actions with versions and inputs",
                lambda parser: parser.add_argument("--json", action="store_true", help="print JSON"),
                command_actions),
    "version": ("print hero's version", lambda parser: None, command_version),
    "console": ("a Python prompt with the app booted as `api`", lambda parser: None, command_console),
    "generate": ("create a project, action, task, initializer or server", _configure_generate, command_generate),
    "asyncapi": ("print the AsyncAPI 3.0 document of the WebSocket and TCP interfaces", lambda parser: None,
                 command_asyncapi),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hero", description="hero: actionhero for Python")
    parser.add_argument("--version", action="version", version=f"hero {__version__}")
    parser.add_argument("--root", default=os.environ.get("HERO_ROOT", "."),
                        help="folder of the app (config.py, actions/, ...); default: the current one")
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    for name, (help_text, configure, _) in _all_commands().items():
        # NOTE: `hero run --help <action>` shows the action's inputs: that command reads --help itself.
        configure(subparsers.add_parser(name, help=help_text, description=help_text, add_help=name not in OWN_HELP))
    return parser


def _all_commands() -> dict[str, tuple[str, Callable[[argparse.ArgumentParser], object],
                                       Callable[[argparse.Namespace], int]]]:
    commands = dict(COMMANDS)
    # NOTE: commands that belong to optional parts live beside them (hero.cli.tasks etc.).
    import importlib
    import importlib.util

    for module_name in ("hero.cli.tasks", "hero.cli.routes", "hero.cli.run"):
        if importlib.util.find_spec(module_name) is not None:
            commands.update(importlib.import_module(module_name).COMMANDS)
    return commands


#: Commands that read ``--help`` themselves.
OWN_HELP = frozenset({"run"})

#: Commands that must run in an unpatched process: `hero worker` forks RQ work-horses, and a fork
#: of a gevent-patched process is broken (docs/deployment.md, Workers).
UNPATCHED_COMMANDS = frozenset({"worker"})


def _command_name(argv: Sequence[str]) -> str | None:
    """The subcommand in ``argv``, found without importing anything (``--root X`` is skipped)."""
    items = iter(argv)
    for item in items:
        if item == "--root":
            next(items, None)
        elif not item.startswith("-"):
            return item
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if _command_name(sys.argv[1:] if argv is None else argv) not in UNPATCHED_COMMANDS:
        _patch()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    sys.path.insert(0, os.path.abspath(args.root))
    try:
        return _all_commands()[args.command][2](args)
    except BootError as error:
        sys.stderr.write(f"hero: {error.message}\n")
        if os.environ.get("HERO_GENERAL__DEBUG") == "true":
            raise
        return 1
    except KeyboardInterrupt:
        return 130
