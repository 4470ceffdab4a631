"""An example initializer: adds a named action middleware that stamps each response with the node id.

Actions opt in by listing `nodeIdStamp` in their middleware. Kept tiny on purpose: it shows the
three phases, and registering middleware from an initializer.
"""
import logging

from hero import ActionMiddleware, Initializer

log = logging.getLogger("app.startup_banner")


class NodeIdStamp(ActionMiddleware):
    """Adds ``node`` to the response of actions that list ``nodeIdStamp`` in their middleware."""

    name = "nodeIdStamp"
    priority = 1000

    def post_process(self, data):
        data.response["node"] = data.api.id


class StartupBanner(Initializer):
    name = "startupBanner"

    def initialize(self, api):
        api.actions.add_middleware(NodeIdStamp())

    def start(self, api):
        log.info("example app started with %d actions", sum(1 for _ in api.actions))

    def stop(self, api):
        log.info("example app stopping")
