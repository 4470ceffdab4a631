"""clusterProbe: call a cluster method from a client (modes: all, targeted, whoami, missing)."""
from hero import Action, Input


class ClusterProbe(Action):
    name = "clusterProbe"
    description = "runs api.cluster.do for tests"
    inputs = {
        "mode": Input(required=True),
        "token": Input(default="probe"),
        "connectionId": Input(default=None),
    }

    def run(self, data):
        cluster, params = data.api.cluster, data.params
        mode = params["mode"]
        if mode == "all":
            cluster.do("probe.record", [params["token"]])
            return {"sent": True}
        if mode == "targeted":
            cluster.do("probe.record", [params["token"]], connection_id=params["connectionId"])
            return {"sent": True}
        if mode == "whoami":
            return {"holder": cluster.do("probe.whoami", [], connection_id=params["connectionId"], wait=True)}
        if mode == "missing":
            return {"holder": cluster.do("probe.whoami", [], connection_id="no-such-connection", wait=True)}
        raise ValueError(f"unknown mode {mode}")
