"""Config layering: defaults < config.py < its environment section < the process environment."""
from __future__ import annotations

import pytest

from hero.config import load_config
from hero.errors import ConfigError
from tests.support.apps import write_app

APP_CONFIG = '''
general = {"simultaneous_actions": 7, "server_name": "myapp"}
web = {"port": 9000, "padding": None}
routes = {"get": [{"path": "/x", "action": "randomNumber"}]}
test = {"web": {"port": 9100}, "general": {"welcome_message": "hi tests"}}
production = {"web": {"port": 80}}
'''


@pytest.fixture
def app(tmp_path):
    return write_app(tmp_path, {"config.py": APP_CONFIG})


def test_defaults_without_an_app_config(tmp_path):
    config = load_config(tmp_path, environ={})
    assert config.env == "development"
    assert config.web.port == 8080
    assert config.general.simultaneous_actions == 5
    assert config.redis.url is None
    assert config.general.missing_param_checks == (None, "")


def test_the_app_config_overlays_defaults_and_keeps_the_rest(app):
    config = load_config(app, environ={})
    assert config.general.simultaneous_actions == 7
    assert config.general.server_name == "myapp"
    assert config.general.action_timeout == 30.0  # untouched default
    assert config.web.port == 9000 and config.web.padding is None
    assert config.routes["get"][0]["action"] == "randomNumber"


def test_the_environment_section_overlays_the_app_config(app):
    assert load_config(app, environ={"HERO_ENV": "test"}).web.port == 9100
    assert load_config(app, env="production", environ={}).web.port == 80
    assert load_config(app, env="test", environ={}).general.welcome_message == "hi tests"


def test_hero_defaults_per_environment(tmp_path):
    production = load_config(tmp_path, env="production", environ={})
    assert production.web.padding is None
    assert production.web.metadata.server_information is False


def test_environment_variables_win(app):
    config = load_config(app, environ={
        "PORT": "9999", "HERO_SOCKET_PORT": "6000", "HERO_BIND": "0.0.0.0", "REDIS_URL": "redis://h:1/2",
        "HERO_GENERAL__SIMULTANEOUS_ACTIONS": "11", "HERO_WEB__CORS_ORIGINS": '["https://a.example"]',
        "HERO_GENERAL__WELCOME_MESSAGE": "plain text",
    })
    assert config.web.port == 9999 and config.socket.port == 6000
    assert config.web.bind == "0.0.0.0" and config.socket.bind == "0.0.0.0"
    assert config.redis.url == "redis://h:1/2"
    assert config.general.simultaneous_actions == 11
    assert config.web.cors_origins == ("https://a.example",)
    assert config.general.welcome_message == "plain text"


@pytest.mark.parametrize("environ, key", [
    ({"PORT": "abc"}, "web.port"),
    ({"HERO_SOCKET_PORT": "70000"}, "socket.port"),
    ({"HERO_GENERAL__SIMULTANEOUS_ACTIONS": '"many"'}, "general.simultaneous_actions"),
    ({"HERO_WEB__JSONP": "1"}, "web.jsonp"),
    ({"HERO_LOGGER__LEVEL": "loud"}, "logger.level"),
    ({"HERO_NOPE__X": "1"}, "nope"),
])
def test_a_bad_value_fails_naming_the_key(tmp_path, environ, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(tmp_path, environ=environ)


def test_an_unknown_environment_fails(tmp_path):
    with pytest.raises(ConfigError, match="HERO_ENV"):
        load_config(tmp_path, environ={"HERO_ENV": "staging"})


def test_a_broken_config_file_fails_naming_it(tmp_path):
    write_app(tmp_path, {"config.py": "general = {\n"})
    with pytest.raises(ConfigError, match="config.py failed to load"):
        load_config(tmp_path, environ={})


def test_a_bad_value_in_config_py_fails_naming_the_key(tmp_path):
    write_app(tmp_path, {"config.py": 'web = {"port": "eighty"}\n'})
    with pytest.raises(ConfigError, match=r"web\.port"):
        load_config(tmp_path, environ={})


def test_config_is_read_only(app):
    config = load_config(app, environ={})
    with pytest.raises(TypeError):
        config.web.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.web["port"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError, match="web.nope"):
        config.web.nope  # noqa: B018


@pytest.mark.parametrize("namespace, key", [
    ("web", "max_body_bytes"), ("web", "header_timeout"), ("socket", "max_line_bytes"),
    ("socket", "max_queued_messages"), ("websocket", "max_queued_bytes"), ("general", "max_sticky_params"),
    ("redis", "socket_timeout"), ("general", "cluster_message_window"),
])
@pytest.mark.parametrize("value", [0, -1])
def test_a_limit_of_zero_or_less_fails_the_boot_naming_it(tmp_path, namespace, key, value):
    with pytest.raises(ConfigError, match=rf"config {namespace}\.{key} "):
        load_config(tmp_path, env="test", overrides={namespace: {key: value}}, environ={})


def test_every_limit_in_the_defaults_is_positive_and_zero_means_off_only_where_documented(tmp_path):
    from hero.config import ZERO_MEANS_OFF, is_limit
    from hero.defaults import DEFAULTS

    limits = [f"{ns}.{key}" for ns, values in DEFAULTS.items() for key, value in values.items()
              if is_limit(f"{ns}.{key}") and isinstance(value, (int, float)) and not isinstance(value, bool)]
    assert len(limits) > 30
    assert all(DEFAULTS[key.split(".")[0]][key.split(".")[1]] > 0 for key in limits)
    config = load_config(tmp_path, env="test", overrides={"general": {"max_blocking_time": 0}}, environ={})
    assert config.general.max_blocking_time == 0 and "general.max_blocking_time" in ZERO_MEANS_OFF
@pytest.mark.parametrize(("files", "environ", "message"), [
    ({"config.py": 'web = {"prot": 9000}'}, {}, "config web.prot is not a setting; did you mean web.port?"),
    ({"config.py": 'test = {"general": {"simultanous_actions": 3}}'}, {"HERO_ENV": "test"},
     "config general.simultanous_actions is not a setting; did you mean general.simultaneous_actions?"),
    ({"config.py": 'web = {"metadata": {"server_info": False}}'}, {},
     "config web.metadata.server_info is not a setting; did you mean web.metadata.server_information?"),
    ({"config.py": 'test = {"wbe": {"port": 1}}'}, {"HERO_ENV": "test"}, "config wbe is not a setting; did you mean web?"),
    ({}, {"HERO_WEB__PROT": "9000"}, "HERO_WEB__PROT: config web.prot is not a setting; did you mean web.port?"),
    ({}, {"HERO_LOGER__LEVEL": "info"}, "HERO_LOGER__LEVEL: config loger.level is not a setting; did you mean logger.level?"),
    ({}, {"HERO_GENERAL__ZZZZZZ": "1"}, "HERO_GENERAL__ZZZZZZ: config general.zzzzzz is not a setting"),
])
def test_an_unknown_key_stops_the_boot_naming_the_closest_one(tmp_path, files, environ, message):
    root = write_app(tmp_path, files)
    with pytest.raises(ConfigError) as raised:
        load_config(root, environ=environ)
    assert raised.value.message == message


def test_free_form_settings_take_any_key(tmp_path):
    root = write_app(tmp_path, {"config.py": 'web = {"http_headers": {"X-Any": "1"}}\n'
                                             'logger = {"config": {"loggers": {"x": {"level": "INFO"}}}}\n'
                                             'general = {"starting_chat_rooms": {"lobby": {}}}'})
    config = load_config(root, environ={"HERO_ROUTES__GET": "[]"})
    assert config.web.http_headers["X-Any"] == "1"
    assert config.general.starting_chat_rooms["lobby"] == {}


def test_strictness_follows_the_defaults(tmp_path, monkeypatch):
    """A key another part of hero adds to hero/defaults.py is a setting at once."""
    from hero.defaults import DEFAULTS

    monkeypatch.setitem(DEFAULTS, "newpart", {"size": 3})
    monkeypatch.setitem(DEFAULTS["general"], "new_limit", 10)
    root = write_app(tmp_path, {"config.py": 'newpart = {"size": 4}\ngeneral = {"new_limit": 20}'})
    config = load_config(root, environ={"HERO_NEWPART__SIZE": "5"})
    assert config.newpart.size == 5 and config.general.new_limit == 20
    with pytest.raises(ConfigError, match="newpart.sise is not a setting; did you mean newpart.size"):
        load_config(root, environ={"HERO_NEWPART__SISE": "5"})


def test_dead_keys_are_gone_and_max_log_string_length_cuts_logged_params(tmp_path, caplog):
    from hero.spec_helper import SpecHelper
    from tests.conftest import APP_ROOT

    with pytest.raises(ConfigError, match="default_middleware_priority is not a setting"):
        load_config(write_app(tmp_path, {"config.py": 'general = {"default_middleware_priority": 5}'}), environ={})
    helper = SpecHelper.boot(APP_ROOT, overrides={"logger": {"max_log_string_length": 5, "level": "info"}})
    try:
        with caplog.at_level("INFO", logger="hero.action"):
            helper.run_action("cacheTest", key="abcdefghij", value="x")
        assert "'abcde…'" in caplog.text and "abcdefghij" not in caplog.text
    finally:
        helper.stop()


@pytest.mark.parametrize(("values", "message"), [
    ({"metrics": {"enabled": "yes"}}, "metrics.enabled must be true, false or null"),
    ({"otel": {"enabled": 1}}, "otel.enabled must be true, false or null"),
    ({"metrics": {"path": "metrics"}}, "metrics.path must start with /"),
    ({"metrics": {"buckets": []}}, "metrics.buckets must be positive numbers"),
    ({"logger": {"format": "xml"}}, "logger.format must be text or json"),
])
def test_new_settings_are_checked(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, environ={}, overrides=values)
