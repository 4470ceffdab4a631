"""Structured logs: logger.format = "json" writes one object per line with an action's fields;
logger.config passes a dictConfig through; exception reporters get an unexpected error and its id."""
from __future__ import annotations

import json
import logging

import pytest

from hero.spec_helper import SpecHelper
from tests.support.apps import write_app

ACTIONS = {
    "actions/boom.py": '''
from hero import Action, Input


class Boom(Action):
    name = "boom"
    inputs = {"password": Input(), "note": Input()}

    def run(self, data):
        raise RuntimeError("the disk is on fire")
''',
    "actions/hello.py": '''
from hero import Action, Input


class Hello(Action):
    name = "hello"
    version = 2
    inputs = {"name": Input(default="world"), "password": Input()}

    def run(self, data):
        return {"greeting": "hello " + data.params["name"]}
''',
    "config.py": 'general = {"filtered_params": ["password"]}\n',
}


@pytest.fixture
def app(tmp_path):
    return write_app(tmp_path, ACTIONS)


def boot(root, **logger):
    return SpecHelper.boot(root, overrides={"logger": {"level": "info", **logger}})


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_lines_carry_the_fields_of_an_action(app, capsys):
    helper = boot(app, format="json")
    try:
        capsys.readouterr()
        response = helper.run_action("hello", name="ann", password="secret", messageId="m-1")
        assert response["greeting"] == "hello ann"
        helper.run_action("boom", password="secret", note="x" * 300)
    finally:
        helper.stop()
    lines = json_lines(capsys.readouterr().err)
    hello = next(line for line in lines if line.get("action") == "hello")
    assert hello["level"] == "info" and hello["logger"] == "hero.action"
    assert hello["time"].endswith("Z") and hello["time"][10] == "T"
    assert hello["version"] == 2 and hello["transport"] == "testServer" and hello["status"] == 200
    assert hello["message_id"] == "m-1" and hello["connection_id"]
    assert hello["params"] == {"action": "hello", "name": "ann", "password": "[FILTERED]", "messageId": "m-1"}
    assert isinstance(hello["duration_ms"], float) and "error_id" not in hello
    assert "hello" in hello["message"]
    boom = next(line for line in lines if line.get("action") == "boom")
    assert boom["level"] == "error" and boom["status"] == 500
    assert boom["error"] == "the disk is on fire" and len(boom["error_id"]) == 16
    assert "RuntimeError" in boom["exception"] and "secret" not in json.dumps(boom)
    assert len(boom["params"]["note"]) == 201  # logger.max_log_string_length (200) and the ellipsis


def test_a_known_error_has_no_error_id(app, capsys):
    helper = boot(app, format="json")
    try:
        capsys.readouterr()
        helper.run_action("noSuchAction")
    finally:
        helper.stop()
    line = next(line for line in json_lines(capsys.readouterr().err) if line.get("status") == 404)
    assert line["action"] == "noSuchAction" and line["error"] and "error_id" not in line


def test_the_text_format_stays_one_readable_line(app, capsys):
    helper = boot(app)
    try:
        capsys.readouterr()
        helper.run_action("hello")
    finally:
        helper.stop()
    line = next(line for line in capsys.readouterr().err.splitlines() if "action=hello" in line)
    assert " INFO hero.action: [action @ testServer]" in line and not line.startswith("{")


def test_logger_config_passes_a_dict_config_through(app, tmp_path):
    path = tmp_path / "actions.log"
    helper = boot(app, config={
        "formatters": {"json": {"()": "hero.runtime.logging.JSONFormatter"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(path), "formatter": "json"}},
        "loggers": {"hero.action": {"handlers": ["file"]}},
    })
    try:
        helper.run_action("hello", name="bo")
    finally:
        helper.stop()
        for handler in logging.getLogger("hero.action").handlers:
            handler.close()
        logging.getLogger("hero.action").handlers.clear()
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["action"] == "hello" and line["params"] == {"action": "hello", "name": "bo"}


def test_exception_reporters_get_the_error_and_its_id(app, capsys):
    helper = boot(app, format="json")
    reported = []
    helper.api.processor.exception_reporters.append(lambda error, data: reported.append((error, data)))
    helper.api.processor.exception_reporters.insert(0, lambda error, data: 1 / 0)  # a broken reporter
    try:
        capsys.readouterr()
        response = helper.run_action("boom")
        helper.run_action("hello")
    finally:
        helper.stop()
    assert response["error"] == "the disk is on fire"
    [(error, data)] = reported
    assert isinstance(error, RuntimeError) and data.action.name == "boom"
    lines = json_lines(capsys.readouterr().err)
    assert any(line.get("error_id") == data.error_id for line in lines)
    assert any(line["message"] == "an exception reporter failed" for line in lines)


def test_task_exception_reporters_get_a_failed_run(app):
    write_app(app, {"tasks/fails.py": '''
from hero import Task


class Fails(Task):
    name = "fails"

    def run(self, params, worker):
        raise ValueError("no luck")
'''})
    helper = boot(app)
    reported = []
    helper.api.tasks.exception_reporters.append(lambda error, data: reported.append((error, data)))
    helper.api.tasks.exception_reporters.insert(0, lambda error, data: 1 / 0)
    try:
        with pytest.raises(ValueError):
            helper.run_full_task("fails", {})
    finally:
        helper.stop()
    [(error, data)] = reported
    assert str(error) == "no luck" and data.task.name == "fails" and data.worker == "inline"
