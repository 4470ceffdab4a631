"""actionsView: every action and its metadata, in the shape of actionhero's first ``actionsView``
(docs/actions.md, Built-in actions): one entry per action name, its latest version's metadata, with
the inputs both listed (``required`` / ``optional``, as the seed had them) and described."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hero.core.action import Action, ActionData
from hero.core.params.schema import json_safe


def _rate_limit(action: Action) -> Any:
    limit = action.rate_limit
    if isinstance(limit, Mapping):
        return {key: value for key, value in limit.items() if key != "by" or isinstance(value, str)}
    return limit


def entry(action: Action, versions: list[Any]) -> dict[str, Any]:
    described = action.describe()
    inputs = described["inputs"]
    return {
        "name": action.name,
        "version": action.version,
        "versions": versions,
        "description": action.description,
        "inputs": {
            "required": [name for name, spec in inputs.items() if spec.get("required")],
            "optional": [name for name, spec in inputs.items() if not spec.get("required")],
            "details": json_safe(inputs),
        },
        "outputExample": json_safe(described["outputExample"]),
        "blockedConnectionTypes": described["blockedConnectionTypes"],
        "middleware": described["middleware"],
        "rateLimit": _rate_limit(action),
    }


class ActionsView(Action):
    name = "actionsView"
    description = "I list the actions on this server and their metadata"
    output_example = {"actions": [{"name": "randomNumber", "version": 2, "versions": [1, 2],
                                   "inputs": {"required": [], "optional": [], "details": {}}}]}

    def run(self, data: ActionData) -> dict[str, Any]:
        actions = []
        for name in sorted(data.api.actions.versions):
            latest = data.api.actions.latest[name]
            if not latest.to_document:
                continue
            versions = [action.version for action in data.api.actions if action.name == name]
            actions.append(entry(latest, versions))
        return {"actions": actions}
