"""``hero routes``: the HTTP route table of the app, in the order requests are matched."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from hero.config import load_config
from hero.core.routes import VERBS, RouteTable, action_prefix


def table(config: Any) -> list[dict[str, Any]]:
    """Every way a request finds an action: the configured routes, then simple and query routing."""
    web = config.web
    reachable = action_prefix(web)
    if reachable is None:
        return []  # NOTE: url_path_for_actions = None and "/" serves files: no action is reachable
    prefix = reachable
    rows = []
    for route in RouteTable.from_config(config.routes).routes:
        row = route.describe()
        row["verb"] = "all" if route.verb == "all" else ("get, head" if route.verb == "get" else route.verb)
        row["path"] = prefix + route.path
        rows.append(row)
    if web.simple_routing:
        rows.append({"verb": "all", "path": f"{prefix}/<action>", "action": "<action>", "apiVersion": None,
                     "matchTrailingPathParts": False, "dir": None})
    if web.query_routing:
        rows.append({"verb": "all", "path": f"{prefix}?action=<action>", "action": "<action>", "apiVersion": None,
                     "matchTrailingPathParts": False, "dir": None})
    return rows


def command_routes(args: argparse.Namespace) -> int:
    rows = table(load_config(args.root))
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return 0
    width = max((len(row["path"]) for row in rows), default=4)
    sys.stdout.write(f"{'verb':<9}  {'path':<{width}}  target\n")
    for row in rows:
        target = f"dir {row['dir']}" if row["dir"] else row["action"]
        if row["apiVersion"] is not None:
            target += f" (apiVersion {row['apiVersion']})"
        if row["matchTrailingPathParts"]:
            target += " (matches trailing path parts)"
        sys.stdout.write(f"{row['verb']:<9}  {row['path']:<{width}}  {target}\n")
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


#: Merged into ``hero.cli.main``'s commands.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "routes": (f"list the HTTP routes ({', '.join(VERBS)}, all), in matching order", _configure, command_routes),
}
