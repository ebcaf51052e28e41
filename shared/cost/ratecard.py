"""The rate card: the options schema `init` publishes, and prices read from options.

One schema, both uses (STYLE section 6): `OPTIONS_SCHEMA` goes into init
metadata as `options_schema` and checks what arrives; `parse` adds what a
JSON schema cannot say (finite numbers, `Key:Value` category names) and
reports every problem at once as InvalidInput.

Pricing rules (the arithmetic lives in `compute.py`):

- vCPU and memory are charged per hour while a VM is powered on;
- provisioned disk is charged every hour the VM exists, on or off, at
  `storage_gib_month` spread evenly over the days of the month;
- `host_month` is a flat price per host spread, hour by hour, over the VMs
  running on it (equally, or by vCPUs with `host_share_by: vcpus`);
- `cluster_rates` replaces any of the four prices for a cluster (by ext_id
  or name); `category_multipliers` scales vCPU, memory and storage of a VM
  in a category (`Environment:Production: 1.5`); several factors multiply.
  A host's share is not scaled: it allocates a fixed cost and must add up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import InvalidInput
from shared.validation import problems, with_defaults

PRICES: dict[str, str] = {
    "vcpu_hour": "Price of one vCPU for one hour of a powered-on VM",
    "memory_gib_hour": "Price of one GiB of memory for one hour of a powered-on VM",
    "storage_gib_month": "Price of one GiB of provisioned disk for one month (charged per day)",
    "host_month": "Flat price of one host per month, spread over the VMs running on it",
}
REQUIRED_PRICES = ("vcpu_hour", "memory_gib_hour", "storage_gib_month")
_PRICE = {"type": "number", "minimum": 0}

CLUSTER_RATES_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {name: {**_PRICE, "title": text} for name, text in PRICES.items()},
}

OPTIONS_SCHEMA: dict = {
    "type": "object",
    "required": list(REQUIRED_PRICES),
    "properties": {
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "USD",
                     "title": "Currency", "description": "ISO 4217 code, e.g. USD, EUR, KRW"},
        **{name: {**_PRICE, "title": text} for name, text in PRICES.items()},
        "host_share_by": {"type": "string", "enum": ["vms", "vcpus"], "default": "vms",
                          "title": "Spread host_month over VMs equally, or by vCPUs"},
        "cluster_rates": {"type": "object", "additionalProperties": CLUSTER_RATES_SCHEMA,
                          "title": "Per-cluster prices",
                          "description": "cluster ext_id or name -> prices that replace the "
                                         "defaults, e.g. {\"cluster-02\": {\"vcpu_hour\": 0.03}}"},
        "category_multipliers": {"type": "object",
                                 "additionalProperties": {**_PRICE},
                                 "title": "Per-category factors",
                                 "description": "\"Key:Value\" -> factor on vCPU, memory and "
                                                "storage, e.g. {\"Environment:Production\": 1.5}"},
        "account_by": {"type": "string", "enum": ["cluster", "project"], "default": "cluster",
                       "title": "Linked accounts are Prism clusters or Nutanix projects"},
        "use_account_routing": {"type": "boolean", "default": False,
                                "title": "Route costs to workspaces by linked account"},
        "backfill_months": {"type": "integer", "minimum": 0, "maximum": 11, "default": 0,
                            "title": "Months before the current one sent by the first sync"},
        "export_focus": {"type": "boolean", "default": False,
                         "title": "Export each finished month as FOCUS CSV to the state store"},
        "api": {"type": "string", "enum": ["auto", "v4", "v3"], "default": "auto",
                "title": "Prism API"},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8,
                        "title": "Concurrent Prism requests"},
    },
}


@dataclass(frozen=True, slots=True)
class Rates:
    vcpu_hour: float
    memory_gib_hour: float
    storage_gib_month: float
    host_month: float = 0.0


@dataclass(frozen=True)
class RateCard:
    currency: str
    default: Rates
    clusters: Mapping[str, Rates] = field(default_factory=dict)  # ext_id or name -> Rates
    multipliers: Mapping[tuple[str, str], float] = field(default_factory=dict)
    host_share_by: str = "vms"
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)  # validated

    def rates_for(self, cluster_ext_id: str, cluster_name: str = "") -> Rates:
        """A cluster's prices: by ext_id first (names can change), then by name."""
        return (self.clusters.get(cluster_ext_id) or self.clusters.get(cluster_name)
                or self.default)

    def multiplier(self, categories: Iterable[tuple[str, str]]) -> float:
        factor = 1.0
        for pair in categories:
            factor *= self.multipliers.get(tuple(pair), 1.0)
        return factor


def _finite(value: Any, path: str, found: list[str]) -> None:
    """Struct numbers are doubles: NaN and infinity pass a JSON schema's minimum."""
    if isinstance(value, float) and not math.isfinite(value):
        found.append(f"{path}: must be a finite number")


def _extra_problems(opts: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name in PRICES:
        _finite(opts.get(name), name, found)
    clusters = opts.get("cluster_rates")
    if isinstance(clusters, Mapping):
        for key, prices in clusters.items():
            if not str(key).strip():
                found.append("cluster_rates: cluster names must not be empty")
            if isinstance(prices, Mapping):
                for name, value in prices.items():
                    _finite(value, f"cluster_rates.{key}.{name}", found)
    factors = opts.get("category_multipliers")
    if isinstance(factors, Mapping):
        for key, value in factors.items():
            name, sep, val = str(key).partition(":")
            if not sep or not name.strip() or not val.strip():
                found.append(f"category_multipliers.{key}: name must be Key:Value, "
                             "e.g. Environment:Production")
            _finite(value, f"category_multipliers.{key}", found)
    return found


def check(options: Mapping[str, Any] | None) -> dict:
    """Validated options with defaults, or InvalidInput listing every problem."""
    opts = dict(options or {})
    found = problems(OPTIONS_SCHEMA, opts)
    found += [p for p in _extra_problems(opts) if p not in found]
    if found:
        raise InvalidInput("invalid rate card options", found)
    return with_defaults(OPTIONS_SCHEMA, opts)


def _rates(prices: Mapping[str, Any], base: Rates) -> Rates:
    return Rates(**{name: float(prices.get(name, getattr(base, name))) for name in PRICES})


def parse(options: Mapping[str, Any] | None) -> RateCard:
    """The rate card in `options` (CloudForet's data source options)."""
    opts = check(options)
    default = _rates(opts, Rates(0.0, 0.0, 0.0, 0.0))
    clusters = {str(key): _rates(prices, default)
                for key, prices in (opts.get("cluster_rates") or {}).items()}
    multipliers = {}
    for key, value in (opts.get("category_multipliers") or {}).items():
        name, _, val = str(key).partition(":")
        multipliers[(name.strip(), val.strip())] = float(value)
    return RateCard(currency=opts["currency"], default=default, clusters=clusters,
                    multipliers=multipliers, host_share_by=opts["host_share_by"], options=opts)


def pricing_options(opts: Mapping[str, Any]) -> dict:
    """The part of validated options that prices costs: what a periodic export reuses."""
    keys = ("currency", *PRICES, "host_share_by", "cluster_rates", "category_multipliers",
            "export_focus")
    return {k: opts[k] for k in keys if k in opts}
