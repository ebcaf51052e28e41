"""What alert_ingest runs for a CloudEvent: verify, parse (CloudForet's Event.parse), poll.

`run(event_type, data, ctx)` is the `shared.adapter.handle` callback. Pushed
alerts do not come this way (they are plain HTTP: `ingest.py`).

Parse accepts what may reach a CloudForet webhook URL that names this
plugin: the body alert_ingest forwards (`delivery.FORMAT`, returned as
sent) and, for operators who point Prism straight at CloudForet, every
pushed body `shared/alerts/payloads.py` accepts. It answers `[]` for bodies
to ignore and raises InvalidInput for bodies it does not recognise: in
CloudForet a raised parse becomes one "Webhook Event Parsing Error" alert,
which is what a misconfigured sender deserves (spec cloudforet/monitoring.md
B.3; DESIGN fact 5).

`OPTIONS_SCHEMA` is imported by the plugin endpoint, so this module imports
neither the mapping nor the Prism client at load time.
"""

from __future__ import annotations

from typing import Any

from shared import events, options
from shared.alerts import delivery
from shared.errors import InvalidInput

TYPES = frozenset({events.ALERT_VERIFY, events.ALERT_PARSE, events.ALERT_POLL})

# Webhook options (monitoring / alert_manager Webhook.init publishes this schema)
OPTIONS_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "prism_url": {
            "type": "string", "title": "Prism Central URL",
            "pattern": r"^$|^https?://[^\s/]+/?$",
            "description": "https://<host>:9440, for links in alerts Prism posts straight "
                           "to this webhook (alerts forwarded by alert_ingest carry theirs)",
        },
    },
}


def parse_body(body: Any, *, prism_url: str = "") -> list[dict]:
    """Any body CloudForet hands to Event.parse -> its events (`[]`: nothing to record)."""
    if delivery.is_forwarded(body):
        return delivery.events_in(body)
    from shared.mapping.alerts import events_from_payload  # kept out of the plugin's imports

    try:
        return events_from_payload(body, prism_url=prism_url)
    except RecursionError:
        raise InvalidInput("webhook body is nested too deeply") from None


def run(event_type: str, data: dict, ctx: Any) -> dict | None:
    if event_type == events.ALERT_VERIFY:
        options.check(OPTIONS_SCHEMA, data.get("options"), "options")
        return {}
    if event_type == events.ALERT_PARSE:
        opts = options.check(OPTIONS_SCHEMA, data.get("options"), "options")
        return {"results": parse_body(data.get("data"), prism_url=opts.get("prism_url", ""))}
    if event_type == events.ALERT_POLL:
        from shared.alerts import poll  # the Prism client: only the poll needs it

        return poll.run(ctx.settings, ctx.store)
    raise InvalidInput("event type not served by alert_ingest")
