"""api.tasks: enqueue/at/in and the inspection API, input validation, middleware, the spec helper.

Scheduler and workers are off here, so jobs stay where they were put; worker flows are in
test_tasks_workers.py. Each test runs on the real Redis and on the embedded store.
"""
import time

import pytest

from hero.core.params.spec import Input
from hero.errors import TaskError, TaskNotFound, error_status
from hero.spec_helper import SpecHelper
from hero.tasks.task import Task, TaskMiddleware

pytestmark = pytest.mark.timeout(30)


def validate_d(value):
    return value > 0


def no_nope(value):
    if value == "nope":
        raise ValueError("nope")


class TaskWithInputs(Task):
    name = "taskWithInputs"
    inputs = {
        "a": Input(required=True),
        "b": Input(default=2),
        "c": Input(default=lambda: 3),
        "d": Input(default=1, validator=validate_d),
        "e": Input(validator=no_nope),
    }

    def run(self, params, worker):
        return dict(params)


class PeriodicTask(Task):
    name = "periodicTask"
    frequency = 60_000

    def run(self, params, worker):
        return "ran"


class MiddlewareTask(Task):
    name = "middlewareTask"
    middleware = ("double",)
    inputs = {"value": Input(default=1)}

    def run(self, params, worker):
        return params["value"] * 10


@pytest.fixture(params=["redis", "embedded"])
def api(request, boot_hero):
    booted = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                        "tasks": {"workers": 0, "scheduler": False}}, redis=request.param == "redis")
    for task_class in (TaskWithInputs, PeriodicTask, MiddlewareTask):
        booted.tasks.registry.add(task_class)
    return booted


@pytest.fixture
def helper(api):
    return SpecHelper(api.process)


def now_ms():
    return int(time.time() * 1000)


def test_enqueue_is_found_with_no_timestamp(api, helper):
    assert api.tasks.enqueue("sayHello", {"name": "ann"}) is True
    found = helper.find_enqueued_tasks("sayHello")
    assert [(job["task"], job["queue"], job["params"], job["timestamp"]) for job in found] == [
        ("sayHello", "default", {"name": "ann", "greeting": "hello"}, None)]
    assert api.tasks.total_queue_length() == 1
    assert [job["params"]["name"] for job in api.tasks.queued("default")] == ["ann"]


def test_enqueue_in_and_at_record_their_timestamps(api, helper):
    before = now_ms()
    assert api.tasks.enqueue_in(5_000, "sayHello", {"name": "later"})
    at = now_ms() + 60_000
    assert api.tasks.enqueue_at(at, "sayHello", {"name": "much later"})
    found = sorted(helper.find_enqueued_tasks("sayHello"), key=lambda job: job["timestamp"])
    assert before + 5_000 <= found[0]["timestamp"] <= now_ms() + 5_000
    assert found[1]["timestamp"] == at
    timestamps = api.tasks.timestamps()
    assert timestamps == sorted(timestamps) and at in timestamps and len(timestamps) == 2
    assert [job["params"]["name"] for job in api.tasks.delayed_at(at)] == ["much later"]
    assert list(api.tasks.all_delayed()) == timestamps
    assert api.tasks.scheduled_at("default", "sayHello", {"name": "much later", "greeting": "hello"}) == [at]
    assert api.tasks.total_queue_length() == 0  # delayed jobs are not queued yet


def test_totals_count_every_queue_including_ones_only_redis_knows(api):
    api.tasks.enqueue("sayHello", {"name": "now"})
    api.tasks.enqueue_in(60_000, "sayHello", {"name": "later"})
    # NOTE: a queue another process enqueued to: this process knows it only from RQ's set of queues.
    api.tasks.enqueue("sayHello", {"name": "elsewhere"}, queue="elsewhere")
    api.tasks.enqueue_in(60_000, "sayHello", {"name": "elsewhere later"}, queue="elsewhere")
    api.tasks._seen_queues.clear()
    api.tasks._named_queues = None
    assert "elsewhere" in api.tasks.queue_names()
    assert (api.tasks.total_queue_length(), api.tasks.total_delayed()) == (2, 2)
    assert api.tasks.store.gather([api.tasks.lengths_probe()]) == [(2, 2)]


def test_queue_names_in_strips_rqs_prefix_from_bytes_and_str():
    from hero.tasks.inspection import queue_names_in

    assert queue_names_in([b"rq:queue:default", "rq:queue:mail", "unrelated"]) == {"default", "mail"}


def test_delete_and_delete_delayed(api):
    api.tasks.enqueue("sayHello", {"name": "x"})
    api.tasks.enqueue("sayHello", {"name": "y"})
    at = now_ms() + 60_000
    api.tasks.enqueue_at(at, "sayHello", {"name": "z"})
    assert api.tasks.delete("default", "sayHello", {"name": "x", "greeting": "hello"}) == 1
    assert [job["params"]["name"] for job in api.tasks.queued("default")] == ["y"]
    assert api.tasks.delete_delayed("default", "sayHello") == [at]
    assert api.tasks.delete_delayed("default", "sayHello") == []
    assert api.tasks.delete_queue("default") == 1
    assert api.tasks.find_enqueued("sayHello") == []


def test_delete_enqueued_tasks(api, helper):
    api.tasks.enqueue("sayHello", {"name": "x"})
    api.tasks.enqueue_in(10_000, "sayHello", {"name": "x"})
    assert helper.delete_enqueued_tasks("sayHello") == 2
    assert helper.find_enqueued_tasks("sayHello") == []


def test_unknown_task_is_refused(api):
    with pytest.raises(TaskNotFound) as caught:
        api.tasks.enqueue("someCrazyTask", {})
    assert caught.value.message == "task someCrazyTask not found"
    assert error_status(caught.value) == 404


@pytest.mark.parametrize("params, message", [
    ({}, "a is a required input for task taskWithInputs"),
    ({"a": 1, "d": -1}, "-1 is not a valid value for d in task taskWithInputs"),
    ({"a": 1, "e": "nope"}, "nope"),
])
def test_input_validation_texts(api, params, message):
    with pytest.raises(TaskError) as caught:
        api.tasks.enqueue("taskWithInputs", params)
    assert caught.value.message == message
    assert api.tasks.find_enqueued("taskWithInputs") == []


def test_inputs_get_literal_and_function_defaults(api, helper):
    assert api.tasks.enqueue("taskWithInputs", {"a": 1, "extra": "kept"})
    (job,) = helper.find_enqueued_tasks("taskWithInputs")
    assert job["params"] == {"a": 1, "b": 2, "c": 3, "d": 1, "extra": "kept"}


def test_params_must_be_json(api):
    with pytest.raises(TaskError, match="must be JSON"):
        api.tasks.enqueue("taskWithInputs", {"a": object()})


def test_a_task_without_a_name_fails_validation():
    class Nameless(Task):
        def run(self, params, worker):
            return None

    from hero.errors import BootError

    with pytest.raises(BootError, match="name is required for this task"):
        Nameless.validate()


def test_spec_helper_runs_tasks(api, helper):
    assert helper.run_task("sayHello", {"name": "theWord", "greeting": "hi"}) == "hi theWord"
    assert helper.run_full_task("sayHello", {"name": "theWord"}) == "hello theWord"
    with pytest.raises(TaskError, match="name is a required input for task sayHello"):
        helper.run_full_task("sayHello", {})


def test_run_action_task_runs_an_action_in_line(api, helper):
    result = helper.run_full_task("runAction", {"action": "randomNumber"})
    assert 0 <= result["randomNumber"] <= 1
    with pytest.raises(TaskError, match="action is a required input for task runAction"):
        api.tasks.enqueue("runAction", {})
    with pytest.raises(Exception, match="unknown action"):
        helper.run_full_task("runAction", {"action": "noSuchAction"})


def test_a_periodic_task_is_enqueued_once(api):
    assert api.tasks.enqueue("periodicTask") is True
    assert api.tasks.enqueue("periodicTask") is False
    assert api.tasks.enqueue_all_recurrent_tasks() == []
    assert len(api.tasks.find_enqueued("periodicTask")) == 1


def test_stop_recurrent_task_removes_its_instances(api):
    assert api.tasks.enqueue_all_recurrent_tasks() == ["periodicTask"]
    assert api.tasks.stop_recurrent_task("periodicTask") == 1
    assert api.tasks.find_enqueued("periodicTask") == []
    assert api.tasks.heal_periodic() == []  # stopped: the scheduler leaves it alone
    assert api.tasks.enqueue_all_recurrent_tasks() == ["periodicTask"]


def test_heal_re_enqueues_a_periodic_task_whose_job_vanished(api):
    api.tasks.enqueue("periodicTask")
    (job,) = api.tasks.find_enqueued("periodicTask")
    api.tasks.delete("default", "periodicTask")
    assert api.tasks.heal_periodic() == ["periodicTask"]
    (healed,) = api.tasks.find_enqueued("periodicTask")
    assert healed["id"] != job["id"]


def test_pre_enqueue_false_prevents_the_enqueue(api):
    seen = []
    api.tasks.registry.add_middleware(TaskMiddleware(
        "gate", is_global=True, pre_enqueue=lambda data: data.params.get("name") != "blocked",
        post_enqueue=lambda data: seen.append((data.task.name, data.job_id))))
    assert api.tasks.enqueue("sayHello", {"name": "blocked"}) is False
    assert api.tasks.enqueue("sayHello", {"name": "fine"}) is True
    assert [job["params"]["name"] for job in api.tasks.find_enqueued("sayHello")] == ["fine"]
    assert seen == [("sayHello", api.tasks.find_enqueued("sayHello")[0]["id"])]


def test_pre_enqueue_raising_propagates(api):
    def refuse(data):
        raise TaskError("not today")

    api.tasks.registry.add_middleware(TaskMiddleware("refuse", is_global=True, pre_enqueue=refuse))
    with pytest.raises(TaskError, match="not today"):
        api.tasks.enqueue("sayHello", {"name": "x"})
    assert api.tasks.find_enqueued("sayHello") == []


def test_process_middleware_changes_params_and_result(api, helper):
    def pre(data):
        data.params["value"] = data.params["value"] * 2

    def post(data):
        data.result = data.result + 1

    api.tasks.registry.add_middleware(TaskMiddleware("double", pre_process=pre, post_process=post))
    assert helper.run_full_task("middlewareTask", {"value": 2}) == 41
    assert helper.run_task("middlewareTask", {"value": 2}) == 20  # run_task skips middleware


def test_pre_process_false_skips_the_run(api, helper):
    api.tasks.registry.add_middleware(TaskMiddleware("double", pre_process=lambda data: False))
    assert helper.run_full_task("middlewareTask", {"value": 2}) is None
    assert api.tasks.stats()["skipped"] == 1


def test_enqueue_with_redis_down_surfaces_the_error(boot_hero):
    import redis

    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                     "tasks": {"workers": 0, "scheduler": False}}, redis=True)
    from hero.services.redis_mux import RedisMux

    # NOTE: enqueueing is one round trip on the store's multiplexed connection: point that at nothing
    api.redis.commands = RedisMux("redis://127.0.0.1:1/0", connect_timeout=0.2, retries=0)
    with pytest.raises(redis.exceptions.ConnectionError) as caught:
        api.tasks.enqueue("sayHello", {"name": "x"})
    assert error_status(caught.value) == 503


def test_details_lists_queues_and_stats(api):
    api.tasks.enqueue("sayHello", {"name": "x"})
    details = api.tasks.details()
    assert details["queues"]["default"] == {"length": 1, "delayed": 0, "started": 0, "failed": 0}
    assert details["workers"] == {} and details["leader"] is None


def test_a_periodic_task_with_required_inputs_fails_the_boot():
    from hero.errors import BootError
    from hero.tasks.task import TaskRegistry

    class NeedsInput(Task):
        name = "needsInput"
        frequency = 1000
        inputs = {"x": Input(required=True)}

        def run(self, params, worker):
            return None

    with pytest.raises(BootError, match="periodic task needsInput cannot be enqueued without params: "
                                        "x is a required input for task needsInput"):
        TaskRegistry().add(NeedsInput)
