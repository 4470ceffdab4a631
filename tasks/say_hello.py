"""Example tasks: what a task looks like, with inputs validated at enqueue time."""
import logging
import time

from hero import Input, Task

log = logging.getLogger(__name__)


def not_blank(value: str) -> None:
    if not str(value).strip():
        raise ValueError("name must not be blank")


class SayHello(Task):
    name = "sayHello"
    description = "I log a greeting and return it"
    inputs = {
        "name": Input(required=True, formatter=str, validator=not_blank),
        "greeting": Input(default="hello"),
    }

    def run(self, params, worker):
        message = f"{params['greeting']} {params['name']}"
        log.info("%s (job %s)", message, worker.job_id)
        return message


class SleepTask(Task):
    name = "sleepTask"
    description = "I sleep, then say how long I slept (for trying workers and shutdowns)"
    inputs = {"sleepDuration": Input(default=1000, formatter=int, description="milliseconds")}

    def run(self, params, worker):
        started = time.time()
        time.sleep(params["sleepDuration"] / 1000)
        return {"sleepDuration": params["sleepDuration"], "slept": round((time.time() - started) * 1000)}
