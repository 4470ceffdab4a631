"""Sails-style actions: every example of the founding document (seeds/004: Sails' actions system),
translated to Python, runs here against a booted app (no sockets: virtual requests and the spec
helper). The transports' side is tests/servers/test_sails_transports.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from hero import CodedError, Exit
from hero.spec_helper import SpecHelper
from tests.support.apps import write_app

# --- the app: Sails-style files under actions/, Sails-form routes, middleware by identity ---------

CONFIG = '''
routes = {
    "POST /users": "user/create",
    "GET /users": "user/find",
    "GET /users/:id": "user/find-one",
    "/login": {"action": "entrance/login"},
    "get": [{"path": "/hello", "action": "hello/world"}],
}
'''

USER_CREATE = '''
"""The seed's standalone action (api/actions/user/create.js), with a 201 success."""
from hero import api

friendly_name = "Create user"
description = "Create a new user account"

inputs = {
    "email": {"type": "string", "required": True, "isEmail": True},
    "fullName": {"type": "string", "required": True},
    "password": {"type": "string", "minLength": 6, "description": "at least 6 characters"},
}

exits = {
    "success": {"statusCode": 201, "description": "User created successfully",
                "outputExample": {"user": {"email": "ann@example.com", "fullName": "Ann"}}},
    "emailAlreadyInUse": {"statusCode": 409, "description": "Email address already in use"},
}


def fn(inputs, exits):
    users = api.users
    if any(user["email"] == inputs.email for user in users):
        return exits.emailAlreadyInUse()
    user = {"id": len(users) + 1, "email": inputs.email, "fullName": inputs.fullName}
    users.append(user)
    return {"user": user}
'''

USER_FIND = '''
"""The seed's machineAction (Find users): defaults, min/max, outputType."""
from hero import api

friendly_name = "Find users"
description = "Find users with optional filtering"
inputs = {
    "limit": {"type": "number", "defaultsTo": 10, "min": 1, "max": 100},
    "skip": {"type": "number", "defaultsTo": 0, "min": 0},
    "search": {"type": "string", "description": "Search term for user names or emails"},
}
exits = {
    "success": {"description": "Users found successfully", "outputType": {"users": ["ref"], "totalCount": "number"}},
}


def fn(inputs, exits):
    users = [user for user in api.users
             if not inputs.search or inputs.search in user["fullName"] or inputs.search in user["email"]]
    return exits.success({"users": users[inputs.skip:inputs.skip + inputs.limit], "totalCount": len(users)})
'''

USER_FIND_ONE = '''
"""A classic action file: fn(req, res)."""
from hero import api


def fn(req, res):
    found = [user for user in api.users if str(user["id"]) == str(req.params["id"])]
    if not found:
        return res.not_found({"error": f"no user {req.params['id']}"})
    return res.json(found[0])
'''

LOGIN = '''
def fn(req, res):
    if req.method == "POST":
        req.session["userId"] = req.params.get("userId")
    return res.json({"method": req.method, "userId": req.session.get("userId")})
'''

DASHBOARD = '''
inputs = {}


def fn(inputs, exits, env):
    return {"path": env.req.path, "apiKey": env.req.headers.get("x-api-key"), "type": env.connection.type}
'''

SAILS_INITIALIZER = '''
from hero import Initializer

VALID_KEYS = {"key-1"}


def is_valid_api_key(key):
    return key in VALID_KEYS


class Sails(Initializer):
    name = "sails"

    def initialize(self, api):
        api.users = []
        api.actions.register_action_middleware({
            "friendlyName": "Validate API key",
            "fn": validate_api_key,
        }, "admin/*")


def validate_api_key(req, res, proceed):
    api_key = req.headers.get("x-api-key")
    if not api_key or not is_valid_api_key(api_key):
        return res.status(403).json({"error": "Invalid API key"})
    return proceed()
'''


@pytest.fixture(scope="module")
def app_root(tmp_path_factory) -> Path:
    return write_app(tmp_path_factory.mktemp("sails"), {
        "config.py": CONFIG,
        "actions/user/create.py": USER_CREATE,
        "actions/user/find.py": USER_FIND,
        "actions/user/find-one.py": USER_FIND_ONE,
        "actions/entrance/login.py": LOGIN,
        "actions/admin/dashboard.py": DASHBOARD,
        "initializers/sails.py": SAILS_INITIALIZER,
    })


@pytest.fixture(scope="module")
def helper(app_root):
    helper = SpecHelper.boot(app_root)
    yield helper
    helper.stop()


@pytest.fixture
def api(helper):
    helper.api.users.clear()
    return helper.api


# --- sails.registerAction ---------------------------------------------------------------------------


def test_register_a_simple_function_action(api, helper):
    api.actions.register_action(lambda req, res: res.json({"message": "Hello from action!"}), "hello/world",
                                force=True)
    assert helper.run_action("hello/world")["message"] == "Hello from action!"
    response = helper.request("/api/hello")  # its route, as HTTP would
    assert (response.status, response.body["message"]) == (200, "Hello from action!")
    assert helper.request("/api/hello/world").body["message"] == "Hello from action!"  # /api/<identity>
    assert helper.request("/api?action=hello/world").body["message"] == "Hello from action!"


class User:
    """The seed's ``User`` model, as little as the example needs."""

    rows: list[dict] = []

    @classmethod
    def find_one(cls, email):
        return next((row for row in cls.rows if row["email"] == email), None)

    @classmethod
    def create(cls, **values):
        cls.rows.append(values)
        return values


def hash_password(password):
    return "hashed:" + password


def create_user(inputs, exits):
    try:
        # Check if email exists
        existing_user = User.find_one(inputs.email)
        if existing_user:
            return exits.emailAlreadyInUse()
        # Create new user
        new_user = User.create(email=inputs.email, password=hash_password(inputs.password), fullName=inputs.fullName)
        return exits.success({"user": new_user, "message": "User created successfully"})
    except Exception as err:
        return exits.serverError(err)


MACHINE = {
    "friendlyName": "Create user",
    "description": "Create a new user account",
    "inputs": {
        "email": {"type": "string", "required": True, "isEmail": True},
        "password": {"type": "string", "required": True, "minLength": 6},
        "fullName": {"type": "string", "required": True},
    },
    "exits": {
        "success": {"description": "User created successfully"},
        "emailAlreadyInUse": {"statusCode": 409, "description": "Email address already in use"},
    },
    "fn": create_user,
}


def test_register_a_machine_action_and_its_exits(api, helper):
    User.rows = []
    api.actions.register_action(MACHINE, "account/create")
    params = {"email": "ann@example.com", "password": "secret1", "fullName": "Ann"}
    created = helper.request("POST /api/account/create", params=params)
    assert created.status == 200
    assert created.body["user"]["password"] == "hashed:secret1"
    assert created.body["message"] == "User created successfully"
    again = helper.request("POST /api/account/create", params=params)
    assert (again.status, again.body["error"]) == (409, "Email address already in use")
    # inputs: hero's texts and statuses
    short = helper.request("POST /api/account/create", params={**params, "password": "abc"})
    assert (short.status, short.body["error"]) == (422, "password must be at least 6 characters long")
    missing = helper.request("POST /api/account/create", params={"email": "bo@example.com", "password": "secret1"})
    assert (missing.status, missing.body["error"]) == (422, "fullName is a required parameter for this action")
    bad = helper.request("POST /api/account/create", params={**params, "email": "not-an-email"})
    assert (bad.status, bad.body["error"]) == (422, "email must be an email address")


def test_exits_statuses_and_signals(api, helper):
    class Missing(Exception):
        exit = "notFound"

    def fn(inputs, exits):
        if inputs.how == "raise-exit":
            raise Missing("no such thing")
        if inputs.how == "signal":
            raise Exit("gone", {"why": "it went"})
        if inputs.how == "undeclared-status":
            return exits.weird()
        if inputs.how == "boom":
            raise RuntimeError("boom")
        if inputs.how == "text":
            return "just text"
        return None

    api.actions.register({"inputs": {"how": {"type": "string", "isIn": ["raise-exit", "signal", "undeclared-status",
                                                                        "boom", "text", "nothing"]}},
                          "exits": {"notFound": {"statusCode": 404, "description": "nothing found"},
                                    "gone": {"statusCode": 410}, "weird": {"description": "an exit without a status"}},
                          "fn": fn}, "exits/demo")

    def ask(how):
        response = helper.request("/api/exits/demo", params={"how": how})
        body = {key: value for key, value in response.body.items()
                if key not in ("serverInformation", "requesterInformation")}
        assert ("errorId" in body) == (how == "boom")  # an unexpected exception, worded by hero
        body.pop("errorId", None)
        return response.status, body

    assert ask("raise-exit") == (404, {"error": "no such thing"})
    assert ask("signal") == (410, {"error": "gone", "why": "it went"})
    assert ask("undeclared-status") == (500, {"error": "an exit without a status"})
    assert ask("boom") == (500, {"error": "boom"})
    assert ask("text") == (200, {"data": "just text"})
    assert ask("nothing") == (200, {})
    assert ask("other") == (422, {"error": "how must be one of raise-exit, signal, undeclared-status, boom, text, "
                                            "nothing"})


def test_force_overwrite_and_e_conflict(api, helper):
    api.actions.register(lambda req, res: res.json({"version": 1}), "thing/make")
    with pytest.raises(CodedError) as conflict:
        api.actions.register(lambda req, res: res.json({"version": 2}), "thing/make")
    assert conflict.value.code == "E_CONFLICT"
    assert "thing/make" in conflict.value.message
    assert helper.run_action("thing/make")["version"] == 1
    api.actions.register_action(lambda req, res: res.json({"version": 2}), "thing/make", True)  # force
    assert helper.run_action("thing/make")["version"] == 2


@pytest.mark.parametrize(("definition", "problem"), [
    ({"inputs": {}}, "needs an `fn`"),
    ({"fn": lambda inputs: None, "exits": {"oops": "not a dict"}}, "exit `oops` must be a dict"),
    ({"fn": lambda inputs: None, "inputs": {"age": {"type": "integer"}}}, "input `age` has an unknown type 'integer'"),
    ({"fn": lambda inputs: None, "inputs": {"age": {"type": "number", "isPositive": True}}},
     "input `age` has an unknown rule isPositive"),
    ({"fn": lambda inputs: None, "exits": {"x": {"statusCode": 99}}}, "statusCode 99"),
    (42, "is not an Action class, a function fn(req, res) or a machine definition"),
    (lambda only_one: None, "fn takes 1 arguments, it must take 2"),
])
def test_e_invalid_names_the_identity_and_the_problem(api, definition, problem):
    with pytest.raises(CodedError) as invalid:
        api.actions.register(definition, "broken/thing")
    assert invalid.value.code == "E_INVALID"
    assert "broken/thing" in invalid.value.message and problem in invalid.value.message
    assert "broken/thing" not in api.actions.all()


def test_get_actions_is_a_shallow_copy(api):
    actions = api.actions.get_actions()
    assert {"user/create", "user/find", "user/find-one", "entrance/login", "admin/dashboard", "swagger"} <= set(actions)
    user_create_action = actions["user/create"]
    assert user_create_action.identity == "user/create" and user_create_action.sails == "machine"
    actions.pop("user/create")
    assert "user/create" in api.actions.all()


# --- the standalone files: identities, routes in Sails form --------------------------------------


def test_action_files_are_served_under_their_identity(api, helper):
    created = helper.request({"url": "/api/users", "method": "POST",
                              "params": {"email": "test@example.com", "fullName": "Test User", "password": "password123"}})
    assert created.status == 201
    assert created.body["user"]["email"] == "test@example.com"
    conflict = helper.request("POST /api/users", params={"email": "test@example.com", "fullName": "Test User"})
    assert (conflict.status, conflict.body["error"]) == (409, "Email address already in use")
    found = helper.request("/api/users/1")
    assert (found.status, found.body["fullName"]) == (200, "Test User")
    missing = helper.request("/api/users/99")
    assert (missing.status, missing.body["error"]) == (404, "no user 99")
    listed = helper.request("/api/users", params={"search": "Test"})
    assert listed.body["totalCount"] == 1 and listed.body["users"][0]["id"] == 1
    assert helper.request("/api/users", params={"limit": "0"}).body["error"] == "limit must be at least 1"
    assert helper.request("/api/users", params={"limit": "many"}).body["error"] == "limit must be a number"


def test_a_path_without_a_verb_matches_every_verb(helper):
    assert helper.request("GET /api/login").body["method"] == "GET"
    posted = helper.request("POST /api/login", params={"userId": "7"}).body
    assert (posted["method"], posted["userId"]) == ("POST", "7")
    assert helper.request("PUT /api/login").body["method"] == "PUT"


def test_route_for_and_url_for(api):
    # sails.getRouteFor('UserController.find'): the controller form finds user/find
    route = api.routes.get_route_for("UserController.find")
    assert f"Route: {route['method'].upper()} {route['url']}" == "Route: GET /api/users"
    assert api.routes.route_for("entrance/login") == {"url": "/api/login", "method": "all"}
    assert api.routes.route_for({"target": "user/find-one"}) == {"url": "/api/users/:id", "method": "get"}
    assert api.routes.get_url_for("user/create") == "/api/users"
    user_show_url = api.routes.url_for({"target": "user/find-one"})
    assert user_show_url.replace(":id", "123") == "/api/users/123"
    with pytest.raises(CodedError) as not_found:
        api.routes.route_for("UserController.destroy")
    assert not_found.value.code == "E_NOT_FOUND"
    for bad in (None, "", {"nope": 1}, 42):
        with pytest.raises(CodedError) as usage:
            api.routes.route_for(bad)
        assert usage.value.code == "E_USAGE"


# --- sails.registerActionMiddleware ---------------------------------------------------------------


def test_action_middleware_by_identity(api, helper):
    def require_login(req, res, proceed):
        if not req.session.get("userId"):
            return res.status(401).json({"error": "Authentication required"})
        return proceed()

    api.actions.register(lambda req, res: res.json({"secret": 42}), "auth/secret")
    api.actions.register(lambda req, res: res.json({"open": True}), "public/page")
    api.actions.register_action_middleware(require_login, "auth/*")
    refused = helper.request("/api/auth/secret")
    assert (refused.status, refused.body["error"]) == (401, "Authentication required")
    assert helper.request("/api/public/page").body["open"] is True  # not under auth/
    connection = helper.build_connection()
    connection.session["userId"] = "ann"
    assert helper.run_action("auth/secret", connection=connection)["secret"] == 42
    with pytest.raises(CodedError) as conflict:
        api.actions.register_middleware(require_login, "auth/*")
    assert conflict.value.code == "E_CONFLICT"
    api.actions.register_middleware(require_login, "auth/*", force=True)  # replaced, not doubled
    assert len([m for p, m, given in api.actions.identity_middleware if given is require_login]) == 1


def test_middleware_from_a_file_initializer_with_headers(helper):
    refused = helper.request("/api/admin/dashboard")
    assert (refused.status, refused.body["error"]) == (403, "Invalid API key")
    allowed = helper.request({"url": "/api/admin/dashboard", "headers": {"X-Api-Key": "key-1"}})
    assert allowed.status == 200
    assert allowed.body["apiKey"] == "key-1" and allowed.body["path"] == "/api/admin/dashboard"


def test_middleware_patterns_exact_every_and_lists(api, helper):
    seen: list[str] = []

    def record(req, res, proceed):
        seen.append(req.identity)
        proceed()

    api.actions.register(lambda req, res: res.json({}), "list/one")
    api.actions.register(lambda req, res: res.json({}), "list/two")
    api.actions.register_middleware(record, ["list/one", "list/two"])
    helper.run_action("list/one")
    helper.run_action("list/two")
    helper.run_action("user/find")
    assert seen == ["list/one", "list/two"]
    with pytest.raises(CodedError) as bad:
        api.actions.register_middleware(record, "")
    assert bad.value.code == "E_INVALID"


# --- function actions: the seed's simple, async-turned-blocking and error-handling examples ------


def test_simple_and_error_handling_function_actions(api, helper):
    def simple_action(req, res):
        return res.json({"message": "Simple action response", "id": req.params.get("id")})

    def fetch_data_from_database():
        return {"rows": [1, 2, 3]}

    def blocking_action(req, res):  # Sails' async action: blocking-style on gevent
        try:
            return res.json(fetch_data_from_database())
        except Exception as err:
            return res.server_error(err)

    class NotFound(Exception):
        code = "E_NOT_FOUND"

    def risky_operation(what):
        if what == "missing":
            raise NotFound("missing")
        raise RuntimeError("it broke")

    def risky(req, res):
        try:
            return res.json(risky_operation(req.params.get("what")))
        except Exception as err:
            if getattr(err, "code", None) == "E_NOT_FOUND":
                return res.not_found()
            return res.server_error(err)

    api.actions.register_action(simple_action, "simple/action")
    api.actions.register_action(blocking_action, "async/action")
    api.actions.register_action(risky, "risky/operation")
    assert helper.request("/api/simple/action?id=7").body["id"] == "7"
    assert helper.request("/api/async/action").body["rows"] == [1, 2, 3]
    assert (lambda r: (r.status, r.body["error"]))(helper.request("/api/risky/operation?what=missing")) == \
        (404, "Not Found")
    assert (lambda r: (r.status, r.body["error"]))(helper.request("/api/risky/operation")) == (500, "it broke")


def test_the_seeds_validated_operation(api, helper):
    class ValidationError(Exception):
        name = "ValidationError"
        details = {"field": "x"}

    def perform_operation(inputs):
        if inputs.get("mode") == "invalid":
            raise ValidationError()
        if inputs.get("mode") == "crash":
            raise KeyError("mode")
        return {"done": True}

    def fn(inputs, exits):
        try:
            result = perform_operation(inputs)
            return exits.success(result)
        except Exception as err:
            if getattr(err, "name", "") == "ValidationError":
                return exits.invalid(err.details)
            raise  # Will be caught by framework

    api.actions.register({"inputs": {"mode": {"type": "string"}}, "fn": fn,
                          "exits": {"invalid": {"statusCode": 400, "description": "Invalid input provided"}}},
                         "validated/operation")
    ok = helper.request("/api/validated/operation")
    assert (ok.status, ok.body["done"]) == (200, True)
    invalid = helper.request("/api/validated/operation?mode=invalid")
    assert (invalid.status, invalid.body["error"], invalid.body["field"]) == (400, "Invalid input provided", "x")
    crash = helper.request("/api/validated/operation?mode=crash")
    assert (crash.status, crash.body["error"]) == (500, "'mode'")


def test_res_helpers(api, helper):
    def fn(req, res):
        kind = req.param("kind")
        if kind == "created":
            return res.set("X-Made", "yes").created({"id": 1})
        if kind == "bad":
            return res.bad_request("no good")
        if kind == "forbidden":
            return res.forbidden()
        if kind == "list":
            return res.send([1, 2])
        return res.status(202).set({"X-A": "1"}).json({"accepted": True})

    api.actions.register(fn, "res/helpers")

    def ask(kind):
        response = helper.request("/api/res/helpers", params={"kind": kind})
        body = {k: v for k, v in response.body.items() if k not in ("serverInformation", "requesterInformation")}
        return response.status, body, response.headers

    status, body, headers = ask("created")
    assert (status, body, headers["x-made"]) == (201, {"id": 1}, "yes")
    assert ask("bad")[:2] == (400, {"error": "no good"})
    assert ask("forbidden")[:2] == (403, {"error": "Forbidden"})
    assert ask("list")[:2] == (200, {"data": [1, 2]})
    status, body, headers = ask("accepted")
    assert (status, body, headers["X-A"]) == (202, {"accepted": True}, "1")


def test_async_def_is_refused_clearly(api):
    async def fn(req, res):
        return None

    with pytest.raises(CodedError) as invalid:
        api.actions.register(fn, "async/refused")
    assert invalid.value.code == "E_INVALID" and "async def" in invalid.value.message


# --- virtual requests --------------------------------------------------------------------------------


def test_virtual_requests_in_every_form(api, helper):
    helper.request("POST /api/users", params={"email": "ann@example.com", "fullName": "Ann"})
    # sails.request('/api/users', cb)
    response = api.request("/api/users")
    assert response.status_code == 200 and response.body["totalCount"] == 1
    status, headers, body = api.request("/api/users/1")
    assert status == 200 and headers["Content-Type"].startswith("application/json") and body["id"] == 1
    # with params, as POST
    created = api.request({"url": "/api/users", "method": "POST",
                           "params": {"email": "test@example.com", "fullName": "Test User", "password": "password123"}})
    assert created.status == 201 and created.body["user"]["fullName"] == "Test User"
    # with headers
    protected = api.request({"url": "/api/admin/dashboard",
                             "headers": {"Authorization": "Bearer token123", "X-Api-Key": "key-1",
                                         "Content-Type": "application/json"}})
    assert protected.status == 200
    assert api.request("/api/nope/nothing").status == 404
    with pytest.raises(CodedError) as usage:
        api.request("users")
    assert usage.value.code == "E_USAGE"


def test_the_seeds_testing_example(api, helper):
    response = helper.request({"url": "/api/users", "method": "POST",
                               "params": {"email": "test@example.com", "fullName": "Test User"}})
    assert response.status == 201
    assert response.body["user"]


# --- reload ------------------------------------------------------------------------------------------


def test_reload_actions_with_a_changed_file_and_a_broken_one(app_root, tmp_path):
    helper = SpecHelper.boot(write_app(tmp_path, {
        "actions/greeting/say.py": 'def fn(req, res):\n    return res.json({"text": "hello"})\n',
        "actions/greeting/other.py": 'inputs = {}\n\ndef fn(inputs, exits):\n    return {"other": 1}\n',
    }))
    try:
        api = helper.api
        api.actions.register(lambda req, res: res.json({"kept": True}), "code/registered")
        assert helper.request("/api/greeting/say").body["text"] == "hello"
        (tmp_path / "actions/greeting/say.py").write_text('def fn(req, res):\n    return res.json({"text": "hi!"})\n')
        (tmp_path / "actions/greeting/new.py").write_text('def fn(req, res):\n    return res.json({"new": True})\n')
        (tmp_path / "actions/greeting/other.py").unlink()
        outcome: list = []
        api.actions.reload_actions(outcome.append)  # Node-style callback
        assert outcome == [None]
        assert helper.request("/api/greeting/say").body["text"] == "hi!"
        assert helper.request("/api/greeting/new").body["new"] is True
        assert helper.request("/api/greeting/other").status == 404
        assert helper.request("/api/code/registered").body["kept"] is True  # registered in code: kept
        assert "greeting/new" in api.actions.all()
        swagger = helper.request("/api/swagger").body
        assert "/api/greeting/new" in swagger["paths"] and "/api/greeting/other" not in swagger["paths"]
        # a broken file: the error names it, and the old actions keep serving
        (tmp_path / "actions/greeting/say.py").write_text("def fn(req, res):\n    return res.json({'text': 'v3'})\n")
        (tmp_path / "actions/greeting/broken.py").write_text("raise RuntimeError('boom')\n")
        with pytest.raises(Exception) as failed:
            api.actions.reload()
        assert "broken.py" in str(failed.value) and "boom" in str(failed.value)
        assert helper.request("/api/greeting/say").body["text"] == "hi!"
        errors: list = []
        api.actions.reload(errors.append)
        assert "broken.py" in str(errors[0])
        (tmp_path / "actions/greeting/broken.py").write_text("inputs = {'x': {'type': 'integer'}}\n\n"
                                                            "def fn(inputs, exits):\n    return {}\n")
        with pytest.raises(Exception) as invalid:
            api.actions.reload()
        assert "broken.py" in str(invalid.value) and "unknown type 'integer'" in str(invalid.value)
        (tmp_path / "actions/greeting/broken.py").unlink()
        api.actions.reload()
        assert helper.request("/api/greeting/say").body["text"] == "v3"
    finally:
        helper.stop()


def test_a_broken_definition_file_fails_the_boot_naming_it(tmp_path):
    from hero.errors import BootError

    write_app(tmp_path, {"actions/user/create.py": "exits = {'x': 1}\n\ndef fn(inputs, exits):\n    return {}\n"})
    with pytest.raises(BootError) as failed:
        SpecHelper.boot(tmp_path)
    assert "actions/user/create.py" in str(failed.value) and "exit `x` must be a dict" in str(failed.value)


# --- OpenAPI --------------------------------------------------------------------------------------------


def test_openapi_shows_machine_inputs_and_each_exit(helper):
    document = helper.request("/api/swagger").body
    operation = document["paths"]["/api/users"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["email"] == {"type": "string", "format": "email"}
    assert schema["properties"]["password"]["minLength"] == 6
    assert schema["required"] == ["email", "fullName"]
    responses = operation["responses"]
    assert responses["201"]["description"] == "success: User created successfully"
    assert responses["201"]["content"]["application/json"]["example"]["user"]["fullName"] == "Ann"
    assert responses["409"]["description"] == "emailAlreadyInUse: Email address already in use"
    assert responses["500"]["description"].startswith("error:")
    assert responses["422"]
    find = document["paths"]["/api/users"]["get"]
    limit = next(p for p in find["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "number", "default": 10, "minimum": 1, "maximum": 100}
    assert "/api/user/create" in document["paths"]


def test_an_action_middleware_object_by_identity_sees_pre_and_post(api, helper):
    from hero import ActionMiddleware

    def stamp(data):
        data.response["stamped"] = data.action.name

    api.actions.register(lambda req, res: res.json({"ok": True}), "stamp/me")
    api.actions.register_middleware(ActionMiddleware("stamper", post_process=stamp), "stamp/*")
    assert helper.run_action("stamp/me")["stamped"] == "stamp/me"
    assert "stamped" not in helper.run_action("hello/world")


def test_routes_follow_the_root_endpoint_type():
    from hero.core.routes import Routes

    routes = {"POST /users": "user/create", "get": [{"path": "/status", "action": "status"}]}
    assert Routes.from_config(routes, {"root_endpoint_type": "file", "url_path_for_actions": "api"}) \
        .route_for("user/create") == {"url": "/api/users", "method": "post"}
    assert Routes.from_config(routes, {"root_endpoint_type": "api", "url_path_for_actions": "api"}) \
        .url_for("status") == "/status"


@pytest.mark.parametrize(("routes", "problem"), [
    ({"FETCH /users": "user/create"}, "unknown verb `FETCH`"),
    ({"GET /users": 42}, "the target must be an action identity"),
    ({"GET /users": {"path": "/x", "action": "a"}}, "the path is in the address"),
    ({"GET /users/:id?": "user/find-one"}, "bad route part"),
])
def test_bad_sails_routes_stop_the_boot_naming_them(routes, problem):
    from hero.core.routes import RouteTable
    from hero.errors import BootError

    with pytest.raises(BootError) as failed:
        RouteTable.from_config(routes)
    assert problem in str(failed.value) and next(iter(routes)) in str(failed.value)


def test_production_words_a_sails_server_error_as_any_bug(tmp_path):
    write_app(tmp_path, {
        "actions/leaky/classic.py": "def fn(req, res):\n    return res.server_error(RuntimeError('db password is x'))\n",
        "actions/leaky/machine.py": "inputs = {}\n\ndef fn(inputs, exits):\n    raise RuntimeError('db password is x')\n",
    })
    helper = SpecHelper.boot(tmp_path, overrides={"general": {"expose_errors": False}})
    try:
        for identity in ("leaky/classic", "leaky/machine"):
            response = helper.request(f"/api/{identity}")
            assert (response.status, response.body["error"]) == (500, "internal error")
            assert len(response.body["errorId"]) == 16
    finally:
        helper.stop()
