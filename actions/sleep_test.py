"""sleepTest: wait, cooperatively, then say how long it took."""
import time

from hero import Action, Input


class SleepTest(Action):
    name = "sleepTest"
    description = "I will sleep and then return"
    inputs = {"sleepDuration": Input(default=1000, formatter=int, description="milliseconds")}
    output_example = {"sleepStarted": 0, "sleepEnded": 1000, "sleepDelta": 1000, "sleepDuration": 1000}

    def run(self, data):
        duration = data.params["sleepDuration"]
        started = int(time.time() * 1000)
        time.sleep(duration / 1000)  # patched by gevent: other connections keep running
        ended = int(time.time() * 1000)
        return {"sleepStarted": started, "sleepEnded": ended, "sleepDelta": ended - started,
                "sleepDuration": duration}
