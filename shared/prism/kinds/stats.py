"""v4 time series: the two stats shapes Prism answers, as `StatSeries`.

- vmm (`GET vmm/v4.x/ahv/stats/vms/{extId}`): `data.stats[]` of tuples
  `{timestamp, <metric>: value, ...}`, each tuple with its own subset of
  metrics (one carries only `cluster`/`hypervisorType`): pivoted to one series
  per numeric metric; strings, objects and the timestamp are not metrics;
- clustermgmt (`GET clustermgmt/v4.x/stats/clusters/{extId}[/hosts/{extId}]`):
  `data.<metric>` = `[{timestamp, value}]`, newest first.

Spec nutanix/v4.md section 7. Points come out oldest first, series sorted by
metric name. Values and units stay as Prism sent them (`...Ppm`, `...Micros`,
`...Usecs`, `...Kbps`, `...Bytes`); ints stay ints. A point whose timestamp
does not parse is dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import BadResponse
from shared.prism.kinds._values import number, objs, timestamp
from shared.prism.models import StatSeries

_NOT_METRICS = frozenset({"timestamp", "extId", "tenantId", "links"})


def _is_metric(name: Any) -> bool:
    return isinstance(name, str) and name not in _NOT_METRICS and not name.startswith("$")


def _data(payload: Any) -> dict:
    """`payload["data"]`, or the payload itself when the caller already unwrapped it."""
    if not isinstance(payload, dict):
        raise BadResponse("stats answer is not a JSON object")
    data = payload.get("data", payload)
    if not isinstance(data, dict):
        raise BadResponse("stats answer has no data object")
    return data


def _series(points: dict[str, list[tuple[datetime, Any]]]) -> list[StatSeries]:
    return [
        StatSeries(metric=metric, points=tuple(sorted(found, key=lambda p: p[0])))
        for metric, found in sorted(points.items())
        if found
    ]


def vm_stats_from_v4(payload: Any) -> list[StatSeries]:
    """One series per metric from the vmm per-timestamp tuples."""
    points: dict[str, list[tuple[datetime, Any]]] = {}
    for row in objs(_data(payload).get("stats")):
        at = timestamp(row.get("timestamp"))
        if at is None:
            continue
        for metric, raw in row.items():
            value = number(raw)
            if value is None or not _is_metric(metric):
                continue
            points.setdefault(metric, []).append((at, value))
    return _series(points)


def entity_stats_from_v4(payload: Any) -> list[StatSeries]:
    """One series per metric from clustermgmt cluster/host stats."""
    points: dict[str, list[tuple[datetime, Any]]] = {}
    for metric, pairs in _data(payload).items():
        if not _is_metric(metric) or not isinstance(pairs, list):
            continue
        for pair in objs(pairs):
            at, value = timestamp(pair.get("timestamp")), number(pair.get("value"))
            if at is not None and value is not None:
                points.setdefault(metric, []).append((at, value))
    return _series(points)
