"""Run actions (and later tasks and verbs) without a network, for app authors' tests.

    helper = SpecHelper.boot("path/to/app")        # the app in the test environment, no listeners
    response = helper.run_action("cacheTest", key="greeting", value="hello")
    helper.stop()

Or, with pytest, the ``spec_helper`` fixture of hero's plugin does the same per test session.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hero.container import Api
from hero.core.connection import Connection
from hero.process import Process
from hero.servers.verbs import ALL_VERBS, run_verb
from hero.tasks.task import TaskData

#: The connection type of spec-helper connections (actionhero's ``testServer``).
TEST_CONNECTION_TYPE = "testServer"


class SpecHelper:
    """Wraps a booted test-environment process."""

    #: Add ``messageId``, ``serverInformation`` and ``requesterInformation`` to responses.
    return_metadata: bool = True

    def __init__(self, process: Process) -> None:
        self.process = process

    def __repr__(self) -> str:
        return f"SpecHelper({self.process!r})"

    @classmethod
    def boot(cls, root: str | Path = ".", *, servers: bool = False,
             overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> "SpecHelper":
        """Start the app in ``root`` in the test environment; without network servers unless asked.

        Nor task workers or the task scheduler (as actionhero's test environment): enqueued jobs
        stay where tests can find them (``find_enqueued_tasks``), and ``run_full_task`` runs in-line.
        Pass ``overrides={"tasks": {"workers": 1, "scheduler": True}}`` to have them.
        """
        layers: dict[str, dict[str, Any]] = {} if servers else {"web": {"enabled": False}, "socket": {"enabled": False},
                                                                 "servers": {"enabled": False}}
        layers["tasks"] = {"workers": 0, "scheduler": False}
        for namespace, values in (overrides or {}).items():
            layers[namespace] = {**layers.get(namespace, {}), **values}
        process = Process(root, env="test", overrides=layers, environ=environ)
        api = process.initialize()
        if api.tasks is not None:
            api.tasks.warn_without_workers = False  # on purpose here
        process.start()
        return cls(process)

    @property
    def api(self) -> Api:
        assert self.process.api is not None
        return self.process.api

    def stop(self) -> None:
        self.process.stop()

    def build_connection(self, **attributes: Any) -> Connection:
        """A registered test connection whose pushed messages collect in ``connection.messages``."""
        messages: list[dict[str, Any]] = []
        connection = Connection(type=TEST_CONNECTION_TYPE, remote_ip="testServer", remote_port=0, can_chat=True,
                                send=messages.append, **attributes)
        connection.messages = messages  # type: ignore[attr-defined]
        self.api.connections.add(connection)
        messages.append({"welcome": self.api.config.general.welcome_message, "context": "api"})
        return connection

    def run_verb(self, connection: Connection, verb: str, *args: Any) -> Any:
        """Run a persistent-connection verb (``roomAdd``, ``say``, ...) as a TCP client would; raises its error."""
        return run_verb(self.api, connection, verb, list(args), allowed=ALL_VERBS)

    def run_action(self, name: str, params: Mapping[str, Any] | None = None, /, *,
                   connection: Connection | None = None, **more_params: Any) -> dict[str, Any]:
        """Run an action through the whole pipeline; returns the response (``error`` on failure).

        Params come as a dict, as keywords, or both (``name`` and ``params`` are positional-only, so
        an input may be called ``name``).
        """
        own = connection is None
        connection = connection or self.build_connection()
        raw = {**(params or {}), **more_params, "action": name}
        message_id = raw.get("messageId") or str(uuid.uuid4())
        try:
            data = self.api.processor.process(connection, raw, message_id=message_id)
        finally:
            if own:
                self.api.connections.remove(connection)
        response = dict(data.response)
        if self.return_metadata:
            response["messageId"] = message_id
            response["serverInformation"] = {
                "serverName": self.api.config.general.server_name,
                "apiVersion": self.api.config.general.api_version,
            }
            response["requesterInformation"] = {
                "id": connection.id,
                "remoteIP": connection.remote_ip,
                "receivedParams": dict(data.params),
            }
        return response

    # --- tasks (actionhero's specHelper.runTask / runFullTask / findEnqueuedTasks) -----------------

    def run_task(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call the task's ``run`` directly: no input validation, no middleware, no worker."""
        task = self.api.tasks.registry.find(name)
        data = TaskData(task=task, params=dict(params or {}), queue=task.queue, api=self.api, worker="specHelper")
        return task.run(data.params, data)

    def run_full_task(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Validate the inputs and run the task through its middleware in-line, as a worker would."""
        return self.api.tasks.run_inline(name, params)

    def find_enqueued_tasks(self, name: str) -> list[dict[str, Any]]:
        """Queued and delayed jobs of task ``name``: ``{id, task, queue, params, timestamp}`` (None if queued)."""
        return self.api.tasks.find_enqueued(name)

    def delete_enqueued_tasks(self, name: str, params: Mapping[str, Any] | None = None) -> int:
        """Remove the queued and delayed jobs of task ``name`` (only those with ``params`` when given)."""
        return self.api.tasks.delete_enqueued(name, params)
