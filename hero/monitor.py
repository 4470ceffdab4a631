"""Watch the gevent hub: log when code blocks it (an unpatched ``time.sleep``, a CPU loop).

gevent's monitor thread notices a greenlet that holds the hub longer than ``max_blocking_time``
and publishes ``EventLoopBlocked``; hero logs it once per occurrence with the stack, so a
blocking action shows up in the logs instead of as mysterious latency everywhere.
"""
from __future__ import annotations

import logging
from typing import Any

import gevent
import gevent.events

log = logging.getLogger(__name__)

_subscribed = False


def _on_event(event: Any) -> None:
    if isinstance(event, gevent.events.EventLoopBlocked):
        log.warning("the event loop was blocked for more than %.3fs by %r:\n%s", event.blocking_time,
                    event.greenlet, "\n".join(event.info[-12:]))


def watch_hub(max_blocking_time: float) -> bool:
    """Start gevent's monitor thread for the current hub; False when turned off (0) or unavailable."""
    global _subscribed
    if not max_blocking_time:
        return False
    gevent.config.monitor_thread = True
    gevent.config.max_blocking_time = max_blocking_time
    # NOTE: hero logs the report itself (through logging, where operators look); gevent would
    # print the whole greenlet tree to stderr as well.
    gevent.config.print_blocking_reports = False
    if not _subscribed:
        gevent.events.subscribers.append(_on_event)
        _subscribed = True
    return gevent.get_hub().start_periodic_monitoring_thread() is not None
