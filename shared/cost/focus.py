"""Computed costs as FinOps FOCUS 1.0 CSV, so FinOps tools read Nutanix showback too.

Owns the column set (FOCUS 1.0 names, in the specification's order) and the
mapping of one cost row to it. Showback has no invoice and no discounts:
BilledCost = EffectiveCost = ListCost = ContractedCost, ChargeCategory is
`Usage`, and commitment and capacity-reservation columns stay empty (null).
`x_Estimated` (FOCUS allows `x_` custom columns) marks days priced from
today's allocation because no snapshot existed. Writing is streamed into a
gzip buffer: a month of 20,000 VMs is millions of rows.
"""

from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
from collections.abc import Iterable
from datetime import date

from shared.cost import USAGE_TYPES
from shared.cost.compute import CostRows, labels

COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId",
    "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
    "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    "x_Estimated",
)
SERVICE_CATEGORY = {"vcpu": "Compute", "memory": "Compute", "storage": "Storage",
                    "host_share": "Compute"}
DESCRIPTION = {"vcpu": "vCPU hours", "memory": "memory GiB hours",
               "storage": "provisioned disk GiB days", "host_share": "share of host hours"}


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def period(month: str) -> tuple[str, str]:
    """BillingPeriodStart, BillingPeriodEnd (exclusive) of `YYYY-MM`."""
    year, mon = int(month[:4]), int(month[5:7])
    first = date(year, mon, 1)
    last = date(year, mon, calendar.monthrange(year, mon)[1])
    return _iso(first), _iso(_next_day(last))


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def iter_records(costs: CostRows, month: str, *, account_id: str,
                 account_name: str) -> Iterable[list[str]]:
    """One CSV record (column order of COLUMNS) per cost row."""
    start, end = period(month)
    vm_cols = []
    for vm in costs.vms:
        tags, _ = labels(vm)
        vm_cols.append((vm[0], vm[1] or vm[0], vm[2], vm[3],
                        json.dumps(tags, separators=(",", ":"), ensure_ascii=False)))
    day_cols = []
    estimated = set(costs.estimated)
    for i, text in enumerate(costs.days):
        day = date.fromisoformat(text)
        day_cols.append((_iso(day), _iso(_next_day(day)), "true" if i in estimated else "false"))
    region_name = costs.cluster_name or costs.cluster
    for vm_i, day_i, type_i, qty, cost in costs.iter_rows():
        ext_id, name, project, project_name, tags = vm_cols[vm_i]
        usage_type, unit = USAGE_TYPES[type_i]
        charge_start, charge_end, est = day_cols[day_i]
        price = _num(cost / qty) if qty else "0"
        cost_text, qty_text = _num(cost), _num(qty)
        yield ["", cost_text, account_id, account_name, costs.currency, end, start, "Usage",
               "", f"{DESCRIPTION[usage_type]} of VM {name}", "Usage-Based", charge_end,
               charge_start, "", "", "", "", "", qty_text, unit, cost_text, price, cost_text,
               account_name, cost_text, price, "Standard", qty_text, unit, "Nutanix",
               "Nutanix", costs.cluster, region_name, ext_id, name, "Virtual Machine",
               SERVICE_CATEGORY[usage_type], "Nutanix AHV", usage_type,
               f"{usage_type}:{costs.cluster}", project, project_name, tags, est]


class FocusWriter:
    """Gzipped CSV built in memory, row by row; `finish()` returns the bytes."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._gzip = gzip.GzipFile(fileobj=self._buffer, mode="wb", mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text)
        self._csv.writerow(COLUMNS)
        self.rows = 0

    def write(self, costs: CostRows, month: str, *, account_id: str,
              account_name: str) -> None:
        for record in iter_records(costs, month, account_id=account_id,
                                   account_name=account_name):
            self._csv.writerow(record)
            self.rows += 1

    def finish(self) -> bytes:
        self._text.flush()
        self._text.detach()
        self._gzip.close()
        return self._buffer.getvalue()
