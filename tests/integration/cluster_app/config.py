"""A tiny app for tests/integration/test_two_processes.py: the cluster probe, nothing else."""

general = {
    "server_name": "cluster-probe",
    "description": "drives cluster RPC from a client, for the two-process test",
}

test = {
    "general": {"rpc_timeout": 1.0},
    "logger": {"level": "info"},
}
