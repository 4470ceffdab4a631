"""Cluster methods the probe action calls: each records or names the process that ran it."""
from hero import Initializer


class Probe(Initializer):
    name = "probe"

    def initialize(self, api):
        def record(token):
            api.redis.client.rpush(api.redis.key("probe", token), api.id)

        api.cluster.register("probe.record", record)
        api.cluster.register("probe.whoami", lambda: api.id)
