"""Plugins (actionhero's ``config.plugins``): actions, tasks, initializers and public files from
another folder or an installed package, each part on unless switched off; a missing plugin fails
the boot naming it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from hero.errors import BootError, ConfigError
from hero.process import Process
from tests.support.apps import write_app

PLUGIN = {
    "actions/plugged.py": '''
        from hero import Action


        class Plugged(Action):
            name = "plugged"

            def run(self, data):
                return {"from": "the plugin", "started": getattr(data.api, "plugin_started", False)}
    ''',
    "actions/hello.py": '''
        from hero import Action


        class Hello(Action):
            name = "pluginHello"

            def run(self, data):
                return {"hello": "plugin"}
    ''',
    "tasks/plugged_task.py": '''
        from hero.tasks.task import Task


        class PluggedTask(Task):
            name = "pluggedTask"

            def run(self, params, worker):
                return "done"
    ''',
    "initializers/plugged.py": '''
        from hero import Initializer


        class PluggedInitializer(Initializer):
            name = "plugged"

            def start(self, api):
                api.plugin_started = True
    ''',
    "public/plugin.txt": "served by the plugin\n",
    "public/shared.txt": "the plugin's copy\n",
}

APP = {
    # the app has a file of the same name as the plugin's: the app's wins
    "actions/hello.py": '''
        from hero import Action


        class Hello(Action):
            name = "hello"

            def run(self, data):
                return {"hello": "app"}
    ''',
    "public/shared.txt": "the app's copy\n",
}


@pytest.fixture
def boot(tmp_path):
    processes: list[Process] = []

    def start(plugins: dict, *, web: bool = False):
        write_app(tmp_path / "plugin", PLUGIN)
        root = write_app(tmp_path / "app", {**APP, "config.py": f"plugins = {plugins!r}\n"})
        overrides = {"socket": {"enabled": False}, "web": {"enabled": web, "port": 0},
                     "tasks": {"workers": 0, "scheduler": False}}
        process = Process(root, env="test", overrides=overrides)
        processes.append(process)
        return process.start()

    yield start
    for process in processes:
        process.stop()


def test_a_plugin_brings_actions_tasks_initializers_and_public_files(boot):
    api = boot({"sample": {"path": "../plugin"}}, web=True)
    assert api.processor.run_inline("plugged") == {"from": "the plugin", "started": True}
    assert api.processor.run_inline("hello") == {"hello": "app"}  # same file name, its own module
    assert api.processor.run_inline("pluginHello") == {"hello": "plugin"}
    assert "pluggedTask" in api.tasks.registry
    base = api.servers["web"].url
    assert requests.get(f"{base}/public/plugin.txt", timeout=5).text == "served by the plugin\n"
    assert requests.get(f"{base}/public/shared.txt", timeout=5).text == "the app's copy\n"
    assert requests.get(f"{base}/public/missing.txt", timeout=5).status_code == 404
    assert requests.get(f"{base}/public/../plugin/actions/plugged.py", timeout=5).status_code in (400, 404)


def test_parts_can_be_left_out(boot):
    api = boot({"sample": {"path": "../plugin", "actions": False, "tasks": False, "public": False}}, web=True)
    assert "plugged" not in api.actions
    assert "pluggedTask" not in api.tasks.registry
    assert getattr(api, "plugin_started", False) is True  # initializers still on
    assert requests.get(f"{api.servers['web'].url}/public/plugin.txt", timeout=5).status_code == 404


def test_a_plugin_may_be_an_importable_package(boot, tmp_path, monkeypatch):
    package = write_app(tmp_path / "site" / "hero_sample_plugin", {**PLUGIN, "__init__.py": ""})
    monkeypatch.syspath_prepend(str(package.parent))
    api = boot({"sample": {"module": "hero_sample_plugin"}})
    assert api.processor.run_inline("plugged")["from"] == "the plugin"
    sys.modules.pop("hero_sample_plugin", None)


@pytest.mark.parametrize("plugins, message", [
    ({"gone": {"path": "../nowhere"}}, "config plugins.gone: "),
    ({"gone": {"module": "no_such_hero_plugin"}}, "config plugins.gone: no package 'no_such_hero_plugin'"),
    ({"odd": {"path": "../plugin", "module": "x"}}, "config plugins.odd needs one of `path`"),
    ({"odd": {"path": "../plugin", "widgets": True}}, "config plugins.odd: unknown key `widgets`"),
    ({"odd": {"path": "../plugin", "public": "yes"}}, "config plugins.odd.public must be true or false"),
    ({"odd": "../plugin"}, "config plugins.odd must be a dict"),
])
def test_a_bad_plugin_entry_fails_the_boot_naming_it(boot, plugins, message):
    with pytest.raises((BootError, ConfigError)) as caught:
        boot(plugins)
    assert message in str(caught.value)


def test_the_example_app_has_no_plugins():
    from hero.config import load_config

    assert load_config(Path(__file__).resolve().parents[2]).sources("actions")[1:] == []
