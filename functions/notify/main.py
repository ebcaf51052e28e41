"""Notify: CloudEvent in, reply CloudEvent out; the work is shared.notify.run."""

import functions_framework

from shared import adapter
from shared.config import Settings
from shared.notify import run

SETTINGS = Settings.from_env()  # once per process: bad config fails at cold start


@functions_framework.http  # not @cloud_event: that signature drops the return value
def main(request):
    return adapter.handle(request, run.run, SETTINGS, types=run.TYPES)
