"""hero under gunicorn: several workers, hero's strict handler, WebSockets, a clean SIGTERM."""
from __future__ import annotations

import json
import time
import signal
import socket
import struct
import subprocess
import sys

import pytest
import requests
import websocket

from tests.support.apps import APP_ROOT, free_port
from tests.support.processes import clean_env, http_ok


@pytest.fixture
def gunicorn(tmp_path, processes, request):
    port = free_port()
    socket_port = free_port()
    environment = clean_env(**{"HERO_ENV": "test", "HOME": str(tmp_path), "HERO_SOCKET_PORT": str(socket_port),
                               **getattr(request, "param", {})})
    process = processes.start(
        [sys.executable, "-m", "gunicorn", "-k", "hero.gunicorn.Worker", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--no-control-socket", "--graceful-timeout", "5", "hero.gunicorn:app"],
        cwd=APP_ROOT, env=environment,
    )
    process.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=20, interval=0.2,
                       what="gunicorn answers /healthz")
    return port, socket_port, process


@pytest.mark.timeout(60)
def test_gunicorn_serves_actions_rejects_smuggling_and_stops_cleanly(gunicorn):
    port, socket_port, process = gunicorn
    response = requests.get(f"http://127.0.0.1:{port}/api/randomNumber", timeout=5)
    assert response.status_code == 200 and 0 <= response.json()["randomNumber"] <= 1
    assert response.headers["X-Powered-By"] == "hero"

    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 400")

    client = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=5)
    assert json.loads(client.recv())["context"] == "api"
    client.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": 1}))
    assert json.loads(client.recv())["messageId"] == 1

    for _ in range(4):  # the kernel spreads these over both workers, which share the port
        with socket.create_connection(("127.0.0.1", socket_port), timeout=5) as line_client:
            reader = line_client.makefile("rb")
            assert json.loads(reader.readline())["context"] == "api"
            line_client.sendall(b"randomNumber\r\n")
            assert 0 <= json.loads(reader.readline())["randomNumber"] <= 1

    process.send_signal(signal.SIGTERM)
    close_code = None
    for _ in range(20):
        opcode, payload = client.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            close_code = struct.unpack("!H", payload[:2])[0]
            break
    assert close_code == 1001  # going away
    assert process.wait(20) == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("gunicorn", [{"HERO_METRICS__FLUSH_INTERVAL": "0.2"}], indirect=True)
def test_one_scrape_sees_every_worker(gunicorn):
    port, _, _ = gunicorn
    workers: set[str] = set()
    requests_made = 0
    while len(workers) < 2 and requests_made < 200:  # new connections: the kernel spreads them
        workers.add(requests.get(f"http://127.0.0.1:{port}/api/status", timeout=5).json()["id"])
        requests_made += 1
    assert len(workers) == 2, "every request went to one worker"
    time.sleep(0.6)  # every worker folds its counts in (metrics.flush_interval)
    for _ in range(4):  # whichever worker answers the scrape
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        line = next(line for line in text.splitlines()
                    if line.startswith("hero_actions_total{") and 'action="status"' in line)
        assert float(line.rsplit(" ", 1)[1]) == requests_made, line


def test_gunicorns_master_imports_none_of_heros_network_stack():
    """The master imports hero.gunicorn to find the Worker; hero's handler (and with it redis and
    ssl) loads only in the worker, after it has monkey-patched: no MonkeyPatchWarning, a lean master."""
    probe = ("import sys, hero.gunicorn; "
             "print(sorted(m for m in ('redis', 'rq', 'werkzeug', 'hero.servers', 'hero.process') if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    assert shown.stdout.strip() == "[]"
