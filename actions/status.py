"""status: is this node healthy, and what is it doing (PROTOCOL §6)."""
import os
import resource
import time

import hero
from hero import Action

#: Above these the node reports itself unhealthy.
MAX_MEMORY_MB = 500
MAX_TASK_QUEUE_LENGTH = 1000


def consumed_memory_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024, 2)
    except (OSError, ValueError, IndexError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2)


def seed_001_stats(api, requests: dict, connections: dict) -> dict:
    """The numbers seed 001's status answer shows beside hero's own (docs/actions.md, status)."""
    local, cluster = requests["local"], requests["global"]
    return {
        "id": api.id,
        "uptimeSeconds": round((int(time.time() * 1000) - api.started_at) / 1000, 3),
        "memoryConsumption": int(consumed_memory_mb() * 1024 * 1024),
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
        if not api.redis.ping():
            problems.append(f"{api.redis.describe()} is not answering")
        stats = {
            "requests": api.stats.snapshot(),
            "connections": api.connections.count_by_type(),
            "servers": {name: server.stats() for name, server in api.servers.items()},
        }
        try:
            stats["cacheSize"] = api.cache.count()  # NOTE: from the cache's index, never a scan
        except Exception:
            stats["cacheSize"] = None
        stats["cache"] = {"numberOfObjects": stats["cacheSize"]}
        if api.tasks is not None:
            queued = api.tasks.total_queue_length()
            stats["taskQueueLength"] = queued
            stats["queue"] = {"queueLength": queued, "delayedTasks": api.tasks.total_delayed()}
            if queued > MAX_TASK_QUEUE_LENGTH:
                problems.append(f"More than {MAX_TASK_QUEUE_LENGTH} tasks are queued")
        if api.cluster is not None:
            stats["peers"] = api.cluster.peers()
        stats.update(seed_001_stats(api, stats["requests"], stats["connections"]))
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
