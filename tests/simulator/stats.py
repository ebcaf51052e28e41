"""Deterministic metric series and the two v4 stats shapes (vmm tuples, clustermgmt arrays).

Every series is a pure function of (entity, metric, time) at a base resolution
of BASE_S = 30 seconds, so a test can recompute any answer by hand:

    u(key)  = int.from_bytes(sha256(key.encode()).digest()[:8], "big") / 2**64
    sampled metric at base time t (epoch seconds, a multiple of 30):
              value(t) = lo + floor((hi - lo) * u(f"{extId}|{metric}|{t}"))
    constant metric (capacities, slowly changing values):
              value    = lo + floor((hi - lo) * u(f"{extId}|{metric}"))

`lo`/`hi` per metric are in VM_METRICS / CLUSTER_METRICS / HOST_METRICS; a
bound given as a function takes the record (capacities come from the
inventory: a VM's `diskCapacityBytes` is the sum of its data disks, a host's
`memoryCapacityBytes` its memory, `cpuCapacityHz` frequency x cores). `sample()`
evaluates the formula.

A request (`$startTime`, `$endTime`, `$samplingInterval` S, `$statType`) is
answered with one bucket per multiple of S inside [start, end] that is not in
the future; S is rounded up to a multiple of 30 (default 30). Bucket T
aggregates the S/30 base points T-S+30, ..., T with `$statType`: AVG (integer
mean, halves rounded up), MIN, MAX, SUM, COUNT (number of base points), LAST
(the point at T). clustermgmt lists each metric's buckets newest first; vmm
sends one tuple per bucket, oldest first, after two configuration tuples
(`cluster`/`hypervisorType`, and `memoryReservedBytes` while ON) stamped with
the VM's update time, as recorded. Powered-off VMs get no sampled tuples.
Host `memoryCapacityBytes`/`cpuCapacityHz` come back as one point stamped with
the host boot time (spec nutanix/v4.md section 7, fixture v4-host-stats.json).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.simulator.inventory import ClusterRecord, HostRecord, Inventory, VmRecord, parse_iso

BASE_S = 30
STAT_TYPES = ("AVG", "MIN", "MAX", "SUM", "COUNT", "LAST")
MAX_BUCKETS = 20_000

Bound = int | Callable[[Any, Inventory], int]


def _vm_disks(vm: VmRecord, inv: Inventory) -> int:
    return sum(d.size_bytes for d in vm.data_disks)


# metric -> (constant?, lo, hi)
VM_METRICS: dict[str, tuple[bool, Bound, Bound]] = {
    "hypervisorCpuUsagePpm": (False, 10_000, 900_000),
    "hypervisorCpuReadyTimePpm": (False, 0, 5_000),
    "numVcpusUsedPpm": (False, 10_000, 2_000_000),
    "memoryUsagePpm": (False, 100_000, 950_000),
    "guestMemoryUsagePpm": (False, 100_000, 990_000),
    "hypervisorMemoryUsagePpm": (False, 500_000, 1_000_000),
    "controllerNumIops": (False, 0, 2_000),
    "controllerNumReadIops": (False, 0, 1_000),
    "controllerNumWriteIops": (False, 0, 1_000),
    "controllerAvgIoLatencyMicros": (False, 100, 5_000),
    "controllerAvgReadIoLatencyMicros": (False, 100, 5_000),
    "controllerAvgWriteIoLatencyMicros": (False, 100, 5_000),
    "controllerIoBandwidthKbps": (False, 0, 200_000),
    "controllerReadIoBandwidthKbps": (False, 0, 100_000),
    "controllerWriteIoBandwidthKbps": (False, 0, 100_000),
    "hypervisorNumReceivedBytes": (False, 0, 50_000_000),
    "hypervisorNumTransmittedBytes": (False, 0, 50_000_000),
    "controllerUserBytes": (True, 0, _vm_disks),
    "diskUsagePpm": (True, 50_000, 900_000),
    "diskCapacityBytes": (True, _vm_disks, _vm_disks),
}


def _storage(record: Any, inv: Inventory) -> int:
    hosts = [record] if isinstance(record, HostRecord) else [
        inv.find("hosts", h) for h in record.host_ext_ids]
    return sum(d.size_bytes for h in hosts if h for d in h.disks)


CLUSTER_METRICS: dict[str, tuple[bool, Bound, Bound]] = {
    "controllerAvgIoLatencyUsecs": (False, 200, 3_000),
    "controllerAvgReadIoLatencyUsecs": (False, 150, 2_500),
    "controllerAvgWriteIoLatencyUsecs": (False, 200, 3_500),
    "controllerNumIops": (False, 10, 50_000),
    "hypervisorCpuUsagePpm": (False, 50_000, 800_000),
    "aggregateHypervisorMemoryUsagePpm": (False, 200_000, 900_000),
    "controllerNumReadIops": (False, 0, 25_000),
    "controllerNumWriteIops": (False, 0, 25_000),
    "ioBandwidthKbps": (False, 100, 2_000_000),
    "controllerReadIoBandwidthKbps": (False, 0, 1_000_000),
    "controllerWriteIoBandwidthKbps": (False, 0, 1_000_000),
    "storageUsageBytes": (False, lambda r, inv: _storage(r, inv) // 10,
                          lambda r, inv: _storage(r, inv) * 6 // 10),
    "storageCapacityBytes": (True, _storage, _storage),
    "freePhysicalStorageBytes": (False, lambda r, inv: _storage(r, inv) * 4 // 10,
                                 lambda r, inv: _storage(r, inv) * 9 // 10),
    "logicalStorageUsageBytes": (False, lambda r, inv: _storage(r, inv) // 10,
                                 lambda r, inv: _storage(r, inv) * 7 // 10),
    "healthCheckScore": (False, 90, 101),
}
HOST_METRICS = dict(CLUSTER_METRICS)
# one point at boot time, outside any window (fixture v4-host-stats.json)
HOST_SINGLE_POINT: dict[str, Callable[[HostRecord], int]] = {
    "memoryCapacityBytes": lambda h: h.memory_bytes,
    "cpuCapacityHz": lambda h: h.cpu_frequency_hz * h.num_cores,
}


class StatsError(ValueError):
    """A stats query the simulator rejects with 400 (message names the parameter)."""

    def __init__(self, attribute: str, message: str) -> None:
        super().__init__(message)
        self.attribute = attribute


def unit(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def _bound(bound: Bound, record: Any, inv: Inventory) -> int:
    return bound(record, inv) if callable(bound) else bound


def sample(inv: Inventory, record: Any, metric: str, t: int) -> int:
    """The base-resolution value of `metric` for `record` at epoch second t (see module doc)."""
    table = VM_METRICS if isinstance(record, VmRecord) else (
        HOST_METRICS if isinstance(record, HostRecord) else CLUSTER_METRICS)
    constant, lo, hi = table[metric]
    lo, hi = _bound(lo, record, inv), _bound(hi, record, inv)
    key = f"{record.ext_id}|{metric}" if constant else f"{record.ext_id}|{metric}|{t}"
    return lo + math.floor((hi - lo) * unit(key))


def aggregate(values: list[int], stat_type: str) -> int:
    if stat_type == "AVG":
        return (2 * sum(values) + len(values)) // (2 * len(values))
    if stat_type == "MIN":
        return min(values)
    if stat_type == "MAX":
        return max(values)
    if stat_type == "SUM":
        return sum(values)
    if stat_type == "COUNT":
        return len(values)
    return values[-1]  # LAST


class Query:
    """The parsed `$startTime`, `$endTime`, `$samplingInterval`, `$statType`, `$select`."""

    def __init__(self, params: Callable[..., str | None], now: float | None = None) -> None:
        self.start = self._time(params("$startTime"), "$startTime")
        self.end = self._time(params("$endTime"), "$endTime")
        if self.end < self.start:
            raise StatsError("$endTime", "$endTime must not be before $startTime")
        interval = params("$samplingInterval") or str(BASE_S)
        if not interval.isdigit() or int(interval) < 1:
            raise StatsError("$samplingInterval", "$samplingInterval must be a positive integer")
        self.interval = math.ceil(int(interval) / BASE_S) * BASE_S
        self.stat_type = (params("$statType") or "AVG").upper()
        if self.stat_type not in STAT_TYPES:
            raise StatsError("$statType", f"$statType must be one of {', '.join(STAT_TYPES)}")
        select = (params("$select") or "*").replace(" ", "")
        self.select = None if select == "*" else set(select.split(","))
        now_s = int(now if now is not None else time.time())
        first = math.ceil(self.start / self.interval) * self.interval
        last = min(self.end, now_s) // self.interval * self.interval
        if (last - first) // self.interval > MAX_BUCKETS:
            raise StatsError("$samplingInterval", "too many samples for this window")
        self.buckets = list(range(first, last + 1, self.interval))

    @staticmethod
    def _time(value: str | None, name: str) -> int:
        if not value:
            raise StatsError(name, f"{name} is required")
        try:
            return math.floor(parse_iso(value).timestamp())
        except ValueError:
            raise StatsError(name, f"{name} is not an ISO-8601 time") from None

    def wants(self, metric: str) -> bool:
        return self.select is None or metric in self.select

    def series(self, inv: Inventory, record: Any, metric: str) -> list[tuple[int, int]]:
        """(bucket time, aggregated value) oldest first."""
        points = []
        for bucket in self.buckets:
            values = [sample(inv, record, metric, t)
                      for t in range(bucket - self.interval + BASE_S, bucket + 1, BASE_S)]
            points.append((bucket, aggregate(values, self.stat_type)))
        return points


def stamp(epoch_s: int | float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def vm_tuples(inv: Inventory, vm: VmRecord, query: Query) -> list[dict]:
    """vmm `stats[]`: configuration tuples, then one tuple per bucket (no annotations)."""
    config_time = vm.update_time.timestamp()
    tuples: list[dict] = []
    if query.select is None or query.select & {"cluster", "hypervisorType"}:
        tuples.append({"timestamp": stamp(config_time), "cluster": vm.cluster_ext_id,
                       "hypervisorType": "kKvm"})
    if vm.power_state != "ON":
        return tuples
    if query.wants("memoryReservedBytes"):
        tuples.append({"timestamp": stamp(config_time + 11), "memoryReservedBytes":
                       vm.memory_bytes})
    metrics = [m for m in VM_METRICS if query.wants(m)]
    columns = {m: dict(query.series(inv, vm, m)) for m in metrics}
    for bucket in query.buckets:
        tuples.append({"timestamp": stamp(bucket), **{m: columns[m][bucket] for m in metrics}})
    return tuples


def entity_series(inv: Inventory, record: ClusterRecord | HostRecord,
                  query: Query) -> dict[str, list[tuple[str, int]]]:
    """clustermgmt metrics: name -> [(timestamp, value)] newest first; empty series omitted."""
    table = HOST_METRICS if isinstance(record, HostRecord) else CLUSTER_METRICS
    result = {}
    for metric in table:
        if query.wants(metric) and query.buckets:
            result[metric] = [(stamp(t), v) for t, v in reversed(query.series(inv, record, metric))]
    if isinstance(record, HostRecord):
        for metric, read in HOST_SINGLE_POINT.items():
            if query.wants(metric):
                result[metric] = [(stamp(record.boot_time_usecs / 1e6), read(record))]
    return result
