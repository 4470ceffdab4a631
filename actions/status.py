"""status: is this node healthy, and what is it doing (PROTOCOL §6)."""
import logging
import os
import resource
import time

import hero
from hero import Action

log = logging.getLogger(__name__)

#: Above these the node reports itself unhealthy.
MAX_MEMORY_MB = 500
MAX_TASK_QUEUE_LENGTH = 1000


#: (when read, MB): the memory figure is read at most once a second, not per request.
_memory_read: list[float] = [0.0, 0.0]


def consumed_memory_mb() -> float:
    """This process's resident memory in MB (read again after a second)."""
    now = time.monotonic()
    if now - _memory_read[0] >= 1.0:
        _memory_read[:] = [now, _read_memory_mb()]
    return _memory_read[1]


def _read_memory_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024, 2)
    except (OSError, ValueError, IndexError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2)


def seed_001_stats(api, requests: dict, connections: dict, memory_mb: float) -> dict:
    """The numbers seed 001's status answer shows beside hero's own (docs/actions.md, status)."""
    local, cluster = requests["local"], requests["global"]
    return {
        "id": api.id,
        "uptimeSeconds": round((int(time.time() * 1000) - api.started_at) / 1000, 3),
        "memoryConsumption": int(memory_mb * 1024 * 1024),
        "webServer": {
            "numberOfLocalWebRequests": local.get("web:requests", 0),
            "numberOfGlobalWebRequests": cluster.get("web:requests", 0),
        },
        "socketServer": {
            "numberOfLocalSocketRequests": local.get("actions:socket", 0),
            "numberOfGlobalSocketRequests": cluster.get("actions:socket", 0),
            "numberOfLocalActiveSocketClients": connections.get("socket", 0),
        },
        "webSocketServer": {
            "numberOfLocalWebSocketRequests": local.get("actions:websocket", 0),
            "numberOfGlobalWebSocketRequests": cluster.get("actions:websocket", 0),
            "numberOfLocalActiveWebSocketClients": connections.get("websocket", 0),
        },
    }


class Status(Action):
    name = "status"
    description = "I will return some basic information about the API"
    output_example = {"id": "host:1234", "nodeStatus": "Node Healthy", "problems": [], "uptime": 1234}

    def run(self, data):
        api = data.api
        problems = []
        memory = consumed_memory_mb()
        if memory > MAX_MEMORY_MB:
            problems.append(f"Using more than {MAX_MEMORY_MB} MB of RAM/HEAP")
        # NOTE: everything read from Redis, in one round trip (docs/deployment.md, The hot paths share one connection).
        probes = [api.redis.ping_probe(), api.stats.cluster_probe(), api.cache.count_probe()]
        if api.tasks is not None:
            probes.append(api.tasks.lengths_probe())
        try:
            answered, cluster_counts, cache_size, *lengths = api.redis.gather(probes)
        except Exception as error:  # NOTE: a status answers even when the store does not
            log.warning("status: reading the store failed: %r", error)
            answered, cluster_counts, cache_size, lengths = False, api.stats.cluster_from([]), None, [(None, None)]
        if not answered:
            problems.append(f"{api.redis.describe()} is not answering")
        stats = {
            "requests": {"local": api.stats.local(), "global": cluster_counts},
            "connections": api.connections.count_by_type(),
            "servers": {name: server.stats() for name, server in api.servers.items()},
            "cacheSize": cache_size,
            "cache": {"numberOfObjects": cache_size},
        }
        if api.tasks is not None:
            queued, delayed = lengths[0]
            stats["taskQueueLength"] = queued
            stats["queue"] = {"queueLength": queued, "delayedTasks": delayed}
            if queued is not None and queued > MAX_TASK_QUEUE_LENGTH:
                problems.append(f"More than {MAX_TASK_QUEUE_LENGTH} tasks are queued")
        if api.cluster is not None:
            stats["peers"] = api.cluster.peers()
        stats.update(seed_001_stats(api, stats["requests"], stats["connections"], memory))
        general = api.config.general
        return {
            "id": api.id,
            "heroVersion": hero.__version__,
            "name": general.server_name,
            "description": general.description,
            "version": general.api_version,
            "uptime": int(time.time() * 1000) - api.started_at,
            "consumedMemoryMB": memory,
            "nodeStatus": "Node Unhealthy" if problems else "Node Healthy",
            "problems": problems,
            "stats": stats,
        }
