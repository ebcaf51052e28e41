"""Job.get_tasks for cost: which months to (re)send, cut into (month, cluster) tasks. Pure.

CloudForet inserts every row it receives and replaces only through the
`changed` windows a plugin returns (spec cloudforet/cost_analysis.md
section 6), compared as strings with `billed_month`: so windows are
`YYYY-MM`, cover every month re-sent, and are filtered by `region_code`
(the cluster ext_id) so that one Prism Central's job never deletes another's
rows. Data older than 12 months is purged by CloudForet: never go further.

First month:
- `start` given (manual sync): its month;
- else `last_synchronized_at`: the month of the day before it (that day
  may have been partial when it was sent);
- else (first sync): the month of the first recorded snapshot, or
  `backfill_months` before the current one, whichever is earlier;
always clamped to the last 12 months. The last month is the current one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from shared.errors import InvalidInput

MAX_MONTHS = 12  # CloudForet purges cost rows older than 12 months
WINDOW_VM_DAYS = 25_000  # VM-days per compute call: keeps a reply near 2-3 MB


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, delta: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def parse_start(text: str) -> str:
    """`YYYY-MM`, `YYYY-MM-DD` or an ISO 8601 time -> its month."""
    raw = text.strip()
    try:
        if len(raw) == 7:
            return month_of(date.fromisoformat(raw + "-01"))
        return month_of(_parse_time(raw).date())
    except ValueError:
        raise InvalidInput("start must be YYYY-MM or YYYY-MM-DD") from None


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def first_month(now: datetime, *, start: str = "", last_synchronized_at: str = "",
                first_recorded: date | None = None, backfill_months: int = 0) -> str:
    current = month_of(now.astimezone(UTC).date())
    earliest = add_months(current, -(MAX_MONTHS - 1))
    if start:
        month = parse_start(start)
    else:
        synced = None
        if last_synchronized_at:
            try:
                synced = _parse_time(last_synchronized_at)
            except ValueError:
                synced = None  # the server's own value: fall back rather than fail the job
        if synced is not None:
            month = month_of((synced - timedelta(days=1)).date())
        else:
            month = add_months(current, -int(backfill_months))
            if first_recorded is not None:
                month = min(month, month_of(first_recorded))
    return min(max(month, earliest), current)


def days_per_call(vms: int) -> int:
    return max(1, min(31, WINDOW_VM_DAYS // max(vms, 1)))


def plan(clusters: Mapping[str, str], months: list[str], vm_counts: Mapping[str, int],
         ) -> dict:
    """The TasksInfo body: a task per (month, cluster), `changed` per cluster."""
    if not months:
        return {"tasks": [], "changed": []}
    tasks = [{"task_options": {"month": month, "cluster": ext_id, "cluster_name": name,
                               "days_per_call": days_per_call(vm_counts.get(ext_id, 0))}}
             for month in months for ext_id, name in sorted(clusters.items())]
    changed = [{"start": months[0], "end": months[-1], "filter": {"region_code": ext_id}}
               for ext_id in sorted(clusters)]
    return {"tasks": tasks, "changed": changed}
