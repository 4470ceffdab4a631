"""Tasks: the declarative class users write, task middleware, the registry, and the job format.

    class SendWelcomeEmail(Task):
        name = "sendWelcomeEmail"
        inputs = {"email": Input(required=True)}

        def run(self, params, worker):
            mailer.send(params["email"], "welcome!")

hero finds tasks in the app's ``tasks/`` folder; ``api.tasks.enqueue("sendWelcomeEmail", {...})``
validates the inputs at once (like an action's) and hands the job to RQ.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from hero.core.middleware import Middleware, MiddlewareChain
from hero.core.params.spec import ParamSpec
from hero.errors import BootError, InvalidParam, MissingParam, TaskError, TaskNotFound

log = logging.getLogger(__name__)


@dataclass(eq=False)
class TaskData:
    """One enqueue or one run of a task: what middleware and ``run(params, worker)`` see."""

    task: Task
    #: The validated params (middleware may replace them before the enqueue or the run).
    params: dict[str, Any]
    queue: str
    #: The process's ``hero.container.Api`` (typed loosely here: tasks sit below the Api that holds them).
    api: Any = None
    #: The RQ job id (None before the enqueue and for in-line runs).
    job_id: str | None = None
    #: When a delayed job is due, in epoch ms (None: as soon as a worker is free).
    run_at: int | None = None
    #: The name of the worker running it (None while enqueueing).
    worker: str | None = None
    #: What ``run`` returned; ``post_process`` middleware may change it.
    result: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"TaskData(task={self.task.name!r}, queue={self.queue!r}, job_id={self.job_id!r})"


class Task:
    """Subclass this and define ``name`` and ``run``; hero finds it in ``tasks/``."""

    #: The name used to enqueue it.
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: The RQ queue its jobs go to.
    queue: ClassVar[str] = "default"
    #: Milliseconds between runs of a periodic task (0: not periodic). The next run is enqueued
    #: ``frequency`` ms after the previous one ends; one instance is queued or delayed at a time.
    frequency: ClassVar[int] = 0
    #: ``{name: Input(...)}`` like an action's, validated at enqueue time (never scrubbed).
    inputs: ClassVar[Any] = {}
    #: Names of non-global task middleware to run for this task, in this order.
    middleware: ClassVar[Sequence[str]] = ()
    #: Retries after a failure (None: ``tasks.retries``; periodic tasks default to 0, as the
    #: next period is their retry).
    retries: ClassVar[int | None] = None
    #: Seconds to wait before each retry (None: ``tasks.retry_intervals``).
    retry_intervals: ClassVar[Sequence[int] | None] = None
    #: Seconds a run may take before it is killed (None: ``tasks.timeout``).
    timeout: ClassVar[float | None] = None
    #: A periodic task whose run raised is still enqueued for its next period (False: it stops, as
    #: ``stop_recurrent_task`` does, until a process boots again).
    re_enqueue_periodic_task_if_exception: ClassVar[bool] = True

    #: The compiled inputs; set by the registry at boot.
    params: ParamSpec

    def run(self, params: Mapping[str, Any], worker: TaskData) -> Any:
        """Do the work; the return value is kept as the job's result (JSON)."""
        raise NotImplementedError(f"task {self.name} has no run()")

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.queue} frequency={self.frequency}>"

    @property
    def periodic(self) -> bool:
        return self.frequency > 0

    @classmethod
    def validate(cls) -> None:
        """Fail the boot, naming the class, when the declaration cannot work."""
        where = f"task {cls.name or cls.__name__}"
        if not cls.name or not isinstance(cls.name, str):
            raise BootError(f"{cls.__name__}: name is required for this task")
        if cls.run is Task.run:
            raise BootError(f"{where}: run() is not defined")
        if not isinstance(cls.queue, str) or not cls.queue:
            raise BootError(f"{where}: queue must be a non-empty string")
        if isinstance(cls.frequency, bool) or not isinstance(cls.frequency, int) or cls.frequency < 0:
            raise BootError(f"{where}: frequency must be a whole number of milliseconds >= 0")
        if isinstance(cls.middleware, str):
            raise BootError(f"{where}: middleware must be a list of names")
        if cls.retries is not None and (isinstance(cls.retries, bool) or not isinstance(cls.retries, int)
                                        or cls.retries < 0):
            raise BootError(f"{where}: retries must be a whole number >= 0")
        if cls.retry_intervals is not None and (
                isinstance(cls.retry_intervals, (str, int))
                or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in cls.retry_intervals)):
            raise BootError(f"{where}: retry_intervals must be a list of whole seconds >= 0")
        if cls.timeout is not None and (isinstance(cls.timeout, bool) or not isinstance(cls.timeout, (int, float))
                                        or cls.timeout <= 0):
            raise BootError(f"{where}: timeout must be a number of seconds > 0")

    def load_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Apply defaults, formatters and validators; raise :class:`TaskError` with actionhero's texts."""
        # NOTE: a dict (nearly always) skips isinstance against the Mapping ABC, the dearer check.
        if params is not None and type(params) is not dict and not isinstance(params, Mapping):
            raise TaskError(f"params for task {self.name} must be a dict, not {type(params).__name__}")
        try:
            return self.params.load(dict(params or {}))
        except MissingParam as error:
            raise TaskError(f"{error.param} is a required input for task {self.name}") from None
        except InvalidParam as error:
            if error.returned_false:
                raise TaskError(f"{_text(error.value)} is not a valid value for {error.param} "
                                f"in task {self.name}") from None
            raise TaskError(error.message) from None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "queue": self.queue,
                "frequency": self.frequency, "inputs": self.params.describe(), "middleware": list(self.middleware)}


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TaskMiddleware(Middleware):
    """Runs around enqueues and runs: every task when global, else only tasks that list its name.

    ``pre_enqueue`` returning False stops the enqueue (``enqueue`` returns False); a raise
    propagates to the caller. ``pre_process`` returning False skips the run (the result is None).
    """

    hooks = ("pre_enqueue", "post_enqueue", "pre_process", "post_process")
    #: Run for every task (else only for tasks naming it in ``middleware``).
    is_global: bool = False

    def __init__(self, name: str | None = None, *, is_global: bool | None = None, priority: int | None = None,
                 **hooks: Any) -> None:
        if is_global is not None:
            self.is_global = is_global
        super().__init__(name, priority=priority, **hooks)

    def pre_enqueue(self, data: TaskData) -> bool | None:
        """Before the job is stored; may change ``data.params``."""
        return None

    def post_enqueue(self, data: TaskData) -> None:
        """After the job is stored (``data.job_id`` is set)."""

    def pre_process(self, data: TaskData) -> bool | None:
        """In the worker, before ``run``; may change ``data.params``."""
        return None

    def post_process(self, data: TaskData) -> None:
        """In the worker, after ``run``; may change ``data.result``."""


class TaskRegistry:
    """Every task of this process by name, with the task middleware."""

    def __init__(self, *, missing_param_checks: Sequence[Any] = (None, "")) -> None:
        self.missing_param_checks = tuple(missing_param_checks)
        self.tasks: dict[str, Task] = {}
        self.sources: dict[str, str] = {}
        self.middleware: MiddlewareChain[TaskMiddleware] = MiddlewareChain("task")

    def __repr__(self) -> str:
        return f"TaskRegistry({sorted(self.tasks)!r})"

    def add(self, task_class: type[Task], source: str = "<code>") -> Task:
        """Validate, compile and register one task class."""
        try:
            task_class.validate()
            instance = task_class()
            instance.params = ParamSpec.compile(task_class.inputs, owner=f"task `{task_class.name}`",
                                                missing_param_checks=self.missing_param_checks, scrub=False)
            if instance.periodic:
                # NOTE: periodic runs are enqueued without params, so the inputs must allow that.
                instance.load_params({})
        except TaskError as error:
            raise BootError(f"{source}: periodic task {task_class.name} cannot be enqueued without params: "
                            f"{error.message}") from error
        except BootError as error:
            raise BootError(f"{source}: {error.message}") from error
        if instance.name in self.tasks:
            raise BootError(f"{source}: task {instance.name} is already defined in {self.sources[instance.name]}")
        self.tasks[instance.name] = instance
        self.sources[instance.name] = source
        return instance

    def find(self, name: Any) -> Task:
        if not isinstance(name, str) or name not in self.tasks:
            raise TaskNotFound(str(name))
        return self.tasks[name]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks[name] for name in sorted(self.tasks))

    def __contains__(self, name: object) -> bool:
        return name in self.tasks

    def __len__(self) -> int:
        return len(self.tasks)

    def add_middleware(self, middleware: TaskMiddleware) -> TaskMiddleware:
        return self.middleware.add(middleware)

    def middleware_for(self, task: Task) -> list[TaskMiddleware]:
        """Global middleware by priority, then the task's own list, in its order."""
        return [m for m in self.middleware if m.is_global] + [self.middleware.get(n) for n in task.middleware]

    def check_middleware(self) -> None:
        for task in self:
            for name in task.middleware:
                if name not in self.middleware:
                    raise BootError(f"task {task.name} lists middleware {name!r}, which is not registered")


class JSONSerializer:
    """How hero stores RQ jobs and results: JSON (orjson), never pickle.

    Pickle from Redis would run code for whoever can write to Redis; JSON keeps jobs readable by
    ``rq info`` and by other languages. A result JSON cannot hold is stored as its ``str()``.
    For RQ's own CLI: ``--serializer hero.tasks.task.JSONSerializer``.
    """

    @staticmethod
    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, default=_result_default, option=orjson.OPT_NON_STR_KEYS)

    @staticmethod
    def loads(raw: bytes) -> Any:
        return orjson.loads(raw)


def _result_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
