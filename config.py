"""The example app's configuration: only what differs from hero's defaults (hero/config.py).

Each namespace is a plain dict; a dict named after an environment (development, test,
production) overrides it there. The environment (PORT, REDIS_URL, HERO_<NS>__<KEY>) wins over both.
"""

general = {
    "server_name": "hero",
    "description": "hero's example application",
    # NOTE: in every environment, as actionhero's generated config does: the pages in public/ and
    # the README's examples join this room, so it must exist on a fresh `python -m hero start`.
    "starting_chat_rooms": {"defaultRoom": {}},
}

routes = {
    "get": [
        {"path": "/status", "action": "status"},
        {"path": "/random", "action": "randomNumber"},
        {"path": "/users", "action": "listUsers"},
        {"path": "/users/:id(^\\d+$)", "action": "showUser"},
    ],
    "post": [
        {"path": "/users", "action": "createUser"},
    ],
    "delete": [
        {"path": "/users/:id(^\\d+$)", "action": "deleteUser"},
    ],
}

test = {
    "logger": {"level": "warning"},
}

production = {
    "logger": {"level": "warning"},
}
