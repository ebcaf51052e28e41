"""Prism alerts -> CloudForet events (`monitoring.plugin.EventInfo` dicts).

Pure: no I/O, no clock. Owns the CloudForet side only; which bodies are
accepted and how they become `Alert`s is `shared/alerts/payloads.py`.

Rules kept (spec cloudforet/monitoring.md B.3-B.4, protocols.md `EventInfo`):

- `event_key` is the dedup key: sha256 of `nutanix:<alert ext_id>`, hex. It
  depends on the alert id only, so the RECOVERY of an alert carries the key
  of its ALERT, and a pushed and a polled copy of one alert share a key.
  Fixed length, no characters from the payload (the server sets no limit).
- `event_type` is `ALERT`, or `RECOVERY` once Prism marks the alert resolved.
  CloudForet resolves only if an ALERT with that key came in the last 10
  minutes, so open alerts must be re-sent (the poller's job).
- `severity`: Prism CRITICAL/WARNING/INFO keep their names; anything else is
  `NOT_AVAILABLE` (urgency HIGH: an unknown severity is not hidden).
  alert_manager has no NOT_AVAILABLE; its adapter must map it (to CRITICAL).
- `resource` `{resource_id, name, resource_type}`: the source entity, else the
  cluster. The server keeps only `resource.name` (into the alert's
  `resources`), so the name falls back to the ext_id.
- `occurred_at`: RFC 3339 with `Z`; creation time for ALERT, resolution (else
  last update) time for RECOVERY; left out when unknown, because an invalid
  value aborts the rest of the request on the server.
- `additional_info`: string values only (the console and event rules treat
  them as text). `prism_link` is `<prism_url>/console/#page/alert_explorer`,
  the alerts list: no source shows a per-alert deep link (that page name is
  seen in one public Selenium script, code index file 40305105406); the
  alert is found there by `ext_id`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from shared.alerts import payloads
from shared.prism.models import Alert, EntityRef

PROVIDER = "nutanix"
SEVERITIES = ("CRITICAL", "WARNING", "INFO")
ALERTS_PAGE = "/console/#page/alert_explorer"

# Prism entity types that the collector turns into cloud services.
_INVENTORY_TYPES = frozenset({
    "vm", "node", "host", "cluster", "volume_group", "image", "subnet", "project",
})


def event_key(alert: Alert) -> str:
    return hashlib.sha256(f"nutanix:{alert.ext_id}".encode()).hexdigest()


def to_events(alert: Alert, *, prism_url: str) -> list[dict]:
    """One alert -> its CloudForet event(s); a list so one alert may fan out later."""
    recovery = alert.is_resolved
    occurred = (alert.resolved_at or alert.last_updated_at or alert.created_at
                if recovery else alert.created_at or alert.last_updated_at)
    title = alert.title or alert.alert_type or "Nutanix alert"
    description = alert.message or title
    if recovery:
        description += f"\nResolved at {_iso(occurred)}." if occurred else "\nResolved."
    event: dict[str, Any] = {
        "event_key": event_key(alert),
        "event_type": "RECOVERY" if recovery else "ALERT",
        "title": title,
        "description": description,
        "severity": alert.severity if alert.severity in SEVERITIES else "NOT_AVAILABLE",
        "rule": alert.alert_type or "",
        "provider": PROVIDER,
        "additional_info": _additional_info(alert, prism_url),
    }
    resource = _resource(alert)
    if resource:
        event["resource"] = resource
    if occurred:
        event["occurred_at"] = _iso(occurred)
    return [event]


def events_from_payload(body: dict | list, *, prism_url: str = "") -> list[dict]:
    """Any accepted webhook body -> events; `[]` to ignore; `InvalidInput` otherwise."""
    return [event for alert in payloads.parse(body)
            for event in to_events(alert, prism_url=prism_url)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _resource(alert: Alert) -> dict | None:
    entity = alert.source_entity
    if entity is None or not (entity.ext_id or entity.name):
        if not alert.cluster_ext_id:
            return None
        cluster = next((e for e in alert.affected_entities
                        if e.type == "cluster" and e.ext_id == alert.cluster_ext_id), None)
        entity = cluster or EntityRef(type="cluster", ext_id=alert.cluster_ext_id)
    resource = {"resource_id": entity.ext_id or "", "name": entity.name or entity.ext_id or ""}
    if entity.type.lower() in _INVENTORY_TYPES:
        resource["resource_type"] = "inventory.CloudService"
    return resource


def _describe(entity: EntityRef) -> str:
    ident = " ".join(p for p in (entity.type, entity.ext_id) if p)
    return f"{entity.name} ({ident})" if entity.name else ident


def _additional_info(alert: Alert, prism_url: str) -> dict[str, str]:
    info = {
        "ext_id": alert.ext_id,
        "alert_type": alert.alert_type or "",
        "cluster_ext_id": alert.cluster_ext_id or "",
        "classifications": ", ".join(alert.classifications),
        "source_entity_type": alert.source_entity.type if alert.source_entity else "",
        "source_entity_ext_id": (alert.source_entity.ext_id or "") if alert.source_entity else "",
        "affected_entities": "; ".join(_describe(e) for e in alert.affected_entities),
        "acknowledged": "true" if alert.is_acknowledged else "false",
        "resolved": "true" if alert.is_resolved else "false",
        "created_at": _iso(alert.created_at) if alert.created_at else "",
        "resolved_at": _iso(alert.resolved_at) if alert.resolved_at else "",
        "prism_link": prism_url.rstrip("/") + ALERTS_PAGE if prism_url.strip() else "",
    }
    return {key: value for key, value in info.items() if value}
