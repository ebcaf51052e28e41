"""alert_ingest: Prism pushes (plain HTTP) and CloudEvents (verify, parse, poll) in one target.

The work is shared.alerts: `ingest` routes and serves pushed alerts, `run`
serves the CloudEvents through `shared.adapter`.
"""

import functions_framework

from shared import adapter
from shared.alerts import ingest, run
from shared.config import Settings

SETTINGS = Settings.from_env()  # once per process: bad config fails at cold start
WEBHOOK = ingest.Webhook(SETTINGS)  # opens nothing: gunicorn forks after this import


@functions_framework.http  # not @cloud_event: that signature drops the return value
def main(request):
    if ingest.is_cloud_event(request):
        return adapter.handle(request, run.run, SETTINGS, types=run.TYPES)
    return WEBHOOK.handle(request)
