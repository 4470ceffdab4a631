"""The process lifecycle: initializer order, boot failures, action discovery, ``from hero import api``."""
from __future__ import annotations

import pytest

from hero.errors import BootError
from hero.process import Process
from tests.support.apps import write_app

NO_SERVERS = {"web": {"enabled": False}, "socket": {"enabled": False}}

RECORDING = '''
from hero import Initializer

EVENTS = []


class First(Initializer):
    name = "first"
    load_priority = 10
    start_priority = 20
    stop_priority = 5

    def initialize(self, api):
        EVENTS.append("first.initialize")

    def start(self, api):
        EVENTS.append("first.start")

    def stop(self, api):
        EVENTS.append("first.stop")


class Second(Initializer):
    name = "second"
    load_priority = 5
    start_priority = 10
    stop_priority = 50

    def initialize(self, api):
        EVENTS.append("second.initialize")
        api.second_was_here = True

    def start(self, api):
        EVENTS.append("second.start")

    def stop(self, api):
        EVENTS.append("second.stop")
'''

FAILING = '''
from hero import Initializer


class Broken(Initializer):
    name = "broken"
    start_priority = 5000

    def start(self, api):
        raise RuntimeError("cannot reach the mainframe")
'''


def events(name="recording"):
    import sys

    return sys.modules[f"hero_app.initializers.{name}"].EVENTS


def test_initializers_run_by_priority_and_stop_by_stop_priority(tmp_path):
    write_app(tmp_path, {"initializers/recording.py": RECORDING})
    process = Process(tmp_path, env="test", overrides=NO_SERVERS, environ={})
    api = process.start()
    assert api.second_was_here is True
    assert events() == ["second.initialize", "first.initialize", "second.start", "first.start"]
    process.stop()
    assert events()[-2:] == ["first.stop", "second.stop"]
    assert api.running is False


def test_a_failing_initializer_stops_what_started_and_names_itself(tmp_path):
    write_app(tmp_path, {"initializers/recording.py": RECORDING, "initializers/zz_failing.py": FAILING})
    process = Process(tmp_path, env="test", overrides=NO_SERVERS, environ={})
    with pytest.raises(BootError, match="broken.*cannot reach the mainframe"):
        process.start()
    assert "first.stop" in events() and "second.stop" in events()


def test_hero_api_is_the_booted_process(tmp_path):
    import hero

    process = Process(tmp_path, env="test", overrides=NO_SERVERS, environ={})
    api = process.start()
    try:
        assert hero.api.id == api.id
        assert hero.api.config.env == "test"
    finally:
        process.stop()


def test_duplicate_action_versions_fail_the_boot_naming_the_files(tmp_path):
    source = "from hero import Action\n\nclass A(Action):\n    name = 'dup'\n    def run(self, data):\n        return {}\n"
    write_app(tmp_path, {"actions/one.py": source, "actions/sub/two.py": source})
    with pytest.raises(BootError, match=r"two\.py.*dup version 1 is already defined in .*one\.py"):
        Process(tmp_path, env="test", overrides=NO_SERVERS, environ={}).start()


def test_a_reserved_input_name_fails_the_boot_naming_the_file(tmp_path):
    write_app(tmp_path, {"actions/bad.py": '''
        from hero import Action, Input

        class Bad(Action):
            name = "bad"
            inputs = {"action": Input()}
            def run(self, data):
                return {}
    '''})
    with pytest.raises(BootError, match=r"bad\.py.*reserved"):
        Process(tmp_path, env="test", overrides=NO_SERVERS, environ={}).start()


@pytest.mark.parametrize("body, message", [
    ("name = 'roomAdd'\n    def run(self, data):\n        return {}", "connection verb"),
    ("name = 'say'\n    def run(self, data):\n        return {}", "action say version 1 is already defined"),
    ("name = 'noRun'", "run"),
    ("name = 'x'\n    log_level = 'loud'\n    def run(self, data):\n        return {}", "log_level"),
])
def test_invalid_action_declarations_fail_the_boot(tmp_path, body, message):
    write_app(tmp_path, {"actions/bad.py": f"from hero import Action\n\nclass Bad(Action):\n    {body}\n"})
    with pytest.raises(BootError, match=message):
        Process(tmp_path, env="test", overrides=NO_SERVERS, environ={}).start()


def test_a_file_that_fails_to_import_fails_the_boot(tmp_path):
    write_app(tmp_path, {"actions/broken.py": "import no_such_module\n"})
    with pytest.raises(BootError, match=r"broken\.py failed to load"):
        Process(tmp_path, env="test", overrides=NO_SERVERS, environ={}).start()


def test_unknown_middleware_on_an_action_fails_the_boot(tmp_path):
    write_app(tmp_path, {"actions/a.py": '''
        from hero import Action

        class A(Action):
            name = "a"
            middleware = ["ghost"]
            def run(self, data):
                return {}
    '''})
    with pytest.raises(BootError, match="ghost"):
        Process(tmp_path, env="test", overrides=NO_SERVERS, environ={}).start()


def test_redis_down_at_boot_fails_quickly_and_clearly(tmp_path):
    import time

    process = Process(tmp_path, env="test", environ={},
                      overrides={**NO_SERVERS, "redis": {"url": "redis://127.0.0.1:1/0"}})
    started = time.monotonic()
    with pytest.raises(BootError, match="redis at 127.0.0.1:1/0 is unavailable"):
        process.start()
    assert time.monotonic() - started < 3
