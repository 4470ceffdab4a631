"""The example app's actions, through the spec helper (as an app author would test them)."""
from __future__ import annotations


def test_random_number(spec_helper):
    response = spec_helper.run_action("randomNumber")
    assert 0 <= response["randomNumber"] <= 1
    assert response["stringRandomNumber"] == f"Your random number is {response['randomNumber']}"
    assert response["serverInformation"]["serverName"] == "hero"
    assert response["requesterInformation"]["receivedParams"] == {"action": "randomNumber"}


def test_cache_test_round_trips_a_value(spec_helper):
    response = spec_helper.run_action("cacheTest", key="greeting", value="hello")
    assert "error" not in response
    results = response["cacheTestResults"]
    assert results["saveResp"] is True and results["deleteResp"] is True
    assert results["loadResp"]["key"] == "cacheTest_greeting"
    assert results["loadResp"]["value"] == "hello"


def test_cache_test_requires_a_key(spec_helper):
    response = spec_helper.run_action("cacheTest", value="hello")
    assert response["error"] == "key is a required parameter for this action"


def test_cache_test_validates_length(spec_helper):
    response = spec_helper.run_action("cacheTest", key="ab", value="hello")
    assert response["error"] == "inputs should be at least 3 letters long"


def test_sleep_test(spec_helper):
    response = spec_helper.run_action("sleepTest", sleepDuration=20)
    assert response["sleepDuration"] == 20
    assert response["sleepDelta"] >= 15


def test_validation_test(spec_helper):
    assert spec_helper.run_action("validationTest", string="abc", number="12")["number"] == 12
    response = spec_helper.run_action("validationTest", string="a1", number="12")
    assert response["error"] == 'Input for parameter "string" failed validation!'
    response = spec_helper.run_action("validationTest", string="abc", number="twelve")
    assert response["error"] == "Failed formatting number correctly!"


def test_status(spec_helper):
    response = spec_helper.run_action("status")
    assert response["nodeStatus"] == "Node Healthy"
    assert response["problems"] == []
    assert response["name"] == "hero"
    assert response["uptime"] >= 0
    assert "requests" in response["stats"]


def test_show_documentation(spec_helper):
    documentation = spec_helper.run_action("showDocumentation")["documentation"]
    assert documentation["cacheTest"]["1"]["inputs"]["key"]["required"] is True
    assert documentation["randomNumber"]["1"]["name"] == "randomNumber"


def test_the_example_middleware_is_registered(spec_helper):
    assert "nodeIdStamp" in spec_helper.api.actions.middleware
