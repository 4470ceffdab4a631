"""Background and periodic tasks on RQ.

``hero.tasks.perform`` is the one function every queued job names: it is stored inside each RQ job,
so this published path must keep working (jobs enqueued by an older hero still run).
"""
from hero.tasks.queue import PERFORM, Tasks, perform
from hero.tasks.task import JSONSerializer, Task, TaskData, TaskMiddleware

__all__ = ["PERFORM", "JSONSerializer", "Task", "TaskData", "TaskMiddleware", "Tasks", "perform"]
