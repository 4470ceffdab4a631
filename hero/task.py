"""A published path kept as a re-export: ``rq info --serializer hero.task.JSONSerializer``.

The code lives in :mod:`hero.tasks.task`; apps import ``Task`` and ``TaskMiddleware`` from ``hero``.
"""
from hero.tasks.task import JSONSerializer, Task, TaskMiddleware

__all__ = ["JSONSerializer", "Task", "TaskMiddleware"]
