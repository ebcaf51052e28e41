"""Collect: CloudEvent in, reply CloudEvent out; the work is in shared.collect,
shared.metrics and shared.accounts (everything that reads Prism for CloudForet)."""

import functions_framework

from shared import accounts, adapter, collect, events, metrics
from shared.config import Settings

SETTINGS = Settings.from_env()  # once per process: bad config fails at cold start
HANDLERS = {**collect.HANDLERS, **metrics.HANDLERS, **accounts.HANDLERS}
TYPES = events.types_for("collect")


def run(event_type: str, data: dict, ctx: adapter.Context) -> dict | None:
    return HANDLERS[event_type](data, ctx)


@functions_framework.http  # not @cloud_event: that signature drops the return value
def main(request):
    return adapter.handle(request, run, SETTINGS, types=TYPES)
