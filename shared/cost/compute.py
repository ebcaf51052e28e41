"""Daily costs of one cluster from its allocation history and the rate card. Pure.

Input: a rollup per day (hours it was seen, per allocation) or none, and
today's allocation for days without one. Output: `CostRows`, one row per
(VM, day, usage type) with quantity and cost, in millionths, plus the VMs'
labels. No I/O and no clock: `now` is a parameter.

Hours of a day:

- past days count 24 hours, today counts up to and including the current
  hour, future days none;
- an hour without its own snapshot uses the latest earlier snapshot of the
  day, else the first one (a missed run costs nothing extra);
- a day without any snapshot uses today's allocation back to each VM's
  creation time, and is marked estimated;
- no VM pays for time before its creation (to the second).

Per allocation held for H hours by a VM (factor M from its categories):
vCPU-Hour = vcpus x H and GiB-Hour = memory GiB x H while powered on;
GiB-Day = disk GiB x H / 24 always, priced storage_gib_month / days in month;
Host-Hour = its share of each hour of its host (equal, or by vCPUs), priced
host_month / (days in month x 24), not scaled by M.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from shared.cost import HOST_SHARE, MEMORY, SCALE, STORAGE, VCPU
from shared.cost.ratecard import RateCard
from shared.cost.snapshots import DayRollup

DAY_S = 86400
HOUR_S = 3600


@dataclass
class CostRows:
    """Costs of one cluster over some days, columnar (what the compute reply carries)."""

    cluster: str
    cluster_name: str
    currency: str
    days: list[str] = field(default_factory=list)  # YYYY-MM-DD
    estimated: list[int] = field(default_factory=list)  # indices into days
    # [ext_id, name, project ext_id, project name, [[key, value], ...]]
    vms: list[list] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # flat: vm, day, type, quantity, cost

    def __len__(self) -> int:
        return len(self.rows) // 5

    def iter_rows(self):
        """(vm index, day index, type index, quantity, cost) as floats."""
        rows = self.rows
        for i in range(0, len(rows), 5):
            yield (rows[i], rows[i + 1], rows[i + 2], rows[i + 3] / SCALE,
                   rows[i + 4] / SCALE)


def charged_hours(day: date, now: datetime) -> int:
    today = now.astimezone(UTC).date()
    if day < today:
        return 24
    if day == today:
        return now.astimezone(UTC).hour + 1
    return 0


def source_hours(recorded: int, n: int) -> list[int]:
    """For each charged hour, the snapshot hour it takes its allocation from."""
    first = (recorded & -recorded).bit_length() - 1
    out, source = [], first
    for hour in range(n):
        if recorded >> hour & 1:
            source = hour
        out.append(source)
    return out


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


class _Presence:
    """Hours held per (mask, creation offset), cached: most VMs share a handful."""

    def __init__(self, recorded: int, n: int) -> None:
        self.smap = source_hours(recorded, n)
        self.n = n
        self.cache: dict = {}

    def get(self, mask: int, offset: int | None) -> tuple[float, tuple[float, ...]]:
        key = (mask, offset)
        hit = self.cache.get(key)
        if hit is None:
            vec = [1.0 if mask >> s & 1 else 0.0 for s in self.smap]
            if offset is not None:  # created during the day: only the seconds after
                vec = [v * min(1.0, max(0.0, ((h + 1) * HOUR_S - offset) / HOUR_S))
                       for h, v in enumerate(vec)]
            hit = self.cache[key] = (sum(vec), tuple(vec))
        return hit


def day_costs(card: RateCard, rollup: DayRollup, day: date, n: int,
              cluster_name: str = "") -> dict[int, list[float]]:
    """vm index in `rollup.vms` -> [qty, cost] x (vcpu, memory, storage, host share)."""
    rates = card.rates_for(rollup.cluster, cluster_name or rollup.cluster_name)
    dim = calendar.monthrange(day.year, day.month)[1]
    vcpu_rate, mem_rate = rates.vcpu_hour, rates.memory_gib_hour
    storage_day = rates.storage_gib_month / dim
    host_hour = rates.host_month / (dim * 24)
    by_vcpu = card.host_share_by == "vcpus"
    start = _epoch(day)
    presence = _Presence(rollup.hours, n)
    offsets = []
    for vm in rollup.vms:
        created = vm[4]
        if created is None or created <= start:
            offsets.append(None)
        elif created - start >= DAY_S:
            offsets.append(-1)  # did not exist yet
        else:
            offsets.append(created - start)
    mults = [card.multiplier(c) for c in rollup.cats]
    accs: dict[int, list[float]] = {}
    shares: list[tuple] = []  # (vm, host, presence key, weight)
    groups: dict[tuple, float] = {}
    for vm_i, on, host_i, vcpus, mem_mib, disk_gib, cat_i, mask in rollup.alloc:
        offset = offsets[vm_i]
        if offset == -1:
            continue
        hours = presence.get(mask, offset)[0]
        if not hours:
            continue
        acc = accs.get(vm_i)
        if acc is None:
            acc = accs[vm_i] = [0.0] * 8
        mult = mults[cat_i]
        if disk_gib:
            qty = disk_gib * hours / 24
            acc[4] += qty
            acc[5] += qty * storage_day * mult
        if on:
            qty = vcpus * hours
            acc[0] += qty
            acc[1] += qty * vcpu_rate * mult
            qty = mem_mib / 1024 * hours
            acc[2] += qty
            acc[3] += qty * mem_rate * mult
            if host_hour and host_i >= 0:
                weight = float(vcpus) if by_vcpu else 1.0
                if weight:
                    shares.append((vm_i, host_i, mask, offset, weight))
                    gkey = (host_i, mask, offset)
                    groups[gkey] = groups.get(gkey, 0.0) + weight
    if shares:
        _host_shares(presence, shares, groups, accs, host_hour)
    return accs


def _host_shares(presence: _Presence, shares: list[tuple], groups: dict[tuple, float],
                 accs: dict[int, list[float]], host_hour: float) -> None:
    """Each hour of a host is split over the VMs on it in that hour, by weight."""
    totals: dict[int, list[float]] = {}
    for (host_i, mask, offset), weight in groups.items():
        vec = presence.get(mask, offset)[1]
        total = totals.setdefault(host_i, [0.0] * presence.n)
        for h, v in enumerate(vec):
            if v:
                total[h] += weight * v
    factors: dict[tuple, float] = {}
    for host_i, mask, offset in groups:
        vec, total = presence.get(mask, offset)[1], totals[host_i]
        factors[(host_i, mask, offset)] = sum(v / total[h] for h, v in enumerate(vec) if v)
    for vm_i, host_i, mask, offset, weight in shares:
        qty = weight * factors[(host_i, mask, offset)]
        acc = accs[vm_i]
        acc[6] += qty
        acc[7] += qty * host_hour


def compute(card: RateCard, cluster: str, days: list[date],
            sources: dict[date, DayRollup], current: DayRollup | None, now: datetime, *,
            cluster_name: str = "") -> CostRows:
    """The cluster's costs for `days`; `current` stands in for days without a rollup."""
    out = CostRows(cluster, cluster_name, card.currency)
    vm_index: dict[str, int] = {}
    rows = out.rows
    for day in days:
        n = charged_hours(day, now)
        rollup, estimated = sources.get(day), False
        if rollup is None or not rollup.hours:
            rollup, estimated = current, True
        if not n or rollup is None:
            continue
        out.cluster_name = out.cluster_name or rollup.cluster_name
        accs = day_costs(card, rollup, day, n, out.cluster_name)
        if not accs:
            continue
        day_i = len(out.days)
        out.days.append(day.isoformat())
        if estimated:
            out.estimated.append(day_i)
        projects, cats, vms = rollup.projects, rollup.cats, rollup.vms
        for vm_i, acc in accs.items():
            ext_id, name, project, cat_i, _ = vms[vm_i]
            index = vm_index.get(ext_id)
            label = [ext_id, name, project, projects.get(project, ""),
                     [list(c) for c in cats[cat_i]]]
            if index is None:
                index = vm_index[ext_id] = len(out.vms)
                out.vms.append(label)
            else:
                out.vms[index] = label  # the latest day names the VM
            for t in (VCPU, MEMORY, STORAGE, HOST_SHARE):
                qty = acc[2 * t]
                if qty > 0:
                    rows += (index, day_i, t, round(qty * SCALE), round(acc[2 * t + 1] * SCALE))
    return out


def labels(vm: list) -> tuple[dict, dict]:
    """(tags, additional_info) of a VM row of `CostRows.vms`.

    Tags are the VM's categories (values of one key joined by ',') and its
    Nutanix project by name; additional_info keeps the VM name and project id.
    """
    ext_id, name, project, project_name, categories = vm
    tags: dict[str, str] = {}
    for key, value in categories:
        tags[key] = f"{tags[key]},{value}" if key in tags else value
    if project_name or project:
        tags["Project"] = project_name or project
    info = {"VM Name": name or ext_id}
    if project:
        info["Project UUID"] = project
    return tags, info
