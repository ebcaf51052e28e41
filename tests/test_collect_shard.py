"""A collect shard in-process: the garbage collector stays out of it, and comes back."""

from __future__ import annotations

import gc

from shared import collect
from tests.conftest import PRISM_PASSWORD, PRISM_USERNAME


def test_a_shard_maps_with_the_collector_paused_and_restores_it(prism_sim_https, monkeypatch):
    data = {"options": {}, "secret_data": {
        "host": prism_sim_https.host, "port": prism_sim_https.port, "username": PRISM_USERNAME,
        "password": PRISM_PASSWORD, "ca_pem": prism_sim_https.ca_pem}}
    planned = collect.plan({**data, "task_options": {"kinds": ["vms"]}})
    seen = []
    to_cloud_service = collect.mapping.to_cloud_service

    def spy(model, ctx):
        seen.append(gc.isenabled())
        return to_cloud_service(model, ctx)

    monkeypatch.setattr(collect.mapping, "to_cloud_service", spy)
    assert gc.isenabled()
    resources = [r for shard in planned["shards"]
                 for r in collect.collect({**data, "task": shard,
                                           "context": planned["context"]})["resources"]]
    assert len(resources) == 45 and all(r["state"] == "SUCCESS" for r in resources)
    assert seen and not any(seen)
    assert gc.isenabled()
