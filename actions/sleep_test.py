"""sleepTest: wait, cooperatively, then say how long it took."""
import time

from marshmallow import validate

from hero import Action, Input


def milliseconds(value) -> int:  # the return annotation is the input's type in the OpenAPI document
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError("sleepDuration must be a whole number of milliseconds")


class SleepTest(Action):
    name = "sleepTest"
    description = "I will sleep and then return"
    inputs = {"sleepDuration": Input(default=1000, formatter=milliseconds, validator=validate.Range(0, 5000),
                                     description="milliseconds (0 to 5000)")}
    output_example = {"sleepStarted": 0, "sleepEnded": 1000, "sleepDelta": 1000, "sleepDuration": 1000}

    def run(self, data):
        duration = data.params["sleepDuration"]
        started = int(time.time() * 1000)
        time.sleep(duration / 1000)  # patched by gevent: other connections keep running
        ended = int(time.time() * 1000)
        return {"sleepStarted": started, "sleepEnded": ended, "sleepDelta": ended - started,
                "sleepDuration": duration}
