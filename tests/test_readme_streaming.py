"""The README's Streaming, Command line and MCP sections: their commands and snippets run against
the example app, and print what the README says they print."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from hero.spec_helper import SpecHelper
from tests.support.apps import APP_ROOT, write_app
from tests.support.processes import clean_env
from tests.test_readme import blocks


def section(heading: str, language: str) -> list[str]:
    return [code for name, code in blocks(language) if name == heading]


def test_the_streaming_action_example(tmp_path) -> None:
    (code,) = [code for code in section("Streaming", "python") if code.startswith("# actions/ticks.py")]
    helper = SpecHelper.boot(write_app(tmp_path, {"actions/ticks.py": code}), environ={})
    try:
        assert helper.api.actions.run("ticks", {"count": 2}) == {"chunks": [{"tick": 0}, {"tick": 1}]}
        assert helper.api.actions.latest["ticks"].mcp_tool
    finally:
        helper.stop()


@pytest.mark.timeout(60)
def test_the_streaming_curl_commands(boot_hero) -> None:
    api = boot_hero()
    (commands,) = section("Streaming", "sh")
    (shown,) = section("Streaming", "text")
    sse, chunked = [line.replace("localhost:8080", api.servers["web"].url.removeprefix("http://"))
                    for line in commands.splitlines()]
    done = subprocess.run(shlex.split(sse), capture_output=True, text=True, timeout=30)
    assert done.stdout.startswith(shown.removesuffix("...\n"))
    assert done.stdout.count("event: tick") == 10
    done = subprocess.run(shlex.split(chunked), capture_output=True, text=True, timeout=30)
    assert done.stdout.splitlines() == [f'{{"left":{left}}}' for left in range(10, 0, -1)]


def test_the_command_line_examples() -> None:
    (commands,) = section("Command line", "sh")
    outputs = []
    for line in commands.splitlines():
        argv = [sys.executable, "-m", "hero", *shlex.split(line)[1:]]
        done = subprocess.run(argv, cwd=APP_ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (line, done.stderr)
        outputs.append(done.stdout)
    assert '"randomNumber"' in outputs[0]
    assert '"loadResp"' in outputs[1] and '"loadResp"' in outputs[2]
    assert "--key  (required)" in outputs[3]
    assert len(outputs[4].splitlines()) == 10


@pytest.mark.timeout(60)
def test_the_mcp_client_example(boot_hero) -> None:
    api = boot_hero()
    (code,) = section("MCP", "python")
    script = code.replace("http://localhost:8080", api.servers["web"].url)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    said = [re.split(r"\s+# ", line, maxsplit=1)[1].strip() for line in code.splitlines() if "  # " in line
            and "print(" in line]
    assert done.stdout.splitlines() == said
