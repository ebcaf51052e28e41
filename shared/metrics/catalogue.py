"""The metric catalogue: CloudForet metric keys, the Prism stat each reads, and units.

One `Metric` per CloudForet key; its `sources` name the Prism stat per
entity type (`vm` from vmm, `host`/`cluster` from clustermgmt: the same
quantity has different names there, spec nutanix/v4.md section 7). Values
are converted from Prism's unit to what people read, stated in
`MetricInfo.unit.y` (CloudWatch's unit names, as the reference plugin):

    ...Ppm               parts per million   / 10,000   Percent
    ...Micros, ...Usecs  microseconds        / 1,000    Milliseconds
    ...Kbps              KiB per second      x 1,024    Bytes/Second (1)
    ...Iops              operations/second   x 1        Count/Second
    hypervisorNum{Received,Transmitted}Bytes
                         bytes per sample    / 30       Bytes/Second (2)

(1) Prism's "kilobytes" are KiB: in `v4-vm-stats.json` a read is
`controllerAvgReadIoSizeKb: 4` (a 4 KiB block) and bandwidth equals
`controllerTotalIoSizeKb / 30 s`.
(2) The VM network counters count bytes per native 30 s sample
(`hypervisorTimespanMicros` ~ 30,000,000 beside them in the fixture).

Every conversion is linear, so it commutes with Prism's aggregation: the
stat (AVERAGE, MAX, MIN, SUM) is computed by Prism (`$statType`) over its
30 s samples, and SUM is the sum of those samples in the converted unit.

Not in the catalogue: packet counts (v4 VM stats carry only dropped
packets, hosts and clusters no network stats at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInput
from shared.mapping.inventory import METRIC_QUERY_KEY, PROVIDER

ENTITY_TYPES = ("vm", "host", "cluster")
# CloudForet stat -> Prism `$statType` (SDK DownSamplingOperator)
STATS = {"AVERAGE": "AVG", "MAX": "MAX", "MIN": "MIN", "SUM": "SUM"}
DEFAULT_STAT = "AVERAGE"

OPTIONS_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8,
                        "title": "Concurrent Prism requests per get_data call"},
    },
}


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    group: str
    unit: str  # MetricInfo.unit.y
    sources: Mapping[str, str]  # entity type -> Prism stat name
    multiply: int = 1  # ours = Prism's x multiply / divide (see the module doc)
    divide: int = 1
    digits: int | None = None  # rounding, for divisions that do not terminate

    def info(self, query: Mapping[str, Any]) -> dict:
        """A `MetricInfo`; `metric_query` comes back to get_data keyed by cloud service."""
        return {"key": self.key, "name": self.name, "group": self.group,
                "unit": {"x": "Timestamp", "y": self.unit}, "metric_query": dict(query)}


def _all(name: str) -> dict[str, str]:
    return dict.fromkeys(ENTITY_TYPES, name)


def _split(vm: str, entity: str) -> dict[str, str]:
    """vmm and clustermgmt name the same stat differently (`Micros` vs `Usecs`)."""
    return {"vm": vm, "host": entity, "cluster": entity}


PERCENT = {"unit": "Percent", "divide": 10_000}
MILLISECONDS = {"unit": "Milliseconds", "divide": 1_000}
BYTES_PER_SECOND = {"unit": "Bytes/Second", "multiply": 1_024}
PER_SAMPLE = {"unit": "Bytes/Second", "divide": 30, "digits": 3}
IOPS = {"unit": "Count/Second"}

METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("cpu_usage", "CPU usage", "CPU", sources=_all("hypervisorCpuUsagePpm"), **PERCENT),
    Metric("cpu_ready_time", "CPU ready time", "CPU",
           sources={"vm": "hypervisorCpuReadyTimePpm"}, **PERCENT),
    Metric("memory_usage", "Memory usage", "Memory",
           sources={"vm": "memoryUsagePpm", "host": "aggregateHypervisorMemoryUsagePpm",
                    "cluster": "aggregateHypervisorMemoryUsagePpm"}, **PERCENT),
    Metric("storage_iops", "Storage IOPS", "Storage", sources=_all("controllerNumIops"), **IOPS),
    Metric("storage_read_iops", "Storage read IOPS", "Storage",
           sources=_all("controllerNumReadIops"), **IOPS),
    Metric("storage_write_iops", "Storage write IOPS", "Storage",
           sources=_all("controllerNumWriteIops"), **IOPS),
    Metric("storage_latency", "Storage I/O latency", "Storage",
           sources=_split("controllerAvgIoLatencyMicros", "controllerAvgIoLatencyUsecs"),
           **MILLISECONDS),
    Metric("storage_read_latency", "Storage read latency", "Storage",
           sources=_split("controllerAvgReadIoLatencyMicros",
                            "controllerAvgReadIoLatencyUsecs"), **MILLISECONDS),
    Metric("storage_write_latency", "Storage write latency", "Storage",
           sources=_split("controllerAvgWriteIoLatencyMicros",
                            "controllerAvgWriteIoLatencyUsecs"), **MILLISECONDS),
    Metric("storage_bandwidth", "Storage I/O bandwidth", "Storage",
           sources=_split("controllerIoBandwidthKbps", "ioBandwidthKbps"), **BYTES_PER_SECOND),
    Metric("storage_read_bandwidth", "Storage read bandwidth", "Storage",
           sources=_all("controllerReadIoBandwidthKbps"), **BYTES_PER_SECOND),
    Metric("storage_write_bandwidth", "Storage write bandwidth", "Storage",
           sources=_all("controllerWriteIoBandwidthKbps"), **BYTES_PER_SECOND),
    Metric("network_received", "Network received", "Network",
           sources={"vm": "hypervisorNumReceivedBytes"}, **PER_SAMPLE),
    Metric("network_transmitted", "Network transmitted", "Network",
           sources={"vm": "hypervisorNumTransmittedBytes"}, **PER_SAMPLE),
)}


def metadata() -> dict:
    """`DataSource.init` metadata (spec cloudforet/monitoring.md A.1).

    `required_keys[0]` is where the inventory collector puts the metric
    query (`shared/mapping/inventory.py`); CloudForet rejects every Metric
    call when it is missing.
    """
    return {"supported_resource_type": ["inventory.CloudService"],
            "supported_stat": list(STATS), "supported_providers": [PROVIDER],
            "required_keys": [METRIC_QUERY_KEY], "options_schema": OPTIONS_SCHEMA}


@dataclass(frozen=True)
class Resource:
    """One cloud service's `data.prism_stats`: what a stats route needs."""

    entity_type: str
    ext_id: str
    cluster_ext_id: str | None = None


def resource(query: Any, where: str = "query") -> Resource:
    """The Prism entity of one metric query; InvalidInput naming every problem."""
    if not isinstance(query, Mapping) or not query:
        raise InvalidInput(f"invalid {where}", [
            f"{where} must be the cloud service's {METRIC_QUERY_KEY} object "
            "(collected with metrics on)"])
    problems = []
    entity_type, ext_id = query.get("entity_type"), query.get("ext_id")
    cluster = query.get("cluster_ext_id")
    if entity_type not in ENTITY_TYPES:
        problems.append(f"{where}.entity_type must be one of {', '.join(ENTITY_TYPES)}")
    if not isinstance(ext_id, str) or not ext_id.strip():
        problems.append(f"{where}.ext_id must be a non-empty string")
    if entity_type == "host" and (not isinstance(cluster, str) or not cluster.strip()):
        problems.append(f"{where}.cluster_ext_id is required for a host")
    if problems:
        raise InvalidInput(f"invalid {where}", problems)
    return Resource(entity_type, ext_id.strip(),
                    cluster.strip() if isinstance(cluster, str) and cluster.strip() else None)


def resources(metric_query: Any) -> dict[str, Resource]:
    """`{cloud_service_id: Resource}` of a get_data request, every problem at once."""
    if not isinstance(metric_query, Mapping) or not metric_query:
        raise InvalidInput("invalid metric_query",
                           ["metric_query must map cloud service ids to metric queries"])
    found, problems = {}, []
    for key, query in metric_query.items():
        try:
            found[key] = resource(query, f"metric_query.{key}")
        except InvalidInput as err:
            problems.extend(err.problems)
    if problems:
        raise InvalidInput("invalid metric_query", problems)
    return found


def for_entity(entity_type: str) -> list[Metric]:
    return [m for m in METRICS.values() if entity_type in m.sources]


def metric(key: Any, entity_types: set[str]) -> Metric:
    """The metric asked for, available for every entity type in the request."""
    found = METRICS.get(key) if isinstance(key, str) else None
    if found is None:
        raise InvalidInput(f"unknown metric {str(key)[:60]!r}",
                           [f"metric must be one of {', '.join(METRICS)}"])
    missing = sorted(entity_types - set(found.sources))
    if missing:
        raise InvalidInput(f"metric {found.key} is not available for {', '.join(missing)}",
                           [f"{t} metrics: {', '.join(m.key for m in for_entity(t))}"
                            for t in missing])
    return found


def stat(value: Any) -> str:
    """CloudForet's stat (absent: AVERAGE) as Prism's `$statType`."""
    name = value or DEFAULT_STAT
    if name not in STATS:
        raise InvalidInput(f"unsupported stat {str(name)[:20]!r}",
                           [f"stat must be one of {', '.join(STATS)}"])
    return STATS[name]
