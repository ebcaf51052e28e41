"""A month of showback per cluster at a glance, for `make run` and an operator's check.

Two sources, one shape: `month_summary` prices the stored history directly
(no Prism, no gRPC), `from_cost_infos` totals what `Cost.get_data` streamed
(CostInfo messages or dicts). `render` prints either as a table.

    {"month": "2026-10", "currency": "EUR", "total": 1234.5,
     "clusters": [{"cluster": ext_id, "name": str, "vms": int, "days": int,
                   "estimated_days": int, "cost": {usage_type: float}, "total": float}]}
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from shared.cost import USAGE_TYPES, ratecard, snapshots, tasks
from shared.cost.run import compute_costs

TYPES = [name for name, _ in USAGE_TYPES]


def _cluster(ext_id: str, name: str) -> dict:
    return {"cluster": ext_id, "name": name or ext_id, "vms": set(), "days": set(),
            "estimated_days": set(), "cost": dict.fromkeys(TYPES, 0.0)}


def _finish(month: str, currency: str, clusters: Iterable[dict]) -> dict:
    out = []
    for c in sorted(clusters, key=lambda c: c["name"]):
        cost = {k: round(v, 2) for k, v in c["cost"].items()}
        out.append({**c, "vms": len(c["vms"]), "days": len(c["days"]),
                    "estimated_days": len(c["estimated_days"]), "cost": cost,
                    "total": round(sum(c["cost"].values()), 2)})
    return {"month": month, "currency": currency, "clusters": out,
            "total": round(sum(c["total"] for c in out), 2)}


def month_summary(store: Any, options: Mapping[str, Any], month: str, *,
                  now: datetime | None = None) -> dict:
    """Price `month` (YYYY-MM) from the stored history of every recorded cluster."""
    card = ratecard.parse(options)
    now = now or datetime.now(UTC)
    year, mon = int(month[:4]), int(month[5:7])
    days = [date(year, mon, d) for d in range(1, calendar.monthrange(year, mon)[1] + 1)]
    clusters = []
    for ext_id, last_day in sorted(snapshots.clusters_in_month(store, month).items()):
        rollup = snapshots.load_rollup(store, date.fromisoformat(last_day), ext_id)
        name = rollup.cluster_name if rollup else ""
        entry = _cluster(ext_id, name)
        step = tasks.days_per_call(len(rollup.vms) if rollup else 0)
        for i in range(0, len(days), step):
            costs = compute_costs(card, store, ext_id, days[i:i + step], now,
                                  cluster_name=name)
            for vm_i, day_i, type_i, _, cost in costs.iter_rows():
                entry["vms"].add(costs.vms[vm_i][0])
                entry["days"].add(costs.days[day_i])
                entry["cost"][TYPES[type_i]] += cost
            entry["estimated_days"].update(costs.days[d] for d in costs.estimated)
        clusters.append(entry)
    return _finish(month, card.currency, clusters)


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name)


def from_cost_infos(results: Iterable[Any], *, month: str = "", currency: str = "",
                    names: Mapping[str, str] | None = None) -> dict:
    """Totals of streamed CostInfo (protobuf messages or dicts), per region_code."""
    clusters: dict[str, dict] = {}
    for item in results:
        code = _get(item, "region_code")
        entry = clusters.get(code)
        if entry is None:
            entry = clusters[code] = _cluster(code, (names or {}).get(code, ""))
        entry["vms"].add(_get(item, "resource"))
        entry["days"].add(_get(item, "billed_date"))
        usage = _get(item, "usage_type")
        entry["cost"][usage] = entry["cost"].get(usage, 0.0) + float(_get(item, "cost") or 0)
        info = _get(item, "additional_info") or {}
        if "Estimated" in info:
            entry["estimated_days"].add(_get(item, "billed_date"))
        month = month or str(_get(item, "billed_date"))[:7]
    return _finish(month, currency, clusters.values())


def render(summary: Mapping[str, Any]) -> str:
    """A fixed-width table: one line per cluster, then the total."""
    head = f"{'cluster':<24}{'VMs':>7}{'days':>6}{'est.':>6}" + "".join(
        f"{t:>13}" for t in TYPES) + f"{'total':>14}"
    lines = [f"Showback {summary['month']} ({summary['currency'] or 'currency unknown'})",
             head, "-" * len(head)]
    for c in summary["clusters"]:
        lines.append(f"{c['name'][:23]:<24}{c['vms']:>7}{c['days']:>6}{c['estimated_days']:>6}"
                     + "".join(f"{c['cost'].get(t, 0.0):>13,.2f}" for t in TYPES)
                     + f"{c['total']:>14,.2f}")
    lines.append("-" * len(head))
    lines.append(f"{'total':<43}{'':>{13 * len(TYPES)}}{summary['total']:>14,.2f}")
    return "\n".join(lines)
