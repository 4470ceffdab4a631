"""The action pipeline, step by step (PROTOCOL §1), through the spec helper."""
from __future__ import annotations

import logging
import time

import gevent
import pytest

from hero.spec_helper import SpecHelper
from tests.support.apps import write_app

ACTIONS = '''
import gevent
import redis
from hero import Action, Input, action


class Echo(Action):
    name = "echo"
    inputs = {"a": Input(), "b": Input(default="bee"), "password": Input()}
    middleware = ["local"]

    def run(self, data):
        return {"params": dict(data.params), "session": dict(data.session)}


class VersionOne(Action):
    name = "versioned"
    version = 1
    def run(self, data):
        return {"version": 1}


class VersionTwo(Action):
    name = "versioned"
    version = 2
    def run(self, data):
        return {"version": 2}


class VersionText(Action):
    name = "textVersioned"
    version = "beta"
    def run(self, data):
        return {"version": "beta"}


class VersionTextOld(Action):
    name = "textVersioned"
    version = 10
    def run(self, data):
        return {"version": 10}


class NoWebsockets(Action):
    name = "noWebsockets"
    blocked_connection_types = ["testServer"]
    def run(self, data):
        return {}


class Teapot(Exception):
    status = 418


class Coded(Exception):
    def __init__(self, code):
        super().__init__(f"coded {code}")
        self.code = code


class Raiser(Action):
    name = "raiser"
    inputs = {"kind": Input(required=True)}

    def run(self, data):
        kind = data.params["kind"]
        if kind == "teapot":
            raise Teapot("I am a teapot")
        if kind == "code":
            raise Coded(402)
        if kind == "badcode":
            raise Coded(999)
        if kind == "plain":
            raise ValueError()
        if kind == "exit":
            raise SystemExit(3)
        if kind == "greenlet":
            raise gevent.GreenletExit()
        if kind == "keyboard":
            raise KeyboardInterrupt()
        if kind == "redis":
            raise redis.exceptions.ConnectionError("Connection refused")
        if kind == "object":
            data.response["error"] = {"error": "broken", "reason": "stuff"}
            return None
        if kind == "status":
            data.connection.set_status(201)
            raise RuntimeError("with my own status")
        if kind == "mutate":
            data.params["kind"] = "other"
        if kind == "list":
            return [1, 2]
        return {"ok": True}


class Slow(Action):
    name = "slow"
    inputs = {"ms": Input(default=50, formatter=int)}
    timeout = 0.2

    def run(self, data):
        gevent.sleep(data.params["ms"] / 1000)
        return {"slept": data.params["ms"]}


@action("shout", inputs={"text": Input(required=True)})
def shout(data):
    return {"text": data.params["text"].upper()}
'''

INITIALIZER = '''
from hero import ActionMiddleware, Initializer

ORDER = []


class Blocked(Exception):
    status = 401


def late(data):
    ORDER.append("late")


def early(data):
    ORDER.append(("early", dict(data.params)))
    if data.params.get("block"):
        raise Blocked("BLOCKED")


def local(data):
    ORDER.append("local")


def stamp(data):
    if data.params.get("a") == "breakPost":
        raise RuntimeError("post failed")
    data.response["stamped"] = True


class Middlewares(Initializer):
    name = "middlewares"

    def initialize(self, api):
        api.actions.add_middleware(ActionMiddleware("late", is_global=True, priority=200, pre_process=late))
        api.actions.add_middleware(ActionMiddleware("early", is_global=True, priority=1, pre_process=early,
                                                    post_process=stamp))
        api.actions.add_middleware(ActionMiddleware("local", pre_process=local))
'''


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory):
    root = write_app(tmp_path_factory.mktemp("app"), {
        "actions/test_actions.py": ACTIONS,
        "initializers/middlewares.py": INITIALIZER,
        "config.py": 'general = {"filtered_params": ["password"]}\n',
    })
    helper = SpecHelper.boot(root)
    yield helper
    helper.stop()


@pytest.fixture
def order(helper):
    import sys

    module = sys.modules["hero_app.initializers.middlewares"]
    module.ORDER.clear()
    return module.ORDER


def test_unknown_action_is_an_error(helper):
    assert helper.run_action("nope")["error"] == "unknown action or invalid apiVersion"


def test_highest_version_by_default_and_apiversion_picks(helper):
    assert helper.run_action("versioned")["version"] == 2
    assert helper.run_action("versioned", apiVersion=1)["version"] == 1
    assert helper.run_action("versioned", apiVersion="1")["version"] == 1
    assert helper.run_action("versioned", apiVersion=3)["error"] == "unknown action or invalid apiVersion"


def test_strings_sort_after_numbers(helper):
    assert helper.run_action("textVersioned")["version"] == "beta"
    assert helper.run_action("textVersioned", apiVersion="10")["version"] == 10


def test_blocked_connection_type(helper):
    response = helper.run_action("noWebsockets")
    assert response["error"] == "this action does not support the testServer connection type"


def test_server_stopping_refuses_new_actions(helper):
    helper.api.processor.stopping = True
    try:
        assert helper.run_action("echo")["error"] == "the server is shutting down"
    finally:
        helper.api.processor.stopping = False


def test_the_sixth_concurrent_action_on_a_connection_is_refused(helper):
    connection = helper.build_connection()
    greenlets = [gevent.spawn(helper.run_action, "slow", ms=100, connection=connection) for _ in range(6)]
    gevent.joinall(greenlets, timeout=5)
    responses = [greenlet.value for greenlet in greenlets]
    refused = [r for r in responses if r.get("error") == "you have too many pending requests"]
    assert len(refused) == 1
    assert sum(1 for r in responses if r.get("slept") == 100) == 5
    assert connection.pending_actions == 0


def test_scrubbing_drops_undeclared_params_and_keeps_safe_ones(helper):
    response = helper.run_action("echo", a="x", junk="y", messageId="m1")
    assert response["params"] == {"a": "x", "b": "bee", "action": "echo", "messageId": "m1"}


def test_middleware_order_global_by_priority_then_local(helper, order):
    helper.run_action("echo", a="1", junk="raw")
    assert order[0] == ("early", {"a": "1", "junk": "raw", "action": "echo"})  # raw params, before scrubbing
    assert order[1:] == ["late", "local"]


def test_local_middleware_only_runs_for_actions_that_list_it(helper, order):
    helper.run_action("shout", text="hi")
    assert "local" not in order


def test_pre_process_raise_blocks_the_action_with_its_status(helper):
    response = helper.run_action("echo", block=True)
    assert response["error"] == "BLOCKED"
    assert "params" not in response
    data = helper.api.processor.process(helper.build_connection(), {"action": "echo", "block": True})
    assert data.status == 401


def test_post_process_changes_the_response_and_its_raise_is_an_error(helper):
    assert helper.run_action("echo")["stamped"] is True
    assert helper.run_action("echo", a="breakPost")["error"] == "post failed"


def test_exception_status_and_code(helper):
    processor, connection = helper.api.processor, helper.build_connection()

    def outcome(kind):
        data = processor.process(connection, {"action": "raiser", "kind": kind})
        return data.status, data.response["error"]

    assert outcome("teapot") == (418, "I am a teapot")
    assert outcome("code") == (402, "coded 402")
    assert outcome("badcode") == (500, "coded 999")
    assert outcome("plain") == (500, "ValueError")
    assert outcome("redis")[0] == 503
    assert "redis" in outcome("redis")[1]
    assert outcome("status") == (201, "with my own status")


@pytest.mark.parametrize("kind", ["exit", "greenlet", "keyboard"])
def test_process_level_exceptions_are_caught_at_the_action_boundary(helper, kind):
    response = helper.run_action("raiser", kind=kind)
    assert "error" in response
    assert helper.run_action("echo")["params"]["b"] == "bee"  # still serving


def test_an_error_object_set_by_the_action_is_sent_as_it_is(helper):
    data = helper.api.processor.process(helper.build_connection(), {"action": "raiser", "kind": "object"})
    assert data.response["error"] == {"error": "broken", "reason": "stuff"}
    assert data.status == 500


def test_params_are_read_only_in_run(helper):
    assert "does not support item assignment" in helper.run_action("raiser", kind="mutate")["error"]


def test_run_must_return_a_dict(helper):
    assert "must return a dict" in helper.run_action("raiser", kind="list")["error"]


def test_missing_required_param(helper):
    assert helper.run_action("raiser")["error"] == "kind is a required parameter for this action"


def test_timeout_kills_the_action_with_504(helper):
    connection = helper.build_connection()
    started = time.monotonic()
    data = helper.api.processor.process(connection, {"action": "slow", "ms": 5000})
    assert time.monotonic() - started < 1
    assert data.status == 504
    assert data.response["error"] == "the action timed out"
    assert connection.pending_actions == 0
    assert helper.run_action("slow", ms=10)["slept"] == 10


def test_function_actions(helper):
    assert helper.run_action("shout", text="hi")["text"] == "HI"


def test_one_log_line_per_action_with_filtered_params(helper, caplog):
    with caplog.at_level(logging.INFO, logger="hero.action"):
        helper.run_action("echo", a="1", password="hunter2")
    lines = [record.getMessage() for record in caplog.records if record.name == "hero.action"]
    assert len(lines) == 1
    assert "action=echo" in lines[0] and "[FILTERED]" in lines[0] and "hunter2" not in lines[0]


def test_unexpected_errors_are_logged_with_their_traceback(helper, caplog):
    with caplog.at_level(logging.INFO, logger="hero.action"):
        helper.run_action("raiser", kind="plain")
    (record,) = [r for r in caplog.records if r.name == "hero.action"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_actions_run_inline_through_the_pipeline(helper, order):
    assert helper.api.actions.run("shout", {"text": "a"})["text"] == "A"
    with pytest.raises(Exception, match="text is a required parameter for this action"):
        helper.api.actions.run("shout", {})
    response = helper.api.actions.run("echo", {"a": "1"}, connection_properties={"session": {"userId": 7}})
    assert response["session"] == {"userId": 7}
    with pytest.raises(Exception, match="BLOCKED"):
        helper.api.actions.run("echo", {"block": True})


def test_connection_details(helper):
    connection = helper.build_connection()
    helper.run_action("echo", connection=connection)
    details = connection.details()
    assert details["type"] == "testServer" and details["totalActions"] == 1 and details["pendingActions"] == 0
    assert set(details) == {"id", "fingerprint", "type", "remoteIP", "remotePort", "params", "connectedAt", "rooms",
                            "totalActions", "pendingActions"}


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory):
    root = write_app(tmp_path_factory.mktemp("prod"), {"actions/test_actions.py": ACTIONS,
                                                       "initializers/middlewares.py": INITIALIZER})
    helper = SpecHelper.boot(root, overrides={"general": {"expose_errors": False}})
    yield helper
    helper.stop()


def test_production_answers_an_unexpected_error_with_an_id_the_log_line_carries(production, caplog):
    with caplog.at_level(logging.ERROR, logger="hero.action"):
        response = production.run_action("raiser", kind="status")
    assert response["error"] == "internal error"
    assert len(response["errorId"]) == 16 and "with my own status" not in str(response)
    lines = [record.getMessage() for record in caplog.records if record.name == "hero.action"]
    assert len(lines) == 1 and f"errorId={response['errorId']}" in lines[0]
    assert "with my own status" in lines[0]  # the log keeps what the client does not see


def test_production_still_says_what_an_expected_error_is(production):
    assert production.run_action("raiser", kind="teapot")["error"] == "I am a teapot"  # its own status: 418
    assert production.run_action("raiser", kind="redis")["error"].startswith("the backing store (redis) is unavailable")
    assert production.run_action("raiser")["error"] == "kind is a required parameter for this action"
    assert "errorId" not in production.run_action("raiser", kind="teapot")


def test_development_keeps_the_message_and_adds_the_id(helper):
    response = helper.run_action("raiser", kind="plain")
    assert response["error"] == "ValueError" and len(response["errorId"]) == 16


def test_secrets_are_filtered_from_log_lines_by_default(tmp_path, caplog):
    root = write_app(tmp_path, {"actions/test_actions.py": ACTIONS, "initializers/middlewares.py": INITIALIZER})
    booted = SpecHelper.boot(root)
    try:
        with caplog.at_level(logging.INFO, logger="hero.action"):
            booted.run_action("echo", a="shown", password="hunter2")
        line = [record.getMessage() for record in caplog.records if record.name == "hero.action"][0]
        assert "'password': '[FILTERED]'" in line and "hunter2" not in line and "shown" in line
        assert {"token", "secret", "authorization", "api_key"} <= set(booted.api.config.general.filtered_params)
    finally:
        booted.stop()
