"""Daily costs of one cluster from its allocation history and the rate card. Pure.

Input: a rollup per day (hours it was seen, per allocation) or none, and
today's allocation for days without one. Output: `CostRows`, one row per
(VM, day, usage type) with quantity and cost, plus the VMs' labels. No I/O
and no clock: `now` is a parameter.

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
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from shared.cost import HOST_SHARE, MEMORY, STORAGE, VCPU
from shared.cost.ratecard import RateCard
from shared.cost.snapshots import DayRollup

DAY_S = 86400
HOUR_S = 3600


@dataclass
class CostRows:
    """Costs of one cluster over some days, columnar (what the compute reply carries).

    Entry i is (vm, day) = pairs[2i:2i+2] with values[8i:8i+8] = quantity,
    cost for vCPU, memory, storage and host share (a zero quantity: no row).
    Typed arrays: 72 bytes per VM-day, where lists of numbers take ~10x.
    """

    cluster: str
    cluster_name: str
    currency: str
    days: list[str] = field(default_factory=list)  # YYYY-MM-DD
    estimated: list[int] = field(default_factory=list)  # indices into days
    # (ext_id, name, project ext_id, project name, ((key, value), ...))
    vms: list[tuple] = field(default_factory=list)
    pairs: array = field(default_factory=lambda: array("I"))
    values: array = field(default_factory=lambda: array("d"))

    def __len__(self) -> int:
        """VM-days (each is up to four rows)."""
        return len(self.pairs) // 2

    def iter_rows(self) -> Iterator[tuple[int, int, int, float, float]]:
        """(vm index, day index, type index, quantity, cost) of every row."""
        values = self.values
        for i in range(len(self.pairs) // 2):
            vm_i, day_i = self.pairs[2 * i], self.pairs[2 * i + 1]
            for t in (VCPU, MEMORY, STORAGE, HOST_SHARE):
                qty = values[8 * i + 2 * t]
                if qty > 0:
                    yield vm_i, day_i, t, qty, values[8 * i + 2 * t + 1]


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
    vcpu_price = [vcpu_rate * m for m in mults]  # per category set: price after factors
    mem_price = [mem_rate / 1024 * m for m in mults]  # per MiB-hour
    disk_price = [storage_day * m for m in mults]
    accs: dict[int, list[float]] = {}
    shares: list[tuple] = []  # (vm, host, mask, creation offset, weight)
    groups: dict[tuple, float] = {}
    full: dict[int, float] = {}  # mask -> hours, for VMs created before the day
    for vm_i, on, host_i, vcpus, mem_mib, disk_gib, cat_i, mask in rollup.alloc:
        offset = offsets[vm_i]
        if offset is None:
            hours = full.get(mask)
            if hours is None:
                hours = full[mask] = presence.get(mask, None)[0]
        elif offset < 0:
            continue
        else:
            hours = presence.get(mask, offset)[0]
        if not hours:
            continue
        disk = disk_gib * hours / 24
        if on:
            cpu, mem = vcpus * hours, mem_mib * hours
            row = [cpu, cpu * vcpu_price[cat_i], mem / 1024, mem * mem_price[cat_i],
                   disk, disk * disk_price[cat_i], 0.0, 0.0]
            if host_hour and host_i >= 0 and (vcpus or not by_vcpu):
                weight = float(vcpus) if by_vcpu else 1.0
                shares.append((vm_i, host_i, mask, offset, weight))
                group = (host_i, mask, offset)
                groups[group] = groups.get(group, 0.0) + weight
        else:
            row = [0.0, 0.0, 0.0, 0.0, disk, disk * disk_price[cat_i], 0.0, 0.0]
        acc = accs.get(vm_i)
        if acc is None:
            accs[vm_i] = row
        else:  # the VM changed during the day: one row per allocation, summed
            for k in range(6):
                acc[k] += row[k]
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


class Days(Protocol):
    def get(self, day: date) -> DayRollup | None: ...


def compute(card: RateCard, cluster: str, days: list[date], sources: Days | Mapping,
            current: DayRollup | Callable[[], DayRollup | None] | None, now: datetime, *,
            cluster_name: str = "") -> CostRows:
    """The cluster's costs for `days`.

    `sources.get(day)` gives a day's rollup (a dict, or `StoredDays` reading
    one day at a time); `current` (or `current()`, asked only when a day has
    no rollup) stands in for days without one.
    """
    out = CostRows(cluster, cluster_name, card.currency)
    vm_index: dict[str, int] = {}
    latest: list[tuple] = []  # per VM: (vm row, projects, cats) of the last day it appears
    add_pair, add_values = out.pairs.extend, out.values.extend
    for day in days:
        n = charged_hours(day, now)
        if not n:
            continue
        rollup, estimated = sources.get(day), False
        if rollup is None or not rollup.hours:
            if callable(current):
                current = current()
            rollup, estimated = current, True
        if rollup is None:
            continue
        out.cluster_name = out.cluster_name or rollup.cluster_name
        accs = day_costs(card, rollup, day, n, out.cluster_name)
        if not accs:
            continue
        day_i = len(out.days)
        out.days.append(day.isoformat())
        if estimated:
            out.estimated.append(day_i)
        vms, names = rollup.vms, (rollup.projects, rollup.cats)  # not the rollup: let it go
        for vm_i, acc in accs.items():
            row = vms[vm_i]
            vm_n = vm_index.get(row[0])
            if vm_n is None:
                vm_n = vm_index[row[0]] = len(latest)
                latest.append((row, names))
            else:
                latest[vm_n] = (row, names)  # the latest day names the VM
            add_pair((vm_n, day_i))
            add_values(acc)
        del rollup, accs, vms
    out.vms = [(row[0], row[1], row[2], projects.get(row[2], ""), cats[row[3]])
               for row, (projects, cats) in latest]
    return out


def tags_of(vm: tuple | list) -> dict[str, str]:
    """Tags of a `CostRows.vms` entry: its categories (values of one key joined by ',')
    and its Nutanix project by name (a category named Project yields to it)."""
    _, _, project, project_name, categories = vm
    tags: dict[str, str] = {}
    for key, value in categories:
        tags[key] = f"{tags[key]},{value}" if key in tags else value
    if project_name or project:
        tags["Project"] = project_name or project
    return tags


def info_of(vm: tuple | list) -> dict[str, str]:
    """additional_info: the VM's name, and its project id (account routing by project)."""
    ext_id, name, project = vm[0], vm[1], vm[2]
    if project:
        return {"VM Name": name or ext_id, "Project UUID": project}
    return {"VM Name": name or ext_id}


def labels(vm: tuple | list) -> tuple[dict, dict]:
    """(tags, additional_info) of a `CostRows.vms` entry."""
    return tags_of(vm), info_of(vm)
