"""Alerts: where they live in v4 and v3, template rendering, and the parsers to `Alert`.

Alert `title` and `message` are templates with `{name}` placeholders, filled
from typed parameters (spec nutanix/alerts-webhooks.md section 1):

- v4 `parameters[{paramName, paramValue}]`, `paramValue` one of StringValue,
  IntValue, BoolValue, DoubleValue, FloatValue. Real alerts carry entries
  without `paramName` (skipped) and StringValues without `stringValue` (an
  empty value). The value is read from whichever `*Value` key is present,
  never from `$objectType`, which Prism may elide;
- v3 `status.resources.parameters` maps name -> `{string_value | int_value |
  double_value | bool_value}` (prism-go-client `v3/models` ParamValue).

Unknown placeholders are left as they are. Severity is upper-cased; anything
outside CRITICAL/WARNING/INFO reads as INFO. An auto-resolved alert is resolved
(DataDog's third recorded alert has `isAutoResolved` and `resolvedTime`). v4 alerts are read from
`monitoring/v4.2` (the first minor that filters); `V4_FALLBACK_VERSION` serves
them unfiltered on older PCs.
"""

from __future__ import annotations

import re
from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import (
    boolean,
    dig,
    number,
    obj,
    objs,
    require_id,
    require_object,
    text,
    texts,
    timestamp,
)
from shared.prism.models import Alert, EntityRef

V4_FALLBACK_VERSION = "v4.0"
SEVERITIES = ("CRITICAL", "WARNING", "INFO")
_NO_CONTEXT = ParseContext()
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_V4_VALUE_KEYS = ("stringValue", "intValue", "boolValue", "doubleValue", "floatValue")
_V3_VALUE_KEYS = ("string_value", "int_value", "bool_value", "double_value", "float_value")

ParamValue = str | int | float | bool


def render_template(template: str, params: dict) -> str:
    """`template` with each `{name}` found in `params` replaced; other braces kept."""
    if not isinstance(template, str):
        return ""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return _display(params[name]) if name in params else match.group(0)

    return _PLACEHOLDER.sub(fill, template)


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def alert_params(item: Any) -> dict[str, ParamValue]:
    """Name -> value of a v4 alert's `parameters` list, or of a v3 entity's map.

    Ints stay exact (ids such as `arithmos_id` exceed 2**53); a value Prism left
    out reads as "" (the template then shows nothing where it would have been).
    The first entry of a name wins.
    """
    params: dict[str, ParamValue] = {}
    listed = dig(item, "parameters")
    if isinstance(listed, list):
        for entry in objs(listed):
            name = text(entry.get("paramName"))
            if name and name not in params:
                params[name] = _value(entry.get("paramValue"), _V4_VALUE_KEYS)
        return params
    mapped = listed if isinstance(listed, dict) else dig(item, "status", "resources", "parameters")
    for name, value in obj(mapped).items():
        if text(name):
            params[name] = _value(value, _V3_VALUE_KEYS)
    return params


def _value(holder: Any, keys: tuple[str, ...]) -> ParamValue:
    holder = obj(holder)
    for key in keys:
        value = holder.get(key)
        if isinstance(value, str | bool):
            return value
        value = number(value)
        if value is not None:
            return value
    return ""


def _severity(value: Any) -> str:
    severity = (text(value) or "").strip().upper()
    return severity if severity in SEVERITIES else "INFO"


def _ref(ref: Any, id_key: str) -> EntityRef | None:
    ref = obj(ref)
    ext_id, name = text(ref.get(id_key)), text(ref.get("name"))
    if ext_id is None and name is None:
        return None
    return EntityRef(type=text(ref.get("type")) or "", ext_id=ext_id, name=name)


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Alert:
    item = require_object(item, "alert item")
    params = alert_params(item)
    # Resolved by hand, auto-resolved, or (newer SDKs) only the `status` enum says so.
    status = text(item.get("status"))
    is_resolved = (boolean(item.get("isResolved")) is True
                   or boolean(item.get("isAutoResolved")) is True
                   or status in ("RESOLVED", "AUTO_RESOLVED"))
    is_acknowledged = boolean(item.get("isAcknowledged")) is True or status == "ACKNOWLEDGED"
    return Alert(
        ext_id=require_id(item.get("extId"), "alert item"),
        title=render_template(item.get("title"), params).strip(),
        message=render_template(item.get("message"), params).strip(),
        severity=_severity(item.get("severity")),
        alert_type=text(item.get("alertType")),
        created_at=timestamp(item.get("creationTime")),
        last_updated_at=timestamp(item.get("lastUpdatedTime")),
        is_resolved=is_resolved,
        resolved_at=timestamp(item.get("resolvedTime")) if is_resolved else None,
        is_acknowledged=is_acknowledged,
        cluster_ext_id=text(item.get("clusterUUID")) or text(item.get("originatingClusterUUID")),
        source_entity=_ref(item.get("sourceEntity"), "extId"),
        affected_entities=tuple(
            r for r in (_ref(e, "extId") for e in objs(item.get("affectedEntities"))) if r
        ),
        classifications=texts(item.get("classifications")),
        raw=item,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Alert:
    entity = require_object(entity, "alert entity")
    metadata = obj(entity.get("metadata"))
    res = obj(dig(entity, "status", "resources")) or obj(dig(entity, "spec", "resources"))
    params = alert_params({"parameters": obj(res.get("parameters"))})
    resolution = obj(res.get("resolution_status"))
    acknowledged = obj(res.get("acknowledged_status"))
    is_resolved = (boolean(resolution.get("is_true")) is True
                   or boolean(resolution.get("is_auto_resolved")) is True)
    source = obj(res.get("source_entity"))
    return Alert(
        ext_id=require_id(metadata.get("uuid"), "alert entity"),
        title=render_template(res.get("title"), params).strip(),
        message=render_template(res.get("default_message"), params).strip(),
        severity=_severity(res.get("severity")),
        alert_type=text(res.get("type")),
        created_at=timestamp(res.get("creation_time")) or timestamp(metadata.get("creation_time")),
        last_updated_at=timestamp(res.get("last_update_time"))
        or timestamp(metadata.get("last_update_time")),
        is_resolved=is_resolved,
        resolved_at=timestamp(resolution.get("time")) if is_resolved else None,
        is_acknowledged=boolean(acknowledged.get("is_true")) is True,
        cluster_ext_id=text(source.get("cluster_uuid")),
        source_entity=_ref(source.get("entity"), "uuid"),
        affected_entities=tuple(
            r for r in (_ref(e, "uuid") for e in objs(res.get("affected_entity_list"))) if r
        ),
        classifications=texts(res.get("classification_list")),
        raw=entity,
    )


SPEC = KindSpec(
    name="alerts",
    v4_namespace="monitoring",
    v4_version="v4.2",
    v4_path="serviceability/alerts",
    v3_kind="alert",
    from_v4=from_v4,
    from_v3=from_v3,
)
