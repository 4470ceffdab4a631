"""What the tests share, imported by name (``from tests.support.lines import LineClient``); fixtures live in
the conftest.py files instead.

- ``apps``: the example app's folder, throwaway apps, free ports, polling, a redis-server of a test's own
- ``needs``: the test Redis and the programs a test needs (skip on a laptop, fail under CI=true)
- ``processes``: the one way to start a hero (or gunicorn) subprocess, wait until it is ready, stop it
- ``lines``: a client of the TCP line protocol
- ``ws``: WebSocket clients: websocket-client helpers and a raw-frame client
- ``web``: extra actions and routes for the HTTP tests, and a raw HTTP exchange
- ``netns``: a network namespace behind a veth pair, for peers that vanish
"""
