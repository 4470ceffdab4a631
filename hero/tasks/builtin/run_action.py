"""runAction: run an action in-line from a task (actionhero's built-in task)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from hero.errors import TaskError
from hero.tasks.task import Task, TaskData


class RunAction(Task):
    name = "runAction"
    description = "I run an action in-line (params: action, version, params) and return its response"
    # NOTE: `action` is a reserved input name (a global safe param of actions), so the inputs are
    # checked by hand in load_params rather than declared.
    inputs: ClassVar[dict[str, Any]] = {}

    def load_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        loaded = super().load_params(params)
        if loaded.get("action") in (None, ""):
            raise TaskError(f"action is a required input for task {self.name}")
        if not isinstance(loaded.setdefault("params", {}), Mapping):
            raise TaskError(f"{loaded['params']} is not a valid value for params in task {self.name}")
        return loaded

    def run(self, params: Mapping[str, Any], worker: TaskData) -> Any:
        if worker.api is None:
            raise RuntimeError("runAction needs a booted hero")
        # NOTE: raises the action's error, so the job fails (and is retried) like any other task.
        return worker.api.actions.run(params["action"], params.get("params") or {}, version=params.get("version"))
