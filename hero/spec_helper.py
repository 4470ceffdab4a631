"""Run actions, verbs and tasks without a network, or over a live one, for app authors' tests.

    helper = SpecHelper.boot("path/to/app")        # the app in the test environment, no listeners
    response = helper.run_action("cacheTest", key="greeting", value="hello")
    helper.http_client().get("/api/status").json()  # the web app in-process (werkzeug's test client)
    helper.stop()

    server = LiveServer.boot("path/to/app")        # every transport on free loopback ports
    server.url; server.ws().action("randomNumber"); server.tcp().action("randomNumber")

Or, with pytest, hero's plugin gives the fixtures ``spec_helper``, ``hero_client`` and ``hero_server``.
"""
from __future__ import annotations

import itertools
import json
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from werkzeug.test import Client, TestResponse
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

from hero.container import Api
from hero.core.connection import Connection
from hero.process import Process, build_web_server
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
        self._client: Client | None = None

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

    def reset(self) -> None:
        """An empty store for the next test: the test environment's Redis database (or the embedded
        store) is flushed, and the starting chat rooms are made again."""
        self.api.redis.client.flushdb()
        self.api.chat.create_starting_rooms(self.api.config.general.starting_chat_rooms)

    def http_client(self) -> Client:
        """werkzeug's test client on the app's WSGI application, in-process: no socket, every route,
        static file and action as a real request gets them (``.get(path).json()``)."""
        if self._client is None:
            self._client = Client(build_web_server(self.api).app, response_wrapper=HttpResponse)
        return self._client

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

    def request(self, address: Any, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, **options: Any) -> Any:
        """A virtual request through the web app, without a socket (Sails' ``sails.request``):
        ``request("POST /api/users", params={...}, headers={...})`` or ``request({"url", "method",
        "params", "headers"})``; returns ``status``, ``headers`` and ``body`` (parsed JSON)."""
        return self.api.request(address, params, headers, **options)

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


class HttpResponse(TestResponse):
    """werkzeug's test response, whose ``json()`` is a method as in requests and httpx."""

    # NOTE: werkzeug's ``json`` is a property; tests written for requests call it.
    def json(self) -> Any:
        return self.get_json()


class LiveServer(SpecHelper):
    """The app serving every transport on free loopback ports, with clients for each."""

    @classmethod
    def boot(cls, root: str | Path = ".", *, servers: bool = True, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> "LiveServer":
        """Boot the app in ``root`` with its servers on free loopback ports (``overrides`` win)."""
        if not servers:
            raise ValueError("a LiveServer serves: use SpecHelper.boot for an app without listeners")
        layers: dict[str, dict[str, Any]] = {"web": {"port": 0, "bind": "127.0.0.1"},
                                             "socket": {"port": 0, "bind": "127.0.0.1"}}
        for namespace, values in (overrides or {}).items():
            layers[namespace] = {**layers.get(namespace, {}), **values}
        helper = SpecHelper.boot(root, servers=True, overrides=layers, environ=environ)
        return cls(helper.process)

    def __init__(self, process: Process) -> None:
        super().__init__(process)
        self.clients: list[_Client] = []

    def stop(self) -> None:
        """Close the clients it made, then stop the app."""
        for client in self.clients:
            client.close()
        super().stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return str(self.api.servers["web"].url)

    def ws(self) -> WebSocketClient:
        """A WebSocket client on ``websocket.path``; its ``welcome`` is read already."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        client = WebSocketClient(host, int(port), str(self.api.config.websocket.path))
        self.clients.append(client)
        return client

    def tcp(self) -> LineClient:
        """A TCP line-protocol client; its ``welcome`` is read already."""
        host, port = str(self.api.servers["socket"].url).removeprefix("tcp://").rsplit(":", 1)
        client = LineClient(host, int(port))
        self.clients.append(client)
        return client


class _Client(ABC):
    """What the WebSocket and TCP clients share: JSON in, JSON out, replies matched by messageId."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        #: Messages received while waiting for a reply (chat messages, other replies).
        self.messages: list[dict[str, Any]] = []
        self.welcome = self.recv()

    def __enter__(self) -> "_Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def send(self, message: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def recv(self) -> dict[str, Any]: ...

    @abstractmethod
    def close(self) -> None: ...

    def reply(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send ``message`` with a fresh ``messageId`` and return the reply carrying it."""
        message_id = next(self._ids)
        self.send({**message, "messageId": message_id})
        while True:
            received = self.recv()
            if received.get("messageId") == message_id:
                return received
            self.messages.append(received)


class WebSocketClient(_Client):
    """A small blocking WebSocket client (wsproto) speaking hero's JSON events."""

    def __init__(self, host: str, port: int, path: str = "/ws", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=f"{host}:{port}", target=path)))
        self._texts: list[str] = []
        self._part = ""
        while True:
            event = self._next_event()
            if isinstance(event, AcceptConnection):
                break
            if isinstance(event, RejectConnection):
                raise ConnectionError(f"the server refused the WebSocket: {event.status_code}")
        super().__init__()

    def _next_event(self) -> Any:
        while True:
            for event in self.ws.events():
                return event
            data = self.sock.recv(65_536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.ws.receive_data(data)

    def action(self, name: str, **params: Any) -> dict[str, Any]:
        return self.reply({"event": "action", "params": {**params, "action": name}})

    def send(self, message: Mapping[str, Any]) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=json.dumps(message))))

    def recv(self) -> dict[str, Any]:
        while True:
            event = self._next_event()
            if isinstance(event, TextMessage):
                self._part += event.data
                if event.message_finished:
                    text, self._part = self._part, ""
                    return dict(json.loads(text))
            elif isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                raise ConnectionError(f"the server closed the WebSocket: {event.code} {event.reason}")

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:  # NOTE: already closed by the server; the socket is closed below either way
            pass
        self.sock.close()


class LineClient(_Client):
    """A small blocking client of the TCP line protocol."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = self.sock.makefile("rb")
        super().__init__()

    def action(self, name: str, **params: Any) -> dict[str, Any]:
        return self.reply({"action": name, "params": params})

    def send(self, message: Mapping[str, Any] | str) -> None:
        """A JSON object, or a raw line (a verb: ``"roomAdd defaultRoom"``)."""
        line = message if isinstance(message, str) else json.dumps(message)
        self.sock.sendall(line.encode() + b"\r\n")

    def recv(self) -> dict[str, Any]:
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        return dict(json.loads(line))

    def close(self) -> None:
        self.reader.close()
        self.sock.close()
