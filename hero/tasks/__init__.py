"""Background and periodic tasks on RQ.

``hero.tasks.perform`` is the one function every queued job names: it is stored inside each RQ job,
so this published path must keep working (jobs enqueued by an older hero still run). The service
(``Tasks``, ``perform``) loads on first use: ``hero.tasks.task`` (the class apps subclass) must not
bring RQ, Redis and gevent in with it before an entry point has monkey-patched.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hero.tasks.queue import PERFORM, Tasks, perform

__all__ = ["PERFORM", "Tasks", "perform"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        # NOTE: imported here for the reason above; RQ finds ``perform`` through getattr.
        from hero.tasks import queue

        return getattr(queue, name)
    raise AttributeError(f"module 'hero.tasks' has no attribute {name!r}")
