"""The built-in `actionsView`: every action with its metadata, in the seed's shape."""
from __future__ import annotations


def test_actions_view_lists_the_example_actions(spec_helper):
    listed = {entry["name"]: entry for entry in spec_helper.run_action("actionsView")["actions"]}
    assert {"randomNumber", "cacheTest", "status", "say", "actionsView", "createChatRoom",
            "showDocumentation"} <= set(listed)
    random_number = listed["randomNumber"]
    assert random_number["version"] == 2 and random_number["versions"] == [1, 2]
    assert random_number["outputExample"]["version"] == 2
    assert random_number["description"] and random_number["blockedConnectionTypes"] == []
    cache_test = listed["cacheTest"]
    assert cache_test["inputs"]["required"] == ["key", "value"]
    assert cache_test["inputs"]["details"]["key"]["required"] is True
    say = listed["say"]
    assert say["inputs"]["required"] == ["room", "message"] and say["middleware"] == []
    documented = spec_helper.run_action("showDocumentation")["documentation"]
    assert documented["cacheTest"]["1"]["inputs"] == cache_test["inputs"]["details"]
