"""noop: does nothing (for benchmarks: `scripts/bench tasks`)."""
from hero import Task


class Noop(Task):
    name = "noop"
    description = "I do nothing, quickly"

    def run(self, params, worker):
        return None
