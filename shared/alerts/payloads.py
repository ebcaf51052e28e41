"""Recognise a pushed alert body and parse it into `Alert` models.

Owns which bodies alert_ingest accepts and how each becomes the normalized
`Alert` (DESIGN fact 4). Not owned here: HTTP concerns (auth, size limits:
`functions/alert_ingest`) and CloudForet shapes (`shared/mapping/alerts.py`).

Accepted bodies, tried in this order:

1. A Prism Element v3 entity webhook (`event_type` + `entity_reference`,
   `data.metadata` = the entity's v3 intent; spec nutanix/alerts-webhooks.md
   section 3, fixture `webhook-vm-event.json`). The eight VM event names become
   one `Alert` each; other event names are ignored (`[]`).
2. The Playbook body this project ships (`playbook_template.json`, marked by
   `"format": PLAYBOOK_FORMAT`), facts below.
3. v4 objects: one `monitoring.v4.serviceability.Alert` or `Event`, a list of
   them, or a v4 envelope `{"data": [...]}` / `{"data": {...}}` (a list
   response with no results omits `data`: `[]`). Audits are ignored.

A JSON array may hold any mix of these. Anything else raises `InvalidInput`
saying what was expected, never echoing the body; `[]` means "nothing to
report" (CloudForet turns a parse failure into a new CRITICAL alert per
request: spec cloudforet/monitoring.md B.3).

Entity webhooks and v4 events are not alerts, but they fit the model: a
stable id, a title, a message, a severity, a source entity. Their `ext_id` is
synthetic where Prism gives none: `<kind>:<uuid>:<event_type>:<stamp>`, the
stamp being the intent's `metadata.last_update_time` (else `spec_version`), so
a redelivered event keeps its id and a later one gets a new id.
Severity of entity events: INFO, except VM.DELETE as WARNING (it cannot be
undone and is the one an operator most often wants to hear about).

Playbook body: facts and sources
--------------------------------
Prism Central has no v3 `/webhooks` path; alerts leave it through a Playbook
(X-Play) whose "REST API" action POSTs a body the operator writes (spec
nutanix/alerts-webhooks.md section 4). What public sources show:

- The REST API action has Method, URL, Request Body and Request Header
  fields; a body is free text with `{{...}}` parameters, e.g.
  `{"vm_name":"{{trigger[0].source_entity_info.name}}","vm_id":
  "{{trigger[0].source_entity_info.uuid}}","alert_name":
  "{{trigger[0].alert_entity_info.name}}","alert_id":
  "{{trigger[0].alert_entity_info.uuid}}"}` with header
  `Content-Type:application/json;charset=utf-8`, on an Alert trigger
  (nutanixworkshops/EnterprisePrivateCloud_Bootcamp
  `prismops/prismops_rightsize_lab/prismops_rightsize_lab.rst` @ 65ae0afd926d;
  the same lab in several nutanixworkshops bootcamp repositories).
- `{{trigger[0].creation_time}}` and `{{playbook.playbook_name}}` appear in a
  Calm escript creating a playbook through v3 `action_rules` (public code
  index file 24039794232, repository not resolved); its alert trigger is
  `alert_trigger` with inputs `alert_uid`, `severity: ["critical","warning"]`,
  `source_entity_info_list`.
- Through the API the action type is `rest_api_action` with inputs `method`,
  `url`, `headers`, `request_body`, `username`, `password` (a public
  PowerShell playbook-creation module, code index file 12096991803,
  repository not resolved).
- `{{trigger[0].cluster_entity_info.name}}` appears only in unofficial exam
  notes (code index file 52363206364), so the template does not use it.

Not found in any source, hence choices of ours: a parameter for the alert's
severity, message, entity type or resolution; whether a Playbook can fire on
resolution; the format `creation_time` renders in; whether
`alert_entity_info.uuid` equals the v4 alert `extId` (both name the alert's
UUID, so we assume so: then a pushed alert and a polled one share one
CloudForet event_key); whether `alert_entity_info.name` is the rendered title
or the policy's template ("VM {vm_name} Memory Constrained" in the lab). So:

- `severity` and `source_entity_type` are literals the operator sets per
  Playbook (the alert trigger already filters by severity; use one Playbook
  per severity for exact values). Case is ignored.
- A value that still contains `{{` (a parameter Prism did not fill) counts
  as absent. `creation_time` may be RFC 3339 or epoch s/ms/us (digits).
- Optional extra keys the parser reads: `message`, `cluster_uuid`,
  `resolved` (true/"true": the body reports a resolution -> RECOVERY).
- Without `alert_uuid` the id is derived from alert name, source entity and
  creation time, so a redelivered body still deduplicates.
- Prism substitutes parameters as text (as far as the sources show): a value
  holding `"` makes the body invalid JSON, which the HTTP edge rejects.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from shared.errors import BadResponse, InvalidInput
from shared.prism.kinds import ParseContext
from shared.prism.kinds._values import dig, integer, obj, objs, text, texts, timestamp
from shared.prism.kinds.alerts import alert_params, from_v4, render_template
from shared.prism.models import Alert, EntityRef

PLAYBOOK_FORMAT = "cloudforet-nutanix-playbook-alert/v1"
MAX_DEPTH = 64  # real bodies nest about 10 deep; protobuf Structs stop at 100
PLAYBOOK_TEMPLATE = Path(__file__).with_name("playbook_template.json")

# Prism Element webhook event names (Network-Event-Listener-Framework
# ListenerConsts.go; spec nutanix/alerts-webhooks.md section 3) -> (title verb, severity)
VM_EVENTS: dict[str, tuple[str, str]] = {
    "VM.CREATE": ("VM {name} created", "INFO"),
    "VM.DELETE": ("VM {name} deleted", "WARNING"),
    "VM.ON": ("VM {name} powered on", "INFO"),
    "VM.OFF": ("VM {name} powered off", "INFO"),
    "VM.UPDATE": ("VM {name} updated", "INFO"),
    "VM.MIGRATE": ("VM {name} migrated", "INFO"),
    "VM.NIC_PLUG": ("NIC plugged into VM {name}", "INFO"),
    "VM.NIC_UNPLUG": ("NIC unplugged from VM {name}", "INFO"),
}

_EXPECTED = ("expected a Prism webhook event, the Playbook body template "
             f"({PLAYBOOK_FORMAT}) or v4 alerts")
_V4 = "monitoring.v4.serviceability."
_NO_CONTEXT = ParseContext()


@cache
def playbook_template() -> str:
    """The body operators paste into the Playbook's REST API action."""
    return PLAYBOOK_TEMPLATE.read_text(encoding="utf-8")


def parse(body: Any) -> list[Alert]:
    """Every alert in an accepted body, in order; `[]` when there is nothing to report."""
    body = _exact_numbers(body, 0)
    if isinstance(body, dict):
        return _parse_object(body)
    if not isinstance(body, list):
        raise InvalidInput(f"webhook body must be a JSON object or array: {_EXPECTED}")
    alerts: list[Alert] = []
    problems: list[str] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            problems.append(f"item {index} is not a JSON object")
            continue
        try:
            alerts.extend(_parse_object(item))
        except InvalidInput as err:
            problems.append(f"item {index}: {err}")
    if problems:
        raise InvalidInput("webhook body not accepted", problems)
    return alerts


def _exact_numbers(value: Any, depth: int) -> Any:
    """Integral floats back to ints, bounded in depth.

    A body that went through CloudForet's Event.parse is a Struct, where every
    number is a float (spec cloudforet/README.md rule 4): without this an
    IntValue 75 would render as "75.0%".
    """
    if depth > MAX_DEPTH:
        raise InvalidInput(f"webhook body is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _exact_numbers(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact_numbers(item, depth + 1) for item in value]
    return value


def _parse_object(body: dict) -> list[Alert]:
    if isinstance(body.get("event_type"), str) and "entity_reference" in body:
        return _from_entity_event(body)
    fmt = body.get("format")
    if isinstance(fmt, str) and fmt.startswith(PLAYBOOK_FORMAT.rsplit("/", 1)[0] + "/"):
        if fmt != PLAYBOOK_FORMAT:
            raise InvalidInput(f"unsupported Playbook body format, expected {PLAYBOOK_FORMAT}")
        return [_from_playbook(body)]
    if "data" in body or _object_type(body).endswith("ApiResponse"):
        return _from_v4_envelope(body.get("data"))
    kind = _v4_kind(body, None)
    if kind is None:
        raise InvalidInput(f"unrecognised webhook body: {_EXPECTED}")
    return _from_v4_item(body, kind)


# --- v4 ---------------------------------------------------------------------


def _object_type(item: dict) -> str:
    value = item.get("$objectType")
    return value if isinstance(value, str) else ""


def _v4_kind(item: dict, inherited: str | None) -> str | None:
    """alert, event or audit. `$objectType` may sit on the first item only (DESIGN fact 6)."""
    object_type = _object_type(item)
    if object_type.startswith(_V4):
        return {"Alert": "alert", "Event": "event", "Audit": "audit"}.get(
            object_type[len(_V4):])
    if "extId" not in item:
        return None
    if any(k in item for k in ("alertType", "severity", "title")):
        return "alert"
    if "eventType" in item:
        return "event"
    if "auditType" in item:
        return "audit"
    return inherited


def _from_v4_envelope(data: Any) -> list[Alert]:
    if data is None:
        return []
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidInput(f"v4 envelope 'data' is neither an object nor an array: {_EXPECTED}")
    alerts: list[Alert] = []
    problems: list[str] = []
    kind: str | None = None
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"data[{index}] is not a JSON object")
            continue
        kind = _v4_kind(item, kind)
        if kind is None:
            problems.append(f"data[{index}] is not a v4 alert or event")
            continue
        try:
            alerts.extend(_from_v4_item(item, kind))
        except InvalidInput as err:
            problems.append(f"data[{index}]: {err}")
    if problems:
        raise InvalidInput("v4 envelope not accepted", problems)
    return alerts


def _from_v4_item(item: dict, kind: str) -> list[Alert]:
    try:
        if kind == "alert":
            return [_auto_resolved(from_v4(item, _NO_CONTEXT))]
        if kind == "event":
            return [_from_v4_event(item)]
    except BadResponse as err:  # a pushed body is input, not a Prism response
        raise InvalidInput(str(err)) from None
    return []  # audits: Prism's own bookkeeping, not alerts


def _auto_resolved(alert: Alert) -> Alert:
    """`isAutoResolved` alone also means resolved (spec: the third DataDog alert).

    `kinds.alerts.from_v4` reads `isResolved` only; idempotent once it reads both.
    """
    if alert.is_resolved or alert.raw.get("isAutoResolved") is not True:
        return alert
    return replace(alert, is_resolved=True, resolved_at=timestamp(alert.raw.get("resolvedTime")))


def _from_v4_event(item: dict) -> Alert:
    ext_id = text(item.get("extId"))
    if ext_id is None:
        raise InvalidInput("v4 event has no extId")
    message = render_template(text(item.get("message")) or "", alert_params(item))
    event_type = text(item.get("eventType"))
    created = timestamp(item.get("creationTime"))
    return Alert(
        ext_id=ext_id,
        title=message.splitlines()[0] if message.strip() else event_type or "Prism event",
        message=message,
        severity="INFO",
        alert_type=event_type,
        created_at=created,
        last_updated_at=created,
        cluster_ext_id=text(item.get("clusterUUID")) or text(item.get("sourceClusterUUID")),
        source_entity=_v4_ref(item.get("sourceEntity")),
        affected_entities=tuple(r for r in map(_v4_ref, objs(item.get("affectedEntities"))) if r),
        classifications=texts(item.get("classifications")),
        raw=item,
    )


def _v4_ref(value: Any) -> EntityRef | None:
    ref = obj(value)
    ext_id, name = text(ref.get("extId")), text(ref.get("name"))
    if ext_id is None and name is None:
        return None
    return EntityRef(type=text(ref.get("type")) or "entity", ext_id=ext_id, name=name)


# --- Prism Element v3 entity webhook -------------------------------------------


def _from_entity_event(body: dict) -> list[Alert]:
    event_type = body["event_type"].strip()
    ref = obj(body.get("entity_reference"))
    uuid = text(ref.get("uuid"))
    if uuid is None:
        raise InvalidInput("webhook event has no entity_reference.uuid")
    known = VM_EVENTS.get(event_type)
    if known is None:
        return []  # an event name this project does not report
    kind = text(ref.get("kind")) or "vm"
    intent = obj(dig(body, "data", "metadata"))
    status, spec = obj(intent.get("status")), obj(intent.get("spec"))
    meta = obj(intent.get("metadata"))
    name = text(status.get("name")) or text(spec.get("name")) or uuid
    updated = timestamp(meta.get("last_update_time"))
    created = timestamp(meta.get("creation_time"))
    stamp = text(meta.get("last_update_time"))
    if stamp is None and integer(meta.get("spec_version")) is not None:
        stamp = f"v{integer(meta.get('spec_version'))}"
    cluster = _v3_ref("cluster", status.get("cluster_reference") or spec.get("cluster_reference"))
    host = _v3_ref("host", dig(status, "resources", "host_reference"))
    title = known[0].format(name=name)
    details = [f"Prism reported {event_type} for VM {name} ({uuid})."]
    if host and host.name:
        details.append(f"Host: {host.name}.")
    if cluster and cluster.name:
        details.append(f"Cluster: {cluster.name}.")
    power = text(dig(status, "resources", "power_state"))
    if power:
        details.append(f"Power state: {power}.")
    return [Alert(
        ext_id=f"{kind}:{uuid}:{event_type}:{stamp or ''}",
        title=title,
        message=" ".join(details),
        severity=known[1],
        alert_type=event_type,
        created_at=updated or created,
        last_updated_at=updated or created,
        cluster_ext_id=cluster.ext_id if cluster else None,
        source_entity=EntityRef(type=kind, ext_id=uuid, name=name),
        affected_entities=tuple(r for r in (host, cluster) if r),
        raw=body,
    )]


def _v3_ref(kind: str, value: Any) -> EntityRef | None:
    ref = obj(value)
    uuid, name = text(ref.get("uuid")), text(ref.get("name"))
    if uuid is None and name is None:
        return None
    return EntityRef(type=text(ref.get("kind")) or kind, ext_id=uuid, name=name)


# --- the shipped Playbook body -------------------------------------------------


def _filled(value: Any) -> str | None:
    """A value Prism filled in: a placeholder left as `{{...}}` counts as absent."""
    value = text(value)
    return None if value is None or "{{" in value else value.strip()


def _when(value: Any) -> Any:
    """RFC 3339 text or epoch digits (the rendered format is undocumented)."""
    filled = _filled(value) if isinstance(value, str) else value
    number = integer(filled) if isinstance(filled, str) else None
    return timestamp(number if number is not None else filled)


def _from_playbook(body: dict) -> Alert:
    alert_uuid = _filled(body.get("alert_uuid"))
    name = _filled(body.get("alert_name"))
    source_uuid = _filled(body.get("source_entity_uuid"))
    source_name = _filled(body.get("source_entity_name"))
    creation_time = _filled(body.get("creation_time"))
    if alert_uuid is None:
        if name is None:
            raise InvalidInput("Playbook body has neither alert_uuid nor alert_name filled in")
        seed = "\n".join((name, source_uuid or "", creation_time or ""))
        alert_uuid = "playbook:" + hashlib.sha256(seed.encode()).hexdigest()[:32]
    created = _when(body.get("creation_time"))
    resolved = body.get("resolved") is True or str(body.get("resolved")).lower() == "true"
    source = None
    if source_uuid or source_name:
        source = EntityRef(type=(_filled(body.get("source_entity_type")) or "entity").lower(),
                           ext_id=source_uuid, name=source_name)
    return Alert(
        ext_id=alert_uuid,
        title=name or "Prism Central alert",
        message=_filled(body.get("message")) or name or "",
        severity=(_filled(body.get("severity")) or "").upper(),
        created_at=created,
        last_updated_at=created,
        is_resolved=resolved,
        cluster_ext_id=_filled(body.get("cluster_uuid")),
        source_entity=source,
        raw=body,
    )
