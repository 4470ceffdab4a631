"""countdown: a streaming action: ten Server-Sent Events, one every ``interval`` milliseconds."""
import time

from hero import Action, Input, SSEEvent


class Countdown(Action):
    name = "countdown"
    description = "I count down from 10 to 1, streaming one event per number"
    inputs = {"interval": Input(default=100, formatter=int, description="milliseconds between events",
                                validator=lambda value: 0 <= value <= 10_000 or "interval must be 0 to 10000")}
    output_example = {"left": 3}
    mcp = {"tool": True, "description": "Count down from 10 to 1, one number per progress notification"}

    def run(self, data):
        for left in range(10, 0, -1):
            yield SSEEvent({"left": left}, event="tick", id=str(left))
            time.sleep(data.params["interval"] / 1000)  # patched by gevent: the rest of the server runs on
