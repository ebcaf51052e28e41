"""Allocation history: hourly snapshots and the daily rollups costs are computed from.

Prism keeps no history of what a VM held, so every record run (hourly, by
PingSource) writes what each VM holds now. Layout in the state store:

    cost/snapshots/<YYYY-MM-DD>/<HH>.jsonl.gz       one per run: a header line, then
                                                    one JSON array per VM
    cost/daily/<YYYY-MM-DD>/<cluster ext_id>.json.gz
                                                    the day of one cluster: each distinct
                                                    allocation once, with a 24-bit mask of
                                                    the hours it was seen
    cost/latest.json                                the last recorded hour

A run writes its hourly snapshot, then folds it into the day's rollup of
every cluster (clearing that hour first, so a retried run never counts
twice, and folding any hourly file the rollup missed, so a lost update heals
at the next run). A month of costs therefore reads ~30 small files per
cluster, not 720 big ones. `compact` deletes hourly snapshots older than a
few days once their rollup exists: what stays grows with VMs x days, and
with VMs x hours only for the hours where a VM changed.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from shared.errors import BadResponse
from shared.prism.models import Vm
from shared.state import StateStore, dumps

log = logging.getLogger(__name__)

VERSION = 1
HOURLY_PREFIX = "cost/snapshots/"
DAILY_PREFIX = "cost/daily/"
LATEST_KEY = "cost/latest.json"
FULL_DAY = (1 << 24) - 1
GIB = 1024**3
MIB = 1024**2


class VmRow(NamedTuple):
    """One VM in one snapshot: only what pricing and labels need."""

    ext_id: str
    name: str
    cluster: str
    host: str  # "" unless running
    project: str  # "" when none is known (v4 VMs carry no project)
    categories: tuple[tuple[str, str], ...]
    vcpus: int
    memory_mib: int
    disk_gib: float
    power_state: str
    created: int | None  # epoch seconds

    @property
    def is_on(self) -> bool:
        return self.power_state == "ON"


def row_from_vm(vm: Vm) -> VmRow:
    created = int(vm.created_at.timestamp()) if vm.created_at else None
    return VmRow(vm.ext_id, vm.name or "", vm.cluster_ext_id or "", vm.host_ext_id or "",
                 vm.project_ext_id or "", tuple(tuple(c) for c in vm.categories),
                 int(vm.num_vcpus), int((vm.memory_bytes or 0) // MIB),
                 round(vm.disk_bytes / GIB, 3), (vm.power_state or "").upper(), created)


@dataclass
class Snapshot:
    """Every VM of one Prism Central at one UTC hour."""

    hour: datetime  # UTC, minutes zeroed
    clusters: dict[str, str]  # AOS cluster ext_id -> name (the PC pseudo-cluster excluded)
    projects: dict[str, str] = field(default_factory=dict)
    rows: list[VmRow] = field(default_factory=list)
    prism_central: str = ""  # the PC pseudo-cluster's ext_id, when known


def hour_of(moment: datetime) -> datetime:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def hourly_key(hour: datetime) -> str:
    return f"{HOURLY_PREFIX}{hour:%Y-%m-%d}/{hour:%H}.jsonl.gz"


def daily_key(day: date, cluster: str) -> str:
    return f"{DAILY_PREFIX}{day.isoformat()}/{cluster}.json.gz"


# -- hourly snapshots ------------------------------------------------------------------


def _header(snap: Snapshot) -> dict:
    return {"v": VERSION, "hour": f"{snap.hour:%Y-%m-%dT%H}", "clusters": snap.clusters,
            "projects": snap.projects, "prism_central": snap.prism_central,
            "vms": len(snap.rows)}


def write_hourly(store: StateStore, snap: Snapshot) -> None:
    store.put_jsonl_gz(hourly_key(snap.hour), [_header(snap), *snap.rows])


def read_hourly(store: StateStore, hour: datetime) -> Snapshot | None:
    lines = store.iter_jsonl_gz(hourly_key(hour))
    head = next(lines, None)
    if head is None:
        return None
    if not isinstance(head, dict) or head.get("v") != VERSION:
        raise BadResponse(f"snapshot {hourly_key(hour)} has an unknown format")
    rows = [VmRow(r[0], r[1], r[2], r[3], r[4], tuple(tuple(c) for c in r[5]), *r[6:])
            for r in lines]
    return Snapshot(hour, dict(head.get("clusters") or {}), dict(head.get("projects") or {}),
                    rows, head.get("prism_central") or "")


# -- daily rollups ---------------------------------------------------------------------


@dataclass
class DayRollup:
    """One cluster's day, in the tabular form computing reads without conversion.

    vms:   [ext_id, name, project, cats index, created]   (last seen identity of the day)
    alloc: [vm index, on 0/1, host index or -1, vcpus, memory_mib, disk_gib, cats index,
            mask of hours]
    """

    day: date
    cluster: str
    cluster_name: str = ""
    prism_central: str = ""
    hours: int = 0  # hours with a snapshot
    projects: dict[str, str] = field(default_factory=dict)
    cats: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    vms: list[list] = field(default_factory=list)
    alloc: list[list] = field(default_factory=list)

    @property
    def last_hour(self) -> int:
        return self.hours.bit_length() - 1

    def to_bytes(self) -> bytes:
        body = {"v": VERSION, "day": self.day.isoformat(), "cluster": self.cluster,
                "cluster_name": self.cluster_name, "prism_central": self.prism_central,
                "hours": self.hours, "projects": self.projects,
                "cats": [[list(p) for p in c] for c in self.cats], "hosts": self.hosts,
                "vms": self.vms, "alloc": self.alloc}
        return gzip.compress(dumps(body), compresslevel=6, mtime=0)

    @classmethod
    def from_bytes(cls, raw: bytes, key: str = "rollup") -> DayRollup:
        try:
            body = json.loads(gzip.decompress(raw))
            if body.get("v") != VERSION:
                raise ValueError("version")
            return cls(date.fromisoformat(body["day"]), body["cluster"],
                       body.get("cluster_name", ""), body.get("prism_central", ""),
                       int(body["hours"]), body.get("projects") or {},
                       [tuple(tuple(p) for p in c) for c in body["cats"]], body["hosts"],
                       body["vms"], body["alloc"])
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise BadResponse(f"state object {key} is not a cost rollup") from exc

    def at_last_hour(self) -> DayRollup:
        """The allocation of the last recorded hour, as if held all day (for estimates)."""
        bit = 1 << self.last_hour if self.hours else 0
        alloc = [[*a[:7], FULL_DAY] for a in self.alloc if a[7] & bit]
        return DayRollup(self.day, self.cluster, self.cluster_name, self.prism_central,
                         FULL_DAY, self.projects, self.cats, self.hosts, self.vms, alloc)


class RollupBuilder:
    """Folds hourly snapshots into one cluster's day; idempotent per hour."""

    def __init__(self, day: date, cluster: str, rollup: DayRollup | None = None) -> None:
        self.day, self.cluster = day, cluster
        self.cluster_name = rollup.cluster_name if rollup else ""
        self.prism_central = rollup.prism_central if rollup else ""
        self.hours = rollup.hours if rollup else 0
        self.projects: dict[str, str] = dict(rollup.projects) if rollup else {}
        # (ext_id, on, host, vcpus, memory_mib, disk_gib, cats) -> mask
        self.alloc: dict[tuple, int] = {}
        # ext_id -> (name, project, cats, created, hour seen)
        self.idents: dict[str, tuple] = {}
        if rollup:
            for vm_i, on, host_i, vcpus, mem, disk, cat_i, mask in rollup.alloc:
                ext_id = rollup.vms[vm_i][0]
                key = (ext_id, on, rollup.hosts[host_i] if host_i >= 0 else "", vcpus, mem,
                       disk, rollup.cats[cat_i])
                self.alloc[key] = self.alloc.get(key, 0) | mask
            last = rollup.last_hour
            for ext_id, name, project, cat_i, created in rollup.vms:
                self.idents[ext_id] = (name, project, rollup.cats[cat_i], created, last)

    def add_hour(self, hour: int, rows: Iterable[VmRow], *, cluster_name: str = "",
                 projects: Mapping[str, str] | None = None, prism_central: str = "") -> None:
        bit = 1 << hour
        if self.hours & bit:  # the same hour again (a retried run): replace, never add
            self.alloc = {k: m & ~bit for k, m in self.alloc.items() if m & ~bit}
        self.hours |= bit
        if hour >= self.hours.bit_length() - 1:
            self.cluster_name = cluster_name or self.cluster_name
            self.prism_central = prism_central or self.prism_central
        self.projects.update(projects or {})
        alloc, idents = self.alloc, self.idents
        for r in rows:
            key = (r.ext_id, 1 if r.power_state == "ON" else 0, r.host, r.vcpus, r.memory_mib,
                   r.disk_gib, r.categories)
            alloc[key] = alloc.get(key, 0) | bit
            seen = idents.get(r.ext_id)
            if seen is None or hour >= seen[4]:
                idents[r.ext_id] = (r.name, r.project, r.categories, r.created, hour)

    def build(self) -> DayRollup:
        """Tables hold only what the allocations use: a replaced hour leaves nothing behind."""
        cats: dict[tuple, int] = {}
        hosts: dict[str, int] = {}
        vm_index: dict[str, int] = {}
        vms: list[list] = []
        alloc: list[list] = []
        used_projects: set[str] = set()
        for (ext_id, on, host, vcpus, mem, disk, vm_cats), mask in sorted(self.alloc.items()):
            vm_i = vm_index.get(ext_id)
            if vm_i is None:
                name, project, ident_cats, created, _ = self.idents[ext_id]
                vm_i = vm_index[ext_id] = len(vms)
                vms.append([ext_id, name, project, cats.setdefault(ident_cats, len(cats)),
                            created])
                used_projects.add(project)
            host_i = hosts.setdefault(host, len(hosts)) if host else -1
            alloc.append([vm_i, on, host_i, vcpus, mem, disk,
                          cats.setdefault(vm_cats, len(cats)), mask])
        projects = {k: v for k, v in self.projects.items() if k in used_projects}
        return DayRollup(self.day, self.cluster, self.cluster_name, self.prism_central,
                         self.hours, projects, list(cats), list(hosts), vms, alloc)


def load_rollup(store: StateStore, day: date, cluster: str) -> DayRollup | None:
    key = daily_key(day, cluster)
    raw = store.get(key)
    return None if raw is None else DayRollup.from_bytes(raw, key)


def write_rollup(store: StateStore, rollup: DayRollup) -> int:
    raw = rollup.to_bytes()
    store.put(daily_key(rollup.day, rollup.cluster), raw)
    return len(raw)


def _by_cluster(snap: Snapshot) -> dict[str, list[VmRow]]:
    rows: dict[str, list[VmRow]] = {c: [] for c in snap.clusters}
    for row in snap.rows:
        if row.cluster:
            rows.setdefault(row.cluster, []).append(row)
    return rows


def _fold(builder: RollupBuilder, snap: Snapshot, rows: list[VmRow]) -> None:
    builder.add_hour(snap.hour.hour, rows, cluster_name=snap.clusters.get(builder.cluster, ""),
                     projects=snap.projects, prism_central=snap.prism_central)


def _recorded_hours(store: StateStore, day: date) -> list[int]:
    hours = []
    for key in store.list(f"{HOURLY_PREFIX}{day.isoformat()}/"):
        stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
        if stem.isdigit() and 0 <= int(stem) < 24:
            hours.append(int(stem))
    return sorted(hours)


def record(store: StateStore, snap: Snapshot) -> dict:
    """Write the hour's snapshot and fold it into each cluster's day; idempotent."""
    write_hourly(store, snap)
    day = snap.hour.date()
    missed: list[Snapshot] = []
    per_cluster = _by_cluster(snap)
    builders = {c: RollupBuilder(day, c, load_rollup(store, day, c)) for c in per_cluster}
    covered = FULL_DAY
    for builder in builders.values():
        covered &= builder.hours
    for hour in _recorded_hours(store, day):  # heal a fold lost to a concurrent run
        if hour != snap.hour.hour and not covered & (1 << hour):
            other = read_hourly(store, snap.hour.replace(hour=hour))
            if other is not None:
                missed.append(other)
    rollup_bytes = 0
    for cluster, builder in builders.items():
        for other in missed:
            if not builder.hours & (1 << other.hour.hour):
                _fold(builder, other, [r for r in other.rows if r.cluster == cluster])
        _fold(builder, snap, per_cluster[cluster])
        rollup_bytes += write_rollup(store, builder.build())
    latest = store.get_json(LATEST_KEY) or {}
    if f"{snap.hour:%Y-%m-%dT%H}" >= str(latest.get("hour", "")):
        store.put_json(LATEST_KEY, {"hour": f"{snap.hour:%Y-%m-%dT%H}",
                                    "clusters": sorted(snap.clusters)})
    return {"hour": f"{snap.hour:%Y-%m-%dT%H}", "vms": len(snap.rows),
            "clusters": len(builders), "rollup_bytes": rollup_bytes}


def rebuild_day(store: StateStore, day: date) -> list[DayRollup]:
    """The day's rollups from its hourly snapshots alone (repair, and compaction)."""
    builders: dict[str, RollupBuilder] = {}
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for hour in _recorded_hours(store, day):
        snap = read_hourly(store, start.replace(hour=hour))
        if snap is None:
            continue
        for cluster, rows in _by_cluster(snap).items():
            builder = builders.setdefault(cluster, RollupBuilder(day, cluster))
            _fold(builder, snap, rows)
    rollups = [b.build() for b in builders.values()]
    for rollup in rollups:
        write_rollup(store, rollup)
    return rollups


def compact(store: StateStore, today: date, keep_days: int) -> int:
    """Delete hourly snapshots older than `keep_days` whose day has rollups; returns count."""
    days: dict[str, list[str]] = {}
    for key in store.list(HOURLY_PREFIX):
        days.setdefault(key[len(HOURLY_PREFIX):].split("/", 1)[0], []).append(key)
    deleted = 0
    for text, keys in sorted(days.items()):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            continue
        if day >= today - timedelta(days=keep_days):
            continue
        if next(iter(store.list(f"{DAILY_PREFIX}{text}/")), None) is None:
            rebuild_day(store, day)
        for key in keys:
            store.delete(key)
            deleted += 1
    if deleted:
        log.info("compacted hourly snapshots", extra={"count": deleted})
    return deleted


# -- reading back ----------------------------------------------------------------------


def clusters_in_month(store: StateStore, month: str) -> dict[str, str]:
    """Clusters with any rollup in `month` (YYYY-MM) -> the day of their last one."""
    seen: dict[str, str] = {}
    for key in store.list(f"{DAILY_PREFIX}{month}-"):
        day, _, name = key[len(DAILY_PREFIX):].partition("/")
        seen[name.split(".", 1)[0]] = max(day, seen.get(name.split(".", 1)[0], ""))
    return seen


def first_day(store: StateStore) -> date | None:
    """The first day with any rollup (keys are listed in order)."""
    for key in store.list(DAILY_PREFIX):
        try:
            return date.fromisoformat(key[len(DAILY_PREFIX):].split("/", 1)[0])
        except ValueError:
            continue
    return None


def latest_rollup(store: StateStore, cluster: str, *, not_after: date) -> DayRollup | None:
    """The cluster's most recent rollup up to `not_after`: today's allocation."""
    latest = store.get_json(LATEST_KEY) or {}
    try:
        day = date.fromisoformat(str(latest.get("hour", ""))[:10])
    except ValueError:
        day = None
    if day is not None and day <= not_after and cluster in latest.get("clusters", []):
        rollup = load_rollup(store, day, cluster)
        if rollup is not None:
            return rollup
    suffix = f"/{cluster}.json.gz"
    best = None
    for key in store.list(DAILY_PREFIX):
        if key.endswith(suffix):
            text = key[len(DAILY_PREFIX):].split("/", 1)[0]
            if text <= not_after.isoformat():
                best = text
    return load_rollup(store, date.fromisoformat(best), cluster) if best else None


def rollup_from_rows(day: date, hour: int, cluster: str, rows: Iterable[VmRow], *,
                     cluster_name: str = "", projects: Mapping[str, str] | None = None
                     ) -> DayRollup:
    """A one-hour rollup built in memory (a live read when nothing was recorded)."""
    builder = RollupBuilder(day, cluster)
    builder.add_hour(hour, [r for r in rows if r.cluster == cluster],
                     cluster_name=cluster_name, projects=projects)
    return builder.build()


class StoredDays:
    """A cluster's rollups read from the store one day at a time (what `compute` asks).

    Days after `today`, and days whose rollup holds no hour, have none. Only
    the day being priced is in memory: a month never is.
    """

    def __init__(self, store: StateStore, cluster: str, today: date) -> None:
        self.store, self.cluster, self.today = store, cluster, today

    def get(self, day: date) -> DayRollup | None:
        if day > self.today:
            return None
        rollup = load_rollup(self.store, day, self.cluster)
        return rollup if rollup is not None and rollup.hours else None
