"""Inputs in every era's form (docs/actions.md, "Inputs"): v3/v8 ``{"required": [...], "optional":
[...]}``, validators/formatters/defaults written as ``(param, connection, action_template)``,
``api.params.add_global_safe`` (seed 001's ``api.postVariables``), and seed 000's ``limit`` /
``offset`` behind ``general.pagination_defaults``; over the pipeline, HTTP and TCP."""
from __future__ import annotations

import pytest
import requests

from hero import Action, Input
from hero.core.connection import Connection
from hero.core.params.spec import ParamSpec
from hero.errors import BootError
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)


class V3(Action):
    name = "v3Inputs"
    inputs = {"required": ["key"], "optional": ["value"]}

    def run(self, data):
        return {"params": {k: v for k, v in data.params.items() if k not in ("action", "apiVersion")}}


def owner_only(param, connection, action_template):
    if connection.session.get("user") != param:
        return f"{param} is not you (action {action_template.name}, {connection.type})"
    return True


def tag_with_type(param, connection):
    return f"{param}@{connection.type}"


class Eras(Action):
    name = "eras"
    inputs = {
        "user": Input(required=True, validator=owner_only),
        "label": Input(formatter=tag_with_type),
        "plain": Input(formatter=str.upper, validator=lambda value: len(value) < 10 or "too long"),
        "made": Input(default=lambda param, connection, action_template: f"{action_template.name}:{connection.type}"),
        "count": Input(default=lambda: 3, formatter=int),
    }

    def run(self, data):
        return {"params": {k: v for k, v in data.params.items() if k not in ("action", "apiVersion")}}


class Page(Action):
    name = "page"

    def run(self, data):
        return {"limit": data.params.get("limit"), "offset": data.params.get("offset"),
                "tenant": data.params.get("tenant")}


class OwnLimit(Action):
    name = "ownLimit"
    inputs = {"limit": Input(default="all")}

    def run(self, data):
        return {"limit": data.params["limit"], "offset": data.params.get("offset")}


def run(api, name, **params):
    connection = Connection(type="test")
    connection.session["user"] = "ann"
    return api.processor.process(connection, {"action": name, **params})


def test_the_v3_required_optional_form(boot_hero) -> None:
    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False}})
    api.actions.add(V3)
    assert run(api, "v3Inputs").response["error"] == "key is a required parameter for this action"
    assert run(api, "v3Inputs", key="k", value="v", other="x").response["params"] == {"key": "k", "value": "v"}
    assert api.actions.latest["v3Inputs"].describe()["inputs"]["key"]["required"] is True
    # a dict that only looks like it (values not lists of names) stays an ordinary inputs dict
    spec = ParamSpec.compile({"required": Input(required=True)}, owner="action `x`")
    assert spec.names == ("required",)


def test_actionhero_style_validators_formatters_and_defaults(boot_hero) -> None:
    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False}})
    api.actions.add(Eras)
    response = run(api, "eras", user="ann", label="x", plain="abc").response
    assert response["params"] == {"user": "ann", "label": "x@test", "plain": "ABC", "made": "eras:test", "count": 3}
    assert run(api, "eras", user="bob").response["error"] == "bob is not you (action eras, test)"
    assert run(api, "eras", user="ann", plain="abcdefghijkl").response["error"] == "too long"


def test_add_global_safe_over_the_pipeline_http_and_tcp(boot_hero) -> None:
    api = boot_hero()
    api.actions.add(Page)
    assert run(api, "page", tenant="fr").response["tenant"] is None  # scrubbed
    api.params.add_global_safe("tenant")
    assert "tenant" in api.params.global_safe
    assert run(api, "page", tenant="fr").response["tenant"] == "fr"
    api.actions.add(OwnLimit)  # added later: accepts it too
    assert run(api, "ownLimit", tenant="fr").response["limit"] == "all"
    web = api.servers["web"].url
    assert requests.get(f"{web}/api/page?tenant=de").json()["tenant"] == "de"
    client = LineClient(api.servers["socket"].address)
    try:
        assert client.ask("paramAdd tenant it")["status"] == "OK"  # a known param for paramAdd now
        assert client.ask("page")["tenant"] == "it"
    finally:
        client.close()
    with pytest.raises(BootError, match="is not a param name"):
        api.params.add_global_safe("two words")


def test_pagination_defaults_are_off_by_default(boot_hero) -> None:
    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False}})
    api.actions.add(Page)
    assert run(api, "page").response == {"limit": None, "offset": None, "tenant": None}


def test_pagination_defaults(boot_hero) -> None:
    api = boot_hero({"general": {"pagination_defaults": True, "pagination_limit": 50}, "socket": {"enabled": False}})
    api.actions.add(Page)
    api.actions.add(OwnLimit)
    assert run(api, "page").response == {"limit": 50, "offset": 0, "tenant": None}
    assert run(api, "page", limit="10", offset="20").response == {"limit": 10, "offset": 20, "tenant": None}
    assert run(api, "page", limit="-1").response["error"] == "limit must be a whole number of 0 or more"
    assert run(api, "page", offset="x").response["error"] == "offset must be a whole number of 0 or more"
    assert run(api, "ownLimit").response == {"limit": "all", "offset": 0}  # its own input wins
    body = requests.get(f"{api.servers['web'].url}/api/page?limit=5").json()
    assert body["limit"] == 5 and body["offset"] == 0
